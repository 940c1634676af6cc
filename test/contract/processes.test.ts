/**
 * A process the tests start as the pod's user says why when that user cannot read what it runs,
 * instead of the test timing out on a readiness that never comes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { accessProblem, ManagedProcess } from './processes';

const asRoot = process.getuid?.() === 0;

describe('accessProblem', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-access-'));
    fs.writeFileSync(path.join(dir, 'main.js'), 'console.log(1)\n', { mode: 0o644 });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('names the directory the user may not enter (mktemp -d makes 0700)', () => {
    fs.chmodSync(dir, 0o700);
    expect(accessProblem(path.join(dir, 'main.js'), 10001, 10001))
      .toBe(`cannot enter ${dir} (mode 700, owner uid ${fs.statSync(dir).uid} gid ${fs.statSync(dir).gid}) on the way to ${path.join(dir, 'main.js')}`);
  });

  test('names the file the user may not read', () => {
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, 'main.js'), 0o600);
    expect(accessProblem(path.join(dir, 'main.js'), 10001, 10001)).toMatch(/^cannot read .*main\.js \(mode 600/);
  });

  test('the owner and the group are judged by their own bits', () => {
    fs.chmodSync(dir, 0o750);
    const { uid, gid } = fs.statSync(dir);
    expect(accessProblem(path.join(dir, 'main.js'), uid, gid)).toBeUndefined();
    expect(accessProblem(path.join(dir, 'main.js'), 10001, gid)).toBeUndefined();
    expect(accessProblem(path.join(dir, 'main.js'), 10001, 10001)).toMatch(/^cannot enter/);
  });

  (asRoot ? test : test.skip)('a process to run as a user who cannot read its script fails at start, naming the cause and the fix', () => {
    fs.chmodSync(dir, 0o700);
    expect(() => new ManagedProcess('order-manager', process.execPath, [path.join(dir, 'main.js')], { uid: 10001, gid: 10001, cwd: '/' }))
      .toThrow(new RegExp(`order-manager runs as uid 10001 \\(the pod's user\\), which cannot enter ${dir} \\(mode 700.*Fix: let other users enter and read the checkout`));
  });
});
