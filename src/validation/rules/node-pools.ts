import { poolForRole } from '../../environments/environment';
import { nodeAllocatable } from '../../environments/node-allocatable';
import { wholeNumberProblem } from '../../model/domains';
import { Memory } from '../../model/quantities';
import { Finding, findingsAbout } from '../../model/errors';
import { ValidationRule, defineRule } from '../rule';

/** Node pools: their zones, node counts and instance, one pool per role, the kubelet's reservation. */
export const NODE_POOL_RULES: readonly ValidationRule[] = [
  defineRule('node-pool-zones', ({ environment }) =>
    environment.nodePools.flatMap((pool) =>
      pool.zones
        .filter((z) => !environment.zones.includes(z))
        .map((z) => ({
          subject: `node pool ${pool.name}`, field: 'zones', value: JSON.stringify(z),
          problem: 'not one of the environment\'s zones',
          fix: `use one of ${environment.zones.join(', ')} or add the zone to the environment`,
        })))),
  defineRule('node-pool-shape', ({ environment }) =>
    environment.nodePools.flatMap((pool): Finding[] => {
      const report = findingsAbout(`node pool ${pool.name}`);
      const problems: Finding[] = [];
      if (pool.zones.length === 0) {
        problems.push(report('zones', '[]', 'the pool is in no zone, so it has no node', `list the zones its nodes are in (of ${environment.zones.join(', ')})`));
      }
      const repeated = pool.zones.filter((z, i) => pool.zones.indexOf(z) !== i);
      if (repeated.length > 0) {
        problems.push(report('zones', JSON.stringify(pool.zones), `lists ${[...new Set(repeated)].join(', ')} more than once: the pool would be counted as having nodes and zones it does not`, 'list each zone once (raise nodesPerZone for more nodes)'));
      }
      const counts: Array<[string, number, number, string]> = [
        ['nodesPerZone', pool.nodesPerZone, 0, 'give the nodes each zone runs at rest, e.g. 2'],
        ['maxNodes', pool.maxNodes, 1, 'give the most nodes the pool may grow to (its Karpenter limit), e.g. 12'],
        ['instance.gpus', pool.instance.gpus ?? 0, 0, 'give the whole GPUs each node has, or leave it unset'],
      ];
      for (const [field, value, min, fix] of counts) {
        const problem = wholeNumberProblem(value, min);
        if (problem) problems.push(report(field, String(value), problem, fix));
      }
      const { cpu, memory, hugepages2Mi } = pool.instance;
      if (!(cpu.millicores > 0)) problems.push(report('instance.cpu', cpu.toQuantity(), 'a node has more than zero CPUs', 'give the instance type\'s vCPUs, e.g. Cpu.cores(8)'));
      if (!(memory.mebibytes > 0)) problems.push(report('instance.memory', memory.toQuantity(), 'a node has more than zero memory', 'give the instance type\'s memory, e.g. Memory.gibibytes(32)'));
      if (hugepages2Mi && (hugepages2Mi.mebibytes % 2 !== 0 || hugepages2Mi.mebibytes < 0 || hugepages2Mi.mebibytes >= memory.mebibytes)) {
        problems.push(report('instance.hugepages2Mi', hugepages2Mi.toQuantity(),
          hugepages2Mi.mebibytes % 2 !== 0 ? 'pre-allocated 2Mi hugepages are a whole number of 2Mi pages' : `must be zero or more and less than the node's ${memory} of memory`,
          `use a whole number of pages, e.g. ${Memory.mebibytes(Math.max(0, Math.floor(hugepages2Mi.mebibytes / 2) * 2))}`));
      }
      return problems;
    })),
  defineRule('one-pool-per-role', ({ environment }) =>
    environment.nodePools
      .filter((pool) => poolForRole(environment, pool.role) !== pool)
      .map((pool) => {
        const first = poolForRole(environment, pool.role)!;
        return {
          subject: `node pool ${pool.name}`, field: 'role', value: JSON.stringify(pool.role),
          problem: `pool ${first.name} already has this role; tiers and stores select their pool by role and take the first, so no pod would ever run here, yet its NodePool would be created`,
          fix: `give ${pool.name} another role, or remove it and grow ${first.name} (nodesPerZone, maxNodes)`,
        };
      })),
  defineRule('node-reservation', ({ environment }) =>
    environment.nodePools.flatMap((pool): Finding[] => {
      const at = { subject: `node pool ${pool.name}` };
      const { reserved, instance } = pool;
      const problems: Finding[] = [];
      const amounts: Array<[string, number, string]> = [
        ['reserved.cpu', reserved.cpu.millicores, reserved.cpu.toQuantity()],
        ['reserved.memory', reserved.memory.mebibytes, reserved.memory.toQuantity()],
        ['reserved.evictionThreshold', reserved.evictionThreshold.mebibytes, reserved.evictionThreshold.toQuantity()],
      ];
      for (const [field, , value] of amounts.filter(([, a]) => !(Number.isFinite(a) && a >= 0))) {
        problems.push({ ...at, field, value, problem: 'a reservation must be zero or more', fix: 'give what the kubelet reserves, e.g. eksReservation(instance)' });
      }
      if (problems.length > 0) return problems;
      const allocatable = nodeAllocatable(pool);
      if (allocatable.cpu.millicores <= 0 || allocatable.memory.mebibytes <= 0) {
        const cpu = allocatable.cpu.millicores <= 0;
        problems.push({
          ...at, field: cpu ? 'reserved.cpu' : 'reserved.memory',
          value: cpu ? `${reserved.cpu} of ${instance.cpu} CPU` : `${Memory.mebibytes(reserved.memory.mebibytes + reserved.evictionThreshold.mebibytes)} (with the eviction threshold${instance.hugepages2Mi ? ` and ${instance.hugepages2Mi} of hugepages` : ''}) of ${instance.memory}`,
          problem: 'the reservation takes the whole node: nothing is left for pods',
          fix: 'reserve less, or use a larger instance',
        });
      }
      if (pool.pinned && !(reserved.cpu.isWholeCores && reserved.cpu.millicores >= 1000)) {
        problems.push({
          ...at, field: 'reserved.cpu', value: reserved.cpu.toQuantity(),
          problem: 'the pool pins cores: the static CPU manager needs its reservation as whole CPUs (reservedSystemCPUs), at least one, or the kubelet does not start',
          fix: `reserve whole CPUs, e.g. Cpu.cores(${Math.max(1, Math.ceil(reserved.cpu.millicores / 1000))})`,
        });
      }
      const maxPods = pool.maxPods;
      if (maxPods !== undefined && !(Number.isInteger(maxPods) && maxPods >= 1)) {
        problems.push({ ...at, field: 'maxPods', value: String(maxPods), problem: 'must be a whole number of at least 1', fix: 'leave it unset (the kubelet\'s 110) or give the kubelet\'s maxPods' });
      }
      return problems;
    })),
];
