/**
 * `npm run synth` as a user meets it: the launcher `scripts/synth.js` (what `npm run synth` and
 * cdk8s.yaml's `app` run) in a copy of the repository, with mistakes put in. A configuration
 * failure or a type error prints the "synthesis failed" header and what to fix, never a stack
 * trace, exits 1, and leaves dist/ as it was. The compiled program is cached by the hash of its
 * sources: reused when nothing changed, recompiled when a source did.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPOSITORY = path.resolve(__dirname, '..');
const ENTRIES = ['main.ts', 'cdk8s.yaml', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json', 'scripts/synth.js', 'src', 'charts', 'imports'];
const COMPILING = 'compiling the synthesis program';
const TIMEOUT = 5 * 60 * 1000;

/** A copy of the repository's synthesis sources, sharing its node_modules. */
function copyRepository(): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-entry-'));
  for (const entry of ENTRIES) {
    fs.cpSync(path.join(REPOSITORY, entry), path.join(copy, entry), { recursive: true, filter: (source) => !source.includes('node_modules') });
  }
  fs.symlinkSync(path.join(REPOSITORY, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  return copy;
}

const ENV = { ...process.env, CDK8S_OUTDIR: undefined };
const synthIn = (copy: string) => spawnSync(process.execPath, ['scripts/synth.js'], { cwd: copy, encoding: 'utf8', env: ENV, timeout: TIMEOUT });

/** Replaces `from` by `to` in a file of `copy`; returns a function putting the file back. */
function change(copy: string, file: string, from: string, to: string): () => void {
  const full = path.join(copy, file);
  const before = fs.readFileSync(full, 'utf8');
  expect(before).toContain(from);
  fs.writeFileSync(full, before.replace(from, to));
  return () => fs.writeFileSync(full, before);
}

/** Appends `text` to a file of `copy`; returns a function putting the file back. */
function append(copy: string, file: string, text: string): () => void {
  const full = path.join(copy, file);
  const before = fs.readFileSync(full, 'utf8');
  fs.writeFileSync(full, `${before}${text}`);
  return () => fs.writeFileSync(full, before);
}

/** The build folders in the copy's cache (hash-named), and what `latest` names. */
function builds(copy: string): { folders: string[]; latest: string } {
  const cache = path.join(copy, '.cache', 'synth');
  return {
    folders: fs.readdirSync(cache).filter((name) => name !== 'latest').sort(),
    latest: fs.readFileSync(path.join(cache, 'latest'), 'utf8').trim(),
  };
}

describe('npm run synth (scripts/synth.js): failures', () => {
  let copy: string;
  beforeAll(() => {
    copy = copyRepository();
    fs.mkdirSync(path.join(copy, 'dist', 'prod'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'dist', 'prod', 'kept.yaml'), 'kept\n');
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  const expectCleanFailure = (result: ReturnType<typeof synthIn>) => {
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^(compiling the synthesis program .*\n)?synthesis failed: /);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(fs.readdirSync(path.join(copy, 'dist', 'prod'))).toEqual(['kept.yaml']);
  };

  test('configuration problems and a stale generated file are reported together, once each', () => {
    const restoreJson = change(copy, 'src/engines/frontend/engine.json', '3000', '3001');
    const restoreCatalog = change(copy, 'src/catalog/platform-catalog.ts', "scaling: { minReplicas: 2, maxReplicas: 6 } },\n    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(2) }",
      "scaling: { minReplicas: 2, maxReplicas: 6, targetCpuUtilization: 0 } },\n    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(2) }");
    try {
      const result = synthIn(copy);
      expectCleanFailure(result);
      expect(result.stderr).toMatch(/^synthesis failed: 2 configuration problems; nothing was written:/m);
      expect(result.stderr).toMatch(/- \[dev, staging, prod\] frontend: engine\.json = .*Fix: run the generator/);
      expect(result.stderr).toMatch(/- \[dev, staging, prod\] frontend: workload\.scaling\.targetCpuUtilization = 0: /);
    } finally {
      restoreJson();
      restoreCatalog();
    }
  }, TIMEOUT);

  test('a type error in the catalog is reported with the header and the compiler\'s line, nothing written', () => {
    const restore = change(copy, 'src/catalog/platform-catalog.ts', 'port: port(8200)', 'port: 8200');
    try {
      const result = synthIn(copy);
      expectCleanFailure(result);
      expect(result.stderr).toContain(COMPILING);
      expect(result.stderr).toMatch(/^synthesis failed: the program does not compile \(1 type error\); nothing was written:$/m);
      expect(result.stderr).toMatch(/^ {2}src\/catalog\/platform-catalog\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'Port'\.$/m);
      expect(result.stdout).toBe('');
      // No build is recorded for sources that do not compile, and none is left half-made.
      expect(fs.readdirSync(path.join(copy, '.cache', 'synth')).filter((name) => name.startsWith('tmp-'))).toEqual([]);
    } finally {
      restore();
    }
  }, TIMEOUT);

  test('type errors in two files are all reported at once', () => {
    const restoreCatalog = change(copy, 'src/catalog/platform-catalog.ts', 'port: port(8200)', 'port: 8200');
    const restoreEnvironments = change(copy, 'src/environments/platform-environments.ts', "name: 'dev'", 'name: 42');
    try {
      const result = synthIn(copy);
      expectCleanFailure(result);
      expect(result.stderr).toMatch(/src\/catalog\/platform-catalog\.ts\(\d+,\d+\): error TS/);
      expect(result.stderr).toMatch(/src\/environments\/platform-environments\.ts\(\d+,\d+\): error TS/);
    } finally {
      restoreCatalog();
      restoreEnvironments();
    }
  }, TIMEOUT);
});

describe('npm run synth (scripts/synth.js): the compiled program is cached by its sources', () => {
  let copy: string;
  beforeAll(() => {
    copy = copyRepository();
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  const expectSynthesized = (result: ReturnType<typeof synthIn>) => {
    expect(result.stderr).not.toContain('synthesis failed');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^prod: \d+ objects, 16 engines/m);
    expect(result.stdout).toContain('  - dist/prod/0004-engines.yaml\n');
  };

  test('first run compiles; an unchanged repository reuses the build without compiling', () => {
    const first = synthIn(copy);
    expectSynthesized(first);
    expect(first.stderr).toContain(`${COMPILING} (first build)`);
    const before = builds(copy);
    expect(before.folders).toEqual([before.latest]);
    const mainJs = path.join(copy, '.cache', 'synth', before.latest, 'main.js');
    const compiledAt = fs.statSync(mainJs).mtimeMs;

    const second = synthIn(copy);
    expectSynthesized(second);
    expect(second.stderr).not.toContain(COMPILING);
    expect(builds(copy)).toEqual(before);
    expect(fs.statSync(mainJs).mtimeMs).toBe(compiledAt);
    expect(second.stdout).toBe(first.stdout);
  }, TIMEOUT);

  test('a changed source recompiles into a new build; changed back, the earlier build is reused', () => {
    const original = builds(copy).latest;
    const restore = append(copy, 'charts/platform-charts.ts', "\n/** An edit that changes no output. */\nexport const EDIT_MARKER = 'an edit';\n");
    let edited: string;
    try {
      const result = synthIn(copy);
      expectSynthesized(result);
      expect(result.stderr).toContain(`${COMPILING} (sources changed since the last build)`);
      edited = builds(copy).latest;
      expect(edited).not.toBe(original);
      expect(fs.readFileSync(path.join(copy, '.cache', 'synth', edited, 'charts', 'platform-charts.js'), 'utf8')).toContain("EDIT_MARKER = 'an edit'");
    } finally {
      restore();
    }
    const back = synthIn(copy);
    expectSynthesized(back);
    expect(back.stderr).not.toContain(COMPILING);
    expect(builds(copy).latest).toBe(original);
    expect(builds(copy).folders).toEqual([original, edited].sort());
  }, TIMEOUT);

  test('a new file where an import could resolve, or a changed package-lock.json, recompiles', () => {
    fs.writeFileSync(path.join(copy, 'src', 'model', 'unused-extra.ts'), 'export const unusedExtra = 1;\n');
    try {
      const added = synthIn(copy);
      expectSynthesized(added);
      expect(added.stderr).toContain(COMPILING);
    } finally {
      fs.rmSync(path.join(copy, 'src', 'model', 'unused-extra.ts'));
    }
    const restore = change(copy, 'package-lock.json', '"name": "nautilus-k8s"', '"name":  "nautilus-k8s"');
    try {
      const locked = synthIn(copy);
      expectSynthesized(locked);
      expect(locked.stderr).toContain(COMPILING);
    } finally {
      restore();
    }
  }, TIMEOUT);

  test('a deleted source leaves no compiled output behind in the new build', () => {
    const extra = path.join(copy, 'src', 'model', 'extra-constant.ts');
    fs.writeFileSync(extra, 'export const EXTRA_CONSTANT = 1;\n');
    const restoreImport = change(copy, 'main.ts', "import * as fs from 'fs';", "import * as fs from 'fs';\nimport { EXTRA_CONSTANT } from './src/model/extra-constant';\nvoid EXTRA_CONSTANT;");
    let withExtra: string;
    try {
      expectSynthesized(synthIn(copy));
      withExtra = builds(copy).latest;
      expect(fs.existsSync(path.join(copy, '.cache', 'synth', withExtra, 'src', 'model', 'extra-constant.js'))).toBe(true);
    } finally {
      restoreImport();
      fs.rmSync(extra);
    }
    // A build whose source list names a deleted file is not reused: the hash cannot be computed.
    const removed = synthIn(copy);
    expectSynthesized(removed);
    const latest = builds(copy).latest;
    expect(latest).not.toBe(withExtra);
    expect(fs.existsSync(path.join(copy, '.cache', 'synth', latest, 'src', 'model', 'extra-constant.js'))).toBe(false);
  }, TIMEOUT);

  test('the folder of an interrupted compile is removed by the next build; two synths at once both succeed', async () => {
    const leftover = path.join(copy, '.cache', 'synth', 'tmp-999999999-interrupted');
    fs.mkdirSync(leftover);
    fs.writeFileSync(path.join(leftover, 'main.js'), 'throw new Error("half-written");\n');
    const restore = append(copy, 'charts/platform-charts.ts', "\n/** Another edit that changes no output. */\nexport const EDIT_MARKER = 'another edit';\n");
    try {
      const run = () => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['scripts/synth.js'], { cwd: copy, env: ENV });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => { stdout += chunk; });
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      const [one, two] = await Promise.all([run(), run()]);
      for (const result of [one, two]) {
        expect(result.stderr).not.toContain('synthesis failed');
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(/^prod: \d+ objects, 16 engines/m);
      }
      expect(fs.existsSync(leftover)).toBe(false);
      const after = builds(copy);
      expect(after.folders.filter((name) => name.startsWith('tmp-'))).toEqual([]);
      expect(fs.existsSync(path.join(copy, '.cache', 'synth', after.latest, 'main.js'))).toBe(true);
    } finally {
      restore();
    }
  }, TIMEOUT);
});

describe('cdk8s synth (the pinned cdk8s-cli running scripts/synth.js)', () => {
  let copy: string;
  beforeAll(() => {
    copy = copyRepository();
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  const cdk8sSynth = () => spawnSync(path.join(REPOSITORY, 'node_modules', '.bin', 'cdk8s'), ['synth'], {
    cwd: copy, encoding: 'utf8', env: { ...ENV, CDK8S_CHECK_UPGRADE: 'false' }, timeout: TIMEOUT,
  });
  /** Every file under dist/ with its content. */
  const distTree = () => {
    const dist = path.join(copy, 'dist');
    const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory()
      ? walk(path.join(dir, entry.name))
      : [`${path.relative(dist, path.join(dir, entry.name))}\n${fs.readFileSync(path.join(dir, entry.name), 'utf8')}`]));
    return walk(dist).sort();
  };

  test('prints the summary (on stderr: the CLI swallows stdout) and lists the dist/ paths', () => {
    const result = cdk8sSynth();
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^prod: \d+ objects, 16 engines/m);
    expect(result.stdout).toContain('  - dist/prod/0004-engines.yaml\n');
  }, TIMEOUT);

  test('after a configuration problem or a type error, dist/ shows the previous synthesis again', () => {
    const before = distTree();
    expect(before.length).toBeGreaterThan(10);
    const restoreConfiguration = change(copy, 'src/engines/frontend/engine.json', '3000', '3001');
    try {
      const result = cdk8sSynth();
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/^synthesis failed: /m);
      expect(result.stderr).toContain('dist/ shows the previous synthesis again');
      expect(distTree()).toEqual(before);
    } finally {
      restoreConfiguration();
    }
    const restoreType = change(copy, 'src/catalog/platform-catalog.ts', 'port: port(8200)', 'port: 8200');
    try {
      const result = cdk8sSynth();
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/^synthesis failed: the program does not compile/m);
      expect(result.stderr).toContain('dist/ shows the previous synthesis again');
      expect(distTree()).toEqual(before);
    } finally {
      restoreType();
    }
  }, TIMEOUT);
});
