import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { eksReservation, nodeAllocatable } from '../src/environments/node-allocatable';
import { Cpu, Memory } from '../src/model/quantities';
import { nodeRoom, packPods, podDemands, PackingNode, Room } from '../src/planning/capacity';
import { poolNode } from './cluster/environment-nodes';
import { K8sObject, PLATFORM_ENGINES, synthObjects } from './support/platform';

const room = (cpu: number, memory: number, pods = 110): Room => ({ cpu, memory, hugepages: 0, gpus: 0, pods });
const nodes = (zones: Record<string, number>, each: Room): PackingNode[] =>
  Object.entries(zones).flatMap(([zone, count]) => Array.from({ length: count }, () => ({ zone, room: each })));

/** CPU in millicores and memory in MiB of a Kubernetes quantity. */
function millicores(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
}
function mebibytes(quantity: string): number {
  const units: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };
  const match = /^(\d+)(Mi|Gi|Ti)$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  return Number(match[1]) * units[match[2]];
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function podRequests(podSpec: any): { cpu: number; memory: number } {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (podSpec.containers as any[]).reduce((sum, c) => ({
    cpu: sum.cpu + millicores(String(c.resources?.requests?.cpu ?? '0')),
    memory: sum.memory + mebibytes(String(c.resources?.requests?.memory ?? '0Mi')),
  }), { cpu: 0, memory: 0 });
}

describe('node allocatable', () => {
  test('EKS reservation: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above; 255Mi + 11Mi per pod; eviction at 100Mi', () => {
    const general = eksReservation({ cpu: Cpu.cores(8), memory: Memory.gibibytes(32), arch: 'amd64' });
    expect(general.cpu.millicores).toBe(60 + 10 + 5 + 5 + 4 * 2.5);
    expect(general.memory.mebibytes).toBe(255 + 11 * 110);
    expect(general.evictionThreshold.mebibytes).toBe(100);
    expect(eksReservation({ cpu: Cpu.cores(1), memory: Memory.gibibytes(2), arch: 'amd64' }, 8).cpu.millicores).toBe(60);
    expect(eksReservation({ cpu: Cpu.cores(16), memory: Memory.gibibytes(64), arch: 'amd64' }, 58).memory.mebibytes).toBe(255 + 11 * 58);
    // A pinning pool reserves whole CPUs instead (reservedSystemCPUs).
    expect(eksReservation({ cpu: Cpu.cores(16), memory: Memory.gibibytes(64), arch: 'amd64' }, 110, 2).cpu.toQuantity()).toBe('2');
  });

  test('allocatable is capacity less the reservation, the eviction threshold and hugepages', () => {
    const latency = PROD.nodePools.find((p) => p.role === 'latency')!;
    const allocatable = nodeAllocatable(latency);
    expect(allocatable.cpu.toQuantity()).toBe('14');
    expect(allocatable.memory.mebibytes).toBe(64 * 1024 - 2 * 1024 - (255 + 11 * 110) - 100);
    expect(allocatable.hugepages2Mi.toQuantity()).toBe('2Gi');
    const gpu = nodeAllocatable(PROD.nodePools.find((p) => p.role === 'gpu')!);
    expect([gpu.cpu.toQuantity(), gpu.gpus]).toEqual(['15890m', 1]);
    // dev runs the kubelet's defaults: only the eviction threshold.
    expect(nodeAllocatable(DEV.nodePools[0]).memory.mebibytes).toBe(64 * 1024 - 100);
  });

  test.each([DEV, STAGING, PROD].flatMap((env) => env.nodePools.map((pool) => [env.name, pool.name, pool] as const)))(
    'the cluster tests\' fake %s %s node advertises the allocatable synthesis checks against', (_env, _pool, pool) => {
      const node = poolNode(pool, pool.zones[0], 0);
      const allocatable = nodeAllocatable(pool);
      expect(node.allocatableCpu).toBe(allocatable.cpu.toQuantity());
      expect(node.allocatableMemory).toBe(allocatable.memory.toQuantity());
      expect(node.pods).toBe(allocatable.pods);
      expect(node.cpu).toBe(pool.instance.cpu.toQuantity());
    });

  test('the device plugin\'s requests are subtracted from every GPU node, and only there', () => {
    const gpu = PROD.nodePools.find((p) => p.role === 'gpu')!;
    const plugin = synthObjects(PROD).find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'nvidia-device-plugin')!;
    const requests = podRequests(plugin.spec.template.spec);
    expect(nodeRoom(PROD, gpu).cpu).toBe(nodeAllocatable(gpu).cpu.millicores - requests.cpu);
    expect(nodeRoom(PROD, gpu).memory).toBe(nodeAllocatable(gpu).memory.mebibytes - requests.memory);
    const general = PROD.nodePools.find((p) => p.role === 'general')!;
    expect(nodeRoom(PROD, general).cpu).toBe(nodeAllocatable(general).cpu.millicores);
  });
});

