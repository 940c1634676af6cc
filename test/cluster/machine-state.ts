import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { KUBELET_SYSCTLS } from './real-node';

/** What the machine looks like, in the respects a node could leave something behind. */
export function machineState() {
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
export function leftovers(workDir: string, cgroupRoot: string): string[] {
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

