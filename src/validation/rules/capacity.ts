import { EnvironmentSpec, NodePoolSpec } from '../../environments/environment';
import { Cpu, Memory } from '../../model/quantities';
import {
  PackingGroup, PackingNode, PodDemand, ScheduledNode, nodeDaemonSets, nodeRoom, packPods, podDemands as planPodDemands, podRoom, scheduleReplicas, shortfall, sumRooms, timesRoom,
} from '../../planning/capacity';
import { Finding } from '../../model/errors';
import { RuleInput, ValidationRule, defineRule } from '../rule';

/** Every workload's pods as the capacity model sees them in the environment checked. */
function podDemands({ catalog, stores, environment }: RuleInput): PodDemand[] {
  return planPodDemands(catalog, stores, environment);
}

/**
 * The workloads whose pods fit one node of their pool: the packing rules look only at these, as
 * a pod too large for any node is pods-fit-a-node's report (one mistake, one entry).
 */
function packableDemands(input: RuleInput): PodDemand[] {
  return podDemands(input).filter((d) => !d.batch && d.pool !== undefined && shortfall(podRoom(d), nodeRoom(input.environment, d.pool)) === undefined);
}

/** Whether the pods of `pool` at rest pack onto its nodes at rest; the first workload that does not, if not. */
function packAtRest(environment: EnvironmentSpec, pool: NodePoolSpec, onPool: readonly PodDemand[]): ReturnType<typeof packPods> {
  const groups: PackingGroup[] = onPool.map((d) => ({ subject: d.subject, pod: podRoom(d), replicas: d.replicas, onePerNode: d.hostNetwork }));
  return packPods(poolNodes(environment, pool, pool.zones), groups);
}

/** How a node of `pool` arrives at the room it leaves pods, for messages: "7910m CPU (8 less 90m reserved)". */
function roomExplained(environment: EnvironmentSpec, pool: NodePoolSpec, resource: 'cpu' | 'memory'): string {
  const room = nodeRoom(environment, pool);
  const daemons = nodeDaemonSets(environment, pool);
  if (resource === 'cpu') {
    const parts = [`${pool.reserved.cpu} reserved for the kubelet and system`, ...daemons.map((d) => `${d.cpu} for the ${d.name} DaemonSet`)];
    return `${Cpu.millis(Math.max(0, room.cpu))} CPU (${pool.instance.cpu} less ${parts.join(' and ')})`;
  }
  const hugepages = pool.instance.hugepages2Mi?.mebibytes ?? 0;
  const parts = [
    `${Memory.mebibytes(pool.reserved.memory.mebibytes + pool.reserved.evictionThreshold.mebibytes)} reserved for the kubelet, system and eviction threshold`,
    ...(hugepages > 0 ? [`${Memory.mebibytes(hugepages)} of hugepages`] : []),
    ...daemons.map((d) => `${d.memory} for the ${d.name} DaemonSet`),
  ];
  return `${Memory.mebibytes(Math.max(0, room.memory))} of memory (${pool.instance.memory} less ${parts.join(', ')})`;
}

/** The at-rest nodes of `pool` in `zones`, each with the room it leaves pods. */
function poolNodes(environment: EnvironmentSpec, pool: NodePoolSpec, zones: readonly string[]): PackingNode[] {
  const room = nodeRoom(environment, pool);
  return zones.flatMap((zone) => Array.from({ length: pool.nodesPerZone }, () => ({ zone, room })));
}

