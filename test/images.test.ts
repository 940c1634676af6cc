import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { contentTag, dockerfileContextSources, formatImageReference, resolveImage } from '../src/images/image-reference';
import { readBuildInput, readEngineTags } from '../src/images/engine-sources';
import { PLATFORM_ENVIRONMENTS } from '../src/environments/platform-environments';
import { PLATFORM_ENGINES, platformInput, synthObjects } from './support/platform';

describe('image references', () => {
  let root: string;
  const write = (file: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  };
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-images-'));
    write('src/engines/runtime/server.ts', 'export const runtime = 1;\n');
    for (const engine of ['alpha', 'beta']) {
      write(`src/engines/${engine}/Dockerfile`, [
        'FROM node:20.19.2-bookworm-slim AS build',
        'COPY --chown=10001:10001 runtime/ /app/runtime/',
        `COPY ["${engine}/", "/app/${engine}/"]`,
        'FROM node:20.19.2-bookworm-slim',
        'COPY --from=build /app /app',
      ].join('\n'));
      write(`src/engines/${engine}/main.ts`, `export const name = '${engine}';\n`);
    }
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const tags = () => readEngineTags(root, ['alpha', 'beta']) as Map<string, string>;

  test('COPY/ADD sources from the context are found; copies from other stages are not', () => {
    expect(dockerfileContextSources('COPY a b\nCOPY --from=build /x /y\nADD --chown=1:1 c \\\n d /e\nCOPY ["f g", "/h"]'))
      .toEqual(['a', 'c', 'd', 'f g']);
  });

  test('an engine\'s tag covers its Dockerfile, its own directory and the shared runtime it copies', () => {
    const input = readBuildInput(root, 'alpha');
    expect(Array.isArray(input) && input.map((f) => f.path)).toEqual(['alpha/Dockerfile', 'alpha/main.ts', 'runtime/server.ts']);
  });

  test('changing one engine\'s code changes that engine\'s tag and nothing else', () => {
    const before = tags();
    write('src/engines/alpha/main.ts', 'export const name = "alpha, changed";\n');
    const after = tags();
    expect(after.get('alpha')).not.toBe(before.get('alpha'));
    expect(after.get('beta')).toBe(before.get('beta'));
  });

  test('changing shared runtime code changes every engine that copies it', () => {
    const before = tags();
    write('src/engines/runtime/server.ts', 'export const runtime = 2;\n');
    const after = tags();
    expect(after.get('alpha')).not.toBe(before.get('alpha'));
    expect(after.get('beta')).not.toBe(before.get('beta'));
  });

  test('files the build context\'s .dockerignore leaves out (local installs and builds) do not change tags', () => {
    write('src/engines/.dockerignore', '**/node_modules\n**/*.js\n');
    const before = tags();
    write('src/engines/runtime/node_modules/left-pad/index.ts', 'export {};\n');
    write('src/engines/alpha/main.js', 'compiled();\n');
    expect(tags()).toEqual(before);
  });

  test('a ! exception inside an ignored directory is hashed, as Docker sends it; its ignored siblings are not', () => {
    write('src/engines/.dockerignore', '# generated at build time, except the schema\nruntime/generated\n!runtime/generated/schema.ts\n');
    write('src/engines/runtime/generated/schema.ts', 'export const schema = 1;\n');
    write('src/engines/runtime/generated/cache.ts', 'export const cache = 1;\n');
    const input = readBuildInput(root, 'alpha');
    expect(Array.isArray(input) && input.map((f) => f.path)).toEqual(['alpha/Dockerfile', 'alpha/main.ts', 'runtime/generated/schema.ts', 'runtime/server.ts']);
    const before = tags();
    write('src/engines/runtime/generated/cache.ts', 'export const cache = 2;\n');
    expect(tags()).toEqual(before);
    write('src/engines/runtime/generated/schema.ts', 'export const schema = 2;\n');
    const after = tags();
    expect(after.get('alpha')).not.toBe(before.get('alpha'));
    expect(after.get('beta')).not.toBe(before.get('beta'));
  });

  test('an ignored directory without exceptions inside it is not walked at all', () => {
    write('src/engines/.dockerignore', '**/node_modules\n!alpha/keep.ts\n');
    write('src/engines/runtime/node_modules/pkg/index.ts', 'export {};\n');
    // The fs module itself (the `import * as fs` namespace object cannot be spied on).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const readdir = jest.spyOn(require('fs') as typeof fs, 'readdirSync');
    try {
      const input = readBuildInput(root, 'alpha');
      expect(Array.isArray(input) && input.map((f) => f.path)).toEqual(['alpha/Dockerfile', 'alpha/main.ts', 'runtime/server.ts']);
      const walked = readdir.mock.calls.map(([dir]) => String(dir));
      expect(walked).toContain(path.join(root, 'src/engines/runtime'));
      expect(walked.filter((dir) => dir.includes('node_modules'))).toEqual([]);
    } finally {
      readdir.mockRestore();
    }
  });

  test('the tag is a pure function of content', () => {
    const input = readBuildInput(root, 'alpha');
    if (!Array.isArray(input)) throw new Error('expected input');
    expect(contentTag(input)).toBe(contentTag([...input].reverse()));
    expect(contentTag(input)).toMatch(/^sha-[0-9a-f]{16}$/);
  });

  test('an engine without a Dockerfile is a configuration problem naming the file and the fix', () => {
    const result = readEngineTags(root, ['alpha', 'gamma']);
    expect(Array.isArray(result) && result[0]).toMatchObject({ subject: 'gamma', value: 'src/engines/gamma/Dockerfile' });
  });

  test('the lock file pins a digest only for the content it was built from', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const lock = { alpha: { tag: 'sha-1111111111111111', digest } };
    expect(formatImageReference(resolveImage('alpha', 'r.example/n', 'sha-1111111111111111', lock)))
      .toBe(`r.example/n/alpha:sha-1111111111111111@${digest}`);
    expect(formatImageReference(resolveImage('alpha', 'r.example/n', 'sha-2222222222222222', lock)))
      .toBe('r.example/n/alpha:sha-2222222222222222');
  });
});

describe('image references of the real engines', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-engines-'));
    fs.cpSync(path.join(__dirname, '..', 'src', 'engines'), path.join(root, 'src', 'engines'), { recursive: true });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('editing one engine\'s directory changes exactly that engine\'s manifests, in every environment', () => {
    const names = PLATFORM_ENGINES.map((e) => e.name);
    const synthAll = () => {
      const tags = readEngineTags(root, names);
      if (!(tags instanceof Map)) throw new Error('every engine must have a Dockerfile');
      return PLATFORM_ENVIRONMENTS.map((env) => synthObjects(env, platformInput({ imageTags: tags })).map((o) => JSON.stringify(o)));
    };
    const before = synthAll();
    fs.appendFileSync(path.join(root, 'src', 'engines', 'market-data', 'main.ts'), '\n// changed\n');
    const after = synthAll();
    for (const [index, environment] of PLATFORM_ENVIRONMENTS.entries()) {
      const changed = after[index].filter((o, i) => o !== before[index][i]).map((o) => JSON.parse(o) as { kind: string; metadata: { name: string } });
      expect({ environment: environment.name, changed: changed.map((o) => `${o.kind}/${o.metadata.name}`) })
        .toEqual({ environment: environment.name, changed: ['Deployment/market-data'] });
    }
  });
});
