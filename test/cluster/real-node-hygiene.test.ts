/**
 * A real node leaves nothing behind: no process, mount, network interface, iptables rule, cgroup
 * or changed kernel setting, after a clean stop, after Ctrl-C (SIGINT) and after the test process
 * is killed outright (SIGKILL: the node's watchdog cleans up).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KUBELET_SYSCTLS, realNodePrerequisites, startRealNodeCluster } from './real-node';

jest.setTimeout(5 * 60_000);

const CHILD = path.join(__dirname, 'support', 'real-node-child.ts');

/** What the machine looks like, in the respects a node could leave something behind. */
function machineState() {
  const run = (command: string, args: string[]) => spawnSync(command, args, { encoding: 'utf8' }).stdout;
  return {
    links: run('ip', ['-o', 'link', 'show']).split('\n').map((line) => line.split(':')[1]?.trim().split('@')[0]).filter(Boolean).sort(),
    routes: run('ip', ['route', 'show']).trim(),
    iptables: run('iptables-save', []).split('\n').filter((line) => !line.startsWith('#')).join('\n'),
    ipsets: run('ipset', ['list', '-n']).trim(),
    sysctls: KUBELET_SYSCTLS.map((key) => `${key}=${run('sysctl', ['-n', key]).trim()}`),
  };
}

/** Everything a node of this work directory and cgroup root could have left. */
function leftovers(workDir: string, cgroupRoot: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(workDir)) found.push(`work directory ${workDir}`);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(workDir)) found.push(`mount: ${line}`);
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let cmdline = '';
    try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { continue; }
    if (cmdline.includes(workDir)) found.push(`process ${pid}: ${cmdline}`);
  }
  for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
    if (fs.existsSync(path.join('/sys/fs/cgroup', hierarchy, cgroupRoot))) found.push(`cgroup ${hierarchy}${cgroupRoot}`);
  }
  return found;
}

async function eventually(check: () => string[], timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function startChild(): Promise<{ child: ChildProcess; workDir: string; cgroupRoot: string; controlPlaneDir: string }> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /^ready (\S+) (\S+) (\S+)$/m.exec(chunk.toString());
      if (match) resolve({ child, workDir: match[1], cgroupRoot: match[2], controlPlaneDir: match[3] });
    });
    child.on('exit', (code) => reject(new Error(`the node process exited (${code}) before it was ready:\n${stderr}`)));
  });
}

describe('real node prerequisites', () => {
  test('this machine has them', () => {
    expect(realNodePrerequisites()).toEqual([]);
  });

  test('missing tools are listed in one message with how to install them', () => {
    expect(realNodePrerequisites({ PATH: '/nonexistent' })).toEqual([
      "missing containerd, runc, ctr, unshare, nsenter, ip, iptables, ipset, buildah, podman: install them with 'bash scripts/install-container-tools.sh' (Debian: containerd runc containernetworking-plugins iptables ipset buildah podman)",
    ]);
  });
});

describe('a real node leaves nothing behind', () => {
  const before = machineState();

  test('after stop()', async () => {
    // With the policy enforcer too: its chains and ipsets must go with the node.
    const cluster = await startRealNodeCluster({ name: 'hygiene-node', images: [], enforceNetworkPolicies: true });
    const { workDir, cgroupRoot } = cluster.node;
    // While it runs, its interface and cgroups exist (so the checks below can see them).
    expect(machineState().links).toContain(`nautilus-n${fs.readFileSync(path.join(workDir, 'slot'), 'utf8').trim()}`);
    expect(leftovers(workDir, cgroupRoot).some((line) => line.startsWith('cgroup'))).toBe(true);
    await cluster.stop();
    expect(leftovers(workDir, cgroupRoot)).toEqual([]);
    expect(machineState()).toEqual(before);
  });

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    test(`after ${signal} to the test process`, async () => {
      const { child, workDir, cgroupRoot, controlPlaneDir } = await startChild();
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill(signal);
      await exited;
      expect(await eventually(() => [...leftovers(workDir, cgroupRoot), ...(fs.existsSync(controlPlaneDir) ? [controlPlaneDir] : [])])).toEqual([]);
      expect(machineState()).toEqual(before);
    });
  }
});
