/**
 * Real nodes leave nothing behind (a cluster of two, so that the forwarding between them is covered): no process, mount, network interface, iptables rule, ipset,
 * cgroup or changed kernel setting, after Ctrl-C (SIGINT) and after the test process is killed
 * outright (SIGKILL: the node's watchdog cleans up). After a clean stop: the last test of
 * real-node.test.ts, with a whole environment on the node.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { leftovers, machineState } from './machine-state';
import { realNodePrerequisites } from './real-node';

jest.setTimeout(5 * 60_000);

const CHILD = path.join(__dirname, 'support', 'real-node-child.ts');

async function eventually(check: () => string[], timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function startChild(): Promise<{ child: ChildProcess; nodes: { workDir: string; cgroupRoot: string }[]; controlPlaneDir: string }> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /^ready (\S+) (.+)$/m.exec(chunk.toString());
      if (match) {
        const nodes = match[2].split(' ').map((node) => { const [workDir, cgroupRoot] = node.split(':'); return { workDir, cgroupRoot }; });
        resolve({ child, nodes, controlPlaneDir: match[1] });
      }
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

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    test(`after ${signal} to the test process`, async () => {
      const { child, nodes, controlPlaneDir } = await startChild();
      expect(nodes).toHaveLength(2);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill(signal);
      await exited;
      expect(await eventually(() => [...nodes.flatMap((node) => leftovers(node.workDir, node.cgroupRoot)), ...(fs.existsSync(controlPlaneDir) ? [controlPlaneDir] : [])])).toEqual([]);
      expect(machineState()).toEqual(before);
    });
  }
});