/** Capacity: every pod fits a node, the pools hold their pods at rest and at the autoscaling maximum, and a zone loss is survived. */
export const CAPACITY_RULES: readonly ValidationRule[] = [
  defineRule('pods-fit-a-node', (input) =>
    podDemands(input).flatMap((d): Finding[] => {
      if (!d.pool) {
        return [{
          subject: d.subject, field: 'placement', value: 'no pool', problem: 'no node pool takes these pods (the environment has no general pool)',
          fix: `add a node pool with role 'general' to ${input.environment.name}`,
        }];
      }
      const pool = d.pool;
      const room = nodeRoom(input.environment, pool);
      const where = `each node of pool ${pool.name} offers pods`;
      const checks: Array<[boolean, string, string, string]> = [
        [d.cpu.millicores > room.cpu, 'cpu', d.cpu.toQuantity(), `${where} ${roomExplained(input.environment, pool, 'cpu')}`],
        [d.memory.mebibytes > room.memory, 'memory', d.memory.toQuantity(), `${where} ${roomExplained(input.environment, pool, 'memory')}`],
        [d.hugepages.mebibytes > room.hugepages, 'hugepages2Mi', d.hugepages.toQuantity(), `the nodes of pool ${pool.name} pre-allocate ${pool.instance.hugepages2Mi?.toQuantity() ?? 'no'} 2Mi hugepages`],
        [d.gpus > room.gpus, 'gpu.count', String(d.gpus), `the nodes of pool ${pool.name} have ${room.gpus} GPUs`],
      ];
      return checks.filter(([fails]) => fails).map(([, field, value, have]) => ({
        subject: d.subject, field: `resources.${field}`, value: `${value} per pod (every container, as planned in ${input.environment.name})`,
        problem: `the pod can never be scheduled: ${have}`,
        fix: `lower ${d.subject}'s ${field}, or give pool ${pool.name} a larger instance${field === 'cpu' || field === 'memory' ? ' or a smaller reservation' : ''}`,
      }));
    })),
  defineRule('node-pool-capacity', (input) => {
    const demands = podDemands(input);
    return input.environment.nodePools.flatMap((pool): Finding[] => {
      const at = { subject: `node pool ${pool.name}` };
      const restingNodes = pool.zones.length * pool.nodesPerZone;
      if (pool.maxNodes < restingNodes) {
        return [{
          ...at, field: 'maxNodes', value: `${pool.maxNodes} (${restingNodes} nodes at rest)`,
          problem: 'the NodePool limit is below the nodes the pool runs at rest', fix: `set maxNodes to at least ${restingNodes}`,
        }];
      }
      const onPool = demands.filter((d) => d.pool?.name === pool.name);
      const limit = timesRoom(nodeRoom(input.environment, pool), pool.maxNodes);
      const atRest = shortfall(sumRooms(onPool.map((d) => timesRoom(podRoom(d), d.replicas))), limit);
      const atMax = shortfall(sumRooms(onPool.map((d) => timesRoom(podRoom(d), d.maxReplicas))), limit);
      const missing = atRest ? `at rest its pods need ${atRest}` : atMax ? `at their autoscaling maximum its pods need ${atMax}` : undefined;
      return missing
        ? [{
          ...at, field: 'maxNodes', value: `${pool.maxNodes} nodes of ${pool.instance.cpu} CPU, ${pool.instance.memory}`,
          problem: `the NodePool's limits are too small (counting each node's allocatable, not its capacity): ${missing}`,
          fix: `raise maxNodes, use a larger instance, or lower the maximum replicas of ${onPool.map((d) => d.subject).join(', ')}`,
        }]
        : [];
    });
  }),
  defineRule('pods-pack-onto-nodes-at-rest', (input) => {
    // CronJob pods come and go: Karpenter adds a node for a run when none has room.
    const demands = packableDemands(input);
    return input.environment.nodePools.flatMap((pool): Finding[] => {
      const onPool = demands.filter((d) => d.pool?.name === pool.name);
      const nodes = pool.zones.length * pool.nodesPerZone;
      // A pool with no node at rest cannot hold pods at rest either (the cluster tests have no Karpenter to add one).
      if (onPool.length === 0 || pool.zones.length === 0 || !(Number.isInteger(pool.nodesPerZone) && pool.nodesPerZone >= 0)) return [];
      const failure = packAtRest(input.environment, pool, onPool);
      if (!failure) return [];
      return [{
        subject: `node pool ${pool.name}`, field: 'nodesPerZone',
        value: `${pool.nodesPerZone} (${nodes} nodes at rest, each offering ${roomExplained(input.environment, pool, 'cpu')} and ${roomExplained(input.environment, pool, 'memory')})`,
        problem: `the pods at rest do not fit onto the nodes at rest: ${failure.subject} found no node for replica ${failure.placed + 1} of ${failure.wanted} `
          + `(${failure.wanted > 1 ? `spread evenly over zones, next in ${failure.zones.join(' or ')}` : 'any zone'}${onPool.find((d) => d.subject === failure.subject)?.hostNetwork ? ', one per node for its host port' : ''}; placed largest first)`,
        fix: `raise nodesPerZone, use a larger instance, or lower the replicas or requests of ${onPool.map((d) => d.subject).join(', ')}`,
      }];
    });
  }),
  defineRule('zone-loss-survivable', (input) => {
    if (!input.environment.survivesZoneLoss) return [];
    const demands = packableDemands(input);
    return input.environment.nodePools.flatMap((pool): Finding[] => {
      const onPool = demands.filter((d) => d.pool?.name === pool.name);
      // A pool that does not hold its pods with every zone up is pods-pack-onto-nodes-at-rest's report.
      if (onPool.length === 0 || packAtRest(input.environment, pool, onPool)) return [];
      const at = { subject: `node pool ${pool.name}`, field: 'zones' };
      const survivingNodes = (pool.zones.length - 1) * pool.nodesPerZone;
      if (survivingNodes <= 0) {
        return [{
          ...at, value: JSON.stringify(pool.zones), problem: `the environment must survive a zone loss and every node of the pool is in one zone (${onPool.map((d) => d.subject).join(', ')} would stop)`,
          fix: 'add a zone to the pool',
        }];
      }
      // The pool at rest as the scheduler fills it, in apply order (data stores, then engines):
      // a pod that survives the loss stays where it is; only the lost zone's pods move.
      const ordered = [...onPool.filter((d) => d.zonalVolume), ...onPool.filter((d) => !d.zonalVolume)];
      const atRest: ScheduledNode[] = poolNodes(input.environment, pool, pool.zones).map((n) => ({ zone: n.zone, room: n.room, pods: [] }));
      for (const d of ordered) scheduleReplicas(atRest, d.subject, podRoom(d), d.replicas, pool.zones, d.hostNetwork);
      for (const lost of pool.zones) {
        const left = pool.zones.filter((z) => z !== lost);
        const nodes = atRest.filter((n) => n.zone !== lost).map((n) => ({ zone: n.zone, room: { ...n.room }, pods: [...n.pods] }));
        // Surviving pods per workload and zone, counted once (linear in the pods, not per workload).
        const survivors = new Map<string, Map<string, number>>();
        for (const n of nodes) {
          for (const p of n.pods) {
            const zones = survivors.get(p) ?? survivors.set(p, new Map()).get(p)!;
            zones.set(n.zone, (zones.get(n.zone) ?? 0) + 1);
          }
        }
        for (const d of ordered) {
          // A store member's volume is zonal: the lost zone's members are gone with it, never rescheduled.
          if (d.zonalVolume) continue;
          const survivingPerZone = survivors.get(d.subject) ?? new Map<string, number>();
          const surviving = [...survivingPerZone.values()].reduce((sum, count) => sum + count, 0);
          // Engines keep no volume and come back in the zones left; a host-network engine needs one replica.
          const wanted = d.hostNetwork ? Math.min(d.replicas, 1) : d.replicas;
          const missing = Math.max(0, wanted - surviving);
          const placed = scheduleReplicas(nodes, d.subject, podRoom(d), missing, left, d.hostNetwork, survivingPerZone);
          if (placed < missing) {
            return [{
              ...at, value: `${pool.zones.length} zones × ${pool.nodesPerZone} nodes`,
              problem: `the environment must survive a zone loss and after losing ${lost} the ${survivingNodes} nodes left cannot hold the pool's pods at rest: `
                + `${d.subject} needs ${missing} pod(s) moved there and the scheduler finds a node for ${placed} (surviving pods stay where they are, data store members stay in their volume's zone; `
                + 'each pod goes to the least allocated node, as kube-scheduler places them)',
              fix: 'raise nodesPerZone, add a zone, or use a larger instance',
            }];
          }
        }
      }
      return [];
    });
  }),
];
