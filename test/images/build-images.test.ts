/**
 * `npm run images` for real: every engine image built with buildah from its committed Dockerfile
 * on the local stand-in base image, tagged as the manifests reference it; an unchanged engine is
 * not rebuilt; a broken Dockerfile names the engine, the file and the failing step.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { runImagesCli } from '../../src/images/cli';
import { buildImage, detectBuilder, ImageBuildError } from '../../src/images/image-builder';
import { readEngineTags } from '../../src/images/engine-sources';

const ROOT = path.resolve(__dirname, '..', '..');
const CONTAINERS_CONF = path.join(ROOT, 'scripts', 'images', 'containers.conf');
const env = { ...process.env, CONTAINERS_CONF };

// A cold build of every image takes about three minutes on two cores.
jest.setTimeout(15 * 60_000);

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  return runImagesCli(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, env: process.env })
    .then((code) => ({ code, stdout, stderr }));
}

function storeImages(): string[] {
  const result = spawnSync('buildah', ['images', '--format', '{{.Name}}:{{.Tag}}'], { encoding: 'utf8', env });
  expect(result.status).toBe(0);
  return result.stdout.split('\n');
}

describe('npm run images', () => {
  const tags = readEngineTags(ROOT, PLATFORM_ENGINES.map((e) => e.name));
  if (Array.isArray(tags)) throw new Error(`engine tags: ${JSON.stringify(tags)}`);

  test('builds every engine image under every environment registry, with the content tag the manifests use', async () => {
    const first = await cli('--base-stand-in');
    expect(first.stderr).not.toMatch(/failed/);
    expect(first.code).toBe(0);
    const images = storeImages();
    const missing = PLATFORM_ENGINES.flatMap((engine) => PLATFORM_ENVIRONMENTS.map((environment) =>
      `${environment.imageRegistry}/${engine.name}:${tags.get(engine.name)}`)).filter((ref) => !images.includes(ref));
    expect(missing).toEqual([]);
    // dev's manifests reference exactly these.
    const devEngines = fs.readFileSync(path.join(ROOT, 'dist', 'dev', '0004-engines.yaml'), 'utf8');
    for (const engine of PLATFORM_ENGINES.filter((e) => e.name !== 'ml-training')) {
      expect(devEngines).toContain(`image: registry.dev.nautilus.internal/nautilus/${engine.name}:${tags.get(engine.name)}`);
    }
  });

  test('an engine whose tagged image is in the store is not built again', async () => {
    const again = await cli();
    expect(again.code).toBe(0);
    const lines = again.stdout.split('\n').filter((line) => /sha-[0-9a-f]+/.test(line));
    expect(lines).toHaveLength(PLATFORM_ENGINES.length);
    expect(lines.filter((line) => !line.includes('already built'))).toEqual([]);
    expect(again.stdout).toMatch(new RegExp(`${PLATFORM_ENGINES.length} image\\(s\\), 0 built, ${PLATFORM_ENGINES.length} already built`));
  });

  test('the image runs its engine as uid 10001 on a read-only root, and Node is the Dockerfile\'s release', () => {
    const reference = `registry.dev.nautilus.internal/nautilus/risk-engine:${tags.get('risk-engine')}`;
    const run = (...args: string[]) => spawnSync('podman', ['run', '--rm', '--network=none', '--read-only', ...args], { encoding: 'utf8', env });
    const id = run('--entrypoint', 'id', reference, '-u');
    expect(id.stderr).toBe('');
    expect(id.stdout.trim()).toBe('10001');
    const node = run('--entrypoint', 'node', reference, '--version');
    expect(node.stdout.trim()).toBe('v20.20.2');
    // The compiled engine and the runtime's production dependencies are readable by that user.
    const readable = run('--entrypoint', 'node', reference, '-e', "require('/app/runtime/node_modules/ioredis'); require('fs').readFileSync('/app/risk-engine/main.js'); console.log('ok')");
    expect(readable.stderr).toBe('');
    expect(readable.stdout.trim()).toBe('ok');
  });

  test('a failing build names the engine, the Dockerfile and the failing step', async () => {
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-broken-image-'));
    try {
      fs.cpSync(path.join(ROOT, 'src', 'engines', 'runtime'), path.join(context, 'runtime'), {
        recursive: true, filter: (source) => !source.includes('node_modules'),
      });
      fs.cpSync(path.join(ROOT, 'src', 'engines', 'risk-engine'), path.join(context, 'risk-engine'), { recursive: true });
      const dockerfile = path.join(context, 'risk-engine', 'Dockerfile');
      fs.writeFileSync(dockerfile, fs.readFileSync(dockerfile, 'utf8')
        .replace('RUN runtime/node_modules/.bin/tsc', 'RUN runtime/node_modules/.bin/no-such-compiler'));
      const build = {
        engine: 'risk-engine', image: 'risk-engine', tag: 'sha-0000000000000000',
        context: path.relative(ROOT, context), dockerfile: path.relative(ROOT, dockerfile), platforms: 'linux/amd64',
      };
      const failure = await buildImage('buildah', {
        build, references: ['localhost/nautilus-broken/risk-engine:sha-0000000000000000'],
        repositoryRoot: ROOT, push: false, rebuild: true, env,
      }, new Set()).then(() => undefined, (error: unknown) => error);
      expect(failure).toBeInstanceOf(ImageBuildError);
      const message = (failure as Error).message;
      expect(message).toContain('image of risk-engine failed to build from');
      expect(message).toContain(path.relative(ROOT, dockerfile));
      expect(message).toMatch(/stage 1\/2, step 7\/8 \(RUN runtime\/node_modules\/\.bin\/no-such-compiler/);
      expect(message).toMatch(/no-such-compiler: not found/);
      // The failed build's container is removed with it.
      const containers = spawnSync('buildah', ['containers', '--format', '{{.ImageName}}'], { encoding: 'utf8', env });
      expect(containers.stdout.trim()).toBe('');
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
  });

  test('no builder on PATH: one message saying what is missing and how to get it', () => {
    const problems = detectBuilder({ PATH: '/nonexistent' });
    expect(problems).toEqual([expect.stringMatching(/neither Docker with buildx nor buildah is installed: .*scripts\/install-container-tools\.sh/)]);
  });

  test('an unknown engine or environment is refused before anything is built', async () => {
    const result = await cli('--engine', 'no-such-engine', '--environment', 'qa');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--environment qa: no such environment (known: dev, staging, prod)');
    expect(result.stderr).toContain('--engine no-such-engine: no such engine in the catalog');
  });
});
