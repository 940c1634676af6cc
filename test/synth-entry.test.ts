/**
 * `npm run synth` as a user meets it: main.ts run as `npm run synth` runs it (tsx) in a copy of the
 * repository, with mistakes put in. A configuration failure prints the "synthesis failed" header and
 * what to fix, never a stack trace, exits 1, and leaves dist/ as it was.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPOSITORY = path.resolve(__dirname, '..');

describe('npm run synth (main.ts)', () => {
  let copy: string;
  beforeAll(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-entry-'));
    for (const entry of ['main.ts', 'cdk8s.yaml', 'tsconfig.json', 'package.json', 'src', 'charts', 'imports'].filter((e) => fs.existsSync(path.join(REPOSITORY, e)))) {
      fs.cpSync(path.join(REPOSITORY, entry), path.join(copy, entry), { recursive: true, filter: (source) => !source.includes('node_modules') });
    }
    fs.symlinkSync(path.join(REPOSITORY, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    fs.mkdirSync(path.join(copy, 'dist', 'prod'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'dist', 'prod', 'kept.yaml'), 'kept\n');
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  const synth = () => spawnSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
    cwd: copy, encoding: 'utf8', env: { ...process.env, CDK8S_OUTDIR: undefined }, timeout: 5 * 60 * 1000,
  });
  const change = (file: string, from: string, to: string) => {
    const full = path.join(copy, file);
    const before = fs.readFileSync(full, 'utf8');
    expect(before).toContain(from);
    fs.writeFileSync(full, before.replace(from, to));
    return () => fs.writeFileSync(full, before);
  };
  const expectCleanFailure = (result: ReturnType<typeof synth>) => {
    expect(result.status).toBe(1);
    expect(result.stderr.startsWith('synthesis failed: ')).toBe(true);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(fs.readdirSync(path.join(copy, 'dist', 'prod'))).toEqual(['kept.yaml']);
  };

  test('configuration problems and a stale generated file are reported together, once each', () => {
    const restoreJson = change('src/engines/frontend/engine.json', '3000', '3001');
    const restoreCatalog = change('src/catalog/platform-catalog.ts', "scaling: { minReplicas: 2, maxReplicas: 6 } },\n    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(2) }",
      "scaling: { minReplicas: 2, maxReplicas: 6, targetCpuUtilization: 0 } },\n    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(2) }");
    try {
      const result = synth();
      expectCleanFailure(result);
      expect(result.stderr).toMatch(/^synthesis failed: 2 configuration problems; nothing was written:/);
      expect(result.stderr).toMatch(/- \[dev, staging, prod\] frontend: engine\.json = .*Fix: run the generator/);
      expect(result.stderr).toMatch(/- \[dev, staging, prod\] frontend: workload\.scaling\.targetCpuUtilization = 0: /);
    } finally {
      restoreJson();
      restoreCatalog();
    }
  }, 5 * 60 * 1000);
});
