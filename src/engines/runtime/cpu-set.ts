import { readFileSync } from 'fs';

/** Parses a Linux CPU list (`0-3,8,10-11`) into sorted CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw new Error(`malformed CPU list ${JSON.stringify(list)}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) throw new Error(`malformed CPU range ${JSON.stringify(part)}`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status): under the
 * kubelet's static CPU manager, the cores the pod was given exclusively. Node has no
 * sched_getaffinity, and /proc says the same thing. Undefined where /proc is not Linux's.
 */
export function readAllowedCpus(statusPath = '/proc/self/status'): number[] | undefined {
  let status: string;
  try {
    status = readFileSync(statusPath, 'utf8');
  } catch {
    return undefined;
  }
  const line = /^Cpus_allowed_list:\s*(.*)$/m.exec(status);
  return line ? parseCpuList(line[1]) : undefined;
}
