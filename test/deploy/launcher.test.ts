/**
 * bin/nautilus.js, the deploy tool's launcher, in a copy of the repository: the first start
 * type-checks and bundles the tool, the next reuses the bundle, an edited source is bundled
 * again, and a type error stops it with the compiler's line before anything runs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
let copy: string;

function nautilus(...args: string[]) {
  return spawnSync(process.execPath, [path.join(copy, 'bin', 'nautilus.js'), ...args], { cwd: copy, encoding: 'utf8' });
}

function bundles(): string[] {
  const cache = path.join(copy, '.cache', 'nautilus');
  return fs.existsSync(cache) ? fs.readdirSync(cache).filter((name) => /^[0-9a-f]{20}\.js$/.test(name)).sort() : [];
}

beforeAll(() => {
  copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-launcher-'));
  // Ctrl-C skips afterAll: the copy goes with the process.
  const made = copy;
  process.once('exit', () => fs.rmSync(made, { recursive: true, force: true }));
  for (const entry of ['bin', 'src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.deploy.json']) {
    fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), {
      recursive: true, filter: (source) => !source.includes(`${path.sep}node_modules`),
    });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  // The engines' runtime is not part of the tool; its own node_modules are not needed.
});

afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

test('the first start type-checks and bundles; the next reuses the bundle', () => {
  const first = nautilus('--help');
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(/^Usage: nautilus <command> <environment>/);
  expect(first.stderr).toContain('type-checking and bundling the tool');
  expect(bundles()).toHaveLength(1);
  const again = nautilus('--help');
  expect(again.status).toBe(0);
  expect(again.stderr).toBe('');
  expect(bundles()).toHaveLength(1);
});

test('a type error stops it with the compiler\'s line; fixed, it bundles again', () => {
  const file = path.join(copy, 'src', 'deploy', 'objects.ts');
  const original = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, `${original}\nexport const broken: number = 'text';\n`);
  const broken = nautilus('--help');
  expect(broken.status).toBe(1);
  expect(broken.stdout).toBe('');
  expect(broken.stderr).toMatch(/the tool does not compile \(1 type error\); nothing was run:\n {2}src\/deploy\/objects\.ts\(\d+,\d+\): error TS2322/);

  fs.writeFileSync(file, `${original}\nexport const fixed = 'text';\n`);
  const fixed = nautilus('--help');
  expect(fixed.status).toBe(0);
  expect(fixed.stderr).toContain('type-checking and bundling the tool');
  expect(bundles()).toHaveLength(2);
  fs.writeFileSync(file, original);
});