describe('pod demands match the manifests', () => {
  test.each([DEV, STAGING, PROD].map((env) => [env.name, env] as const))('%s: every workload\'s demand is its pod template\'s summed container requests', (_name, env) => {
    const objects = synthObjects(env);
    const demands = podDemands(PLATFORM_ENGINES, Object.values(PLATFORM_DATA_STORES), env);
    for (const demand of demands) {
      const workload = objects.find((o) => ['Deployment', 'StatefulSet', 'CronJob'].includes(o.kind) && o.metadata.name === demand.subject) as K8sObject;
      const podSpec = workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template.spec : workload.spec.template.spec;
      expect({ subject: demand.subject, ...podRequests(podSpec) }).toEqual({ subject: demand.subject, cpu: demand.cpu.millicores, memory: demand.memory.mebibytes });
      if (workload.kind !== 'CronJob' && !workload.spec.replicas) continue;
      if (workload.kind !== 'CronJob') expect(workload.spec.replicas).toBe(demand.replicas);
    }
  });
});

describe('packing', () => {
  test('places what fits, largest first', () => {
    expect(packPods(nodes({ a: 2 }, room(4000, 8192)), [
      { subject: 'small', pod: room(1000, 1024, 1), replicas: 2, onePerNode: false },
      { subject: 'large', pod: room(3000, 4096, 1), replicas: 2, onePerNode: false },
    ])).toBeUndefined();
    // Same totals (8 CPU on 8), but three 2.5-CPU pods cannot share two 4-CPU nodes.
    expect(packPods(nodes({ a: 2 }, room(4000, 8192)), [
      { subject: 'wide', pod: room(2500, 1024, 1), replicas: 3, onePerNode: false },
    ])).toMatchObject({ subject: 'wide', placed: 2, wanted: 3 });
  });

  test('spreads replicas over zones evenly: a full zone is not skipped (DoNotSchedule)', () => {
    const free = [...nodes({ a: 1 }, room(1000, 8192)), ...nodes({ b: 1 }, room(8000, 8192))];
    // a: 1, b: 1, then b: 2 (skew 1); the fourth must go to a, which is full.
    expect(packPods(free, [{ subject: 'spread', pod: room(1000, 1024, 1), replicas: 4, onePerNode: false }]))
      .toMatchObject({ subject: 'spread', placed: 3, zones: ['a'] });
    // One replica has no spread constraint.
    expect(packPods(free, [{ subject: 'single', pod: room(2000, 1024, 1), replicas: 1, onePerNode: false }])).toBeUndefined();
  });

  test('host-port workloads take one node per replica', () => {
    expect(packPods(nodes({ a: 2 }, room(16000, 65536)), [{ subject: 'host', pod: room(1000, 1024, 1), replicas: 3, onePerNode: true }]))
      .toMatchObject({ subject: 'host', placed: 2 });
  });

  test('members bound to a zone by their volume stay there, however much room other zones have', () => {
    const free = [...nodes({ a: 1 }, room(2000, 8192)), ...nodes({ b: 3 }, room(8000, 32768))];
    expect(packPods(free, [{ subject: 'db', pod: room(1500, 4096, 1), replicas: 0, boundZones: ['a', 'a'], onePerNode: false }]))
      .toMatchObject({ subject: 'db', placed: 1, zones: ['a'] });
    expect(packPods(free, [{ subject: 'engine', pod: room(1500, 4096, 1), replicas: 2, onePerNode: false }])).toBeUndefined();
  });
});
