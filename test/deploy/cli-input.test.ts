/**
 * What `nautilus` says to input a new user gets wrong, before it touches a cluster: an unknown
 * environment (before any synthesis), a missing kubeconfig file, and no kubeconfig at all (where
 * client-node would quietly try http://localhost:8080). Each is one message naming what was
 * looked at and how to point the tool at a cluster; nothing is synthesized or contacted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CliIo, runCli } from '../../src/deploy/cli';

async function nautilus(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, env };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

let home: string;
let dist: string;

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-cli-input-'));
  // Ctrl-C skips afterAll: the copy goes with the process.
  const made = home;
  process.once('exit', () => fs.rmSync(made, { recursive: true, force: true }));
  // A minimal dist/<env>/ so that the kubeconfig is what fails.
  dist = path.join(home, 'dist');
  fs.mkdirSync(path.join(dist, 'dev'), { recursive: true });
  fs.writeFileSync(path.join(dist, 'dev', '0000-cluster.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: nautilus-engines\n');
});

afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

test('an unknown environment is refused first, naming the known ones, without synthesizing', async () => {
  const result = await nautilus(['deploy', 'qa'], { HOME: home });
  expect(result.code).toBe(2);
  expect(result.stderr).toBe('no environment "qa": the platform has dev, staging, prod (src/environments/platform-environments.ts); or give --dist <folder> holding <folder>/<environment>/\n');
});

test('an environment missing from --dist names the folder as given', async () => {
  const result = await nautilus(['status', 'qa', '--dist', dist], { HOME: home });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`${path.join(dist, 'qa')}/ does not exist: no manifests of environment "qa" there`);
});

test('a missing kubeconfig file says which file and where it came from', async () => {
  const flag = await nautilus(['status', 'dev', '--dist', dist, '--kubeconfig', path.join(home, 'nope.yaml')], { HOME: home });
  expect(flag.code).toBe(1);
  expect(flag.stderr).toMatch(new RegExp(`kubeconfig ${path.join(home, 'nope.yaml')} \\(from --kubeconfig\\) does not exist; point it at a cluster with --kubeconfig <file>`));
  const env = await nautilus(['status', 'dev', '--dist', dist], { HOME: home, KUBECONFIG: path.join(home, 'gone.yaml') });
  expect(env.stderr).toMatch(/kubeconfig .*gone\.yaml \(from KUBECONFIG\) does not exist/);
});

test('no kubeconfig at all says where it looked instead of trying localhost:8080', async () => {
  const result = await nautilus(['status', 'dev', '--dist', dist], { HOME: home });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`no kubeconfig: KUBECONFIG is not set, ${path.join(home, '.kube', 'config')} does not exist and this is not a pod of a cluster; point it at a cluster with --kubeconfig <file>`);
  expect(result.stderr).not.toMatch(/localhost:8080/);
});

test('an API server nobody answers at is one line naming the cluster, the cause and the fix', async () => {
  const kubeconfig = path.join(home, 'refused.kubeconfig');
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'gone', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'someone', user: { token: 'token' } }],
    contexts: [{ name: 'gone', context: { cluster: 'gone', user: 'someone' } }],
    'current-context': 'gone',
  }));
  for (const command of ['status', 'diff']) {
    const result = await nautilus([command, 'dev', '--dist', dist, '--kubeconfig', kubeconfig], { HOME: home });
    expect(result.code).toBe(command === 'diff' ? 2 : 1);
    expect(result.stderr).toContain(`${command} dev failed: cluster https://127.0.0.1:1 (context gone) cannot be reached (ECONNREFUSED). Fix: check that the cluster is up and that --context/--kubeconfig point at it\n`);
  }
});
