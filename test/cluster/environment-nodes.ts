import { EnvironmentSpec, NodePoolSpec } from '../../src/environments/environment';
import { GPU_RESOURCE, ZONE_LABEL, poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { nodeAllocatable } from '../../src/environments/node-allocatable';
import { FakeNodeSpec } from './fake-nodes';

export { ZONE_LABEL };

/**
 * The fake node for one node of `pool` in `zone`: what the kubelet, Karpenter's
 * NodePool template, the NVIDIA device plugin and GPU Feature Discovery would
 * register for that instance shape.
 *
 * - labels: zone, arch, and {@link poolLabels} (pool name, CPU manager policy, GPU labels);
 * - taints: {@link poolTaints};
 * - capacity: the instance's CPU, memory and the pool's pods, plus `nvidia.com/gpu` and
 *   `hugepages-2Mi` when the instance has them;
 * - allocatable: {@link nodeAllocatable}, the same figures synthesis checks
 *   capacity against: CPU less the pool's reservation, memory less the
 *   reservation, the eviction threshold and pre-allocated hugepages. DaemonSet
 *   pods of the manifests (the device plugin) are applied and take their room
 *   as on a real node.
 */
export function poolNode(pool: NodePoolSpec, zone: string, index: number): FakeNodeSpec {
  const { instance } = pool;
  const allocatable = nodeAllocatable(pool);
  const extraResources: Record<string, string> = {};
  if (allocatable.gpus > 0) extraResources[GPU_RESOURCE] = String(allocatable.gpus);
  if (allocatable.hugepages2Mi.mebibytes > 0) extraResources['hugepages-2Mi'] = allocatable.hugepages2Mi.toQuantity();
  return {
    name: `${pool.name}-${zone}-${index}`,
    cpu: instance.cpu.toQuantity(),
    memory: instance.memory.toQuantity(),
    allocatableCpu: allocatable.cpu.toQuantity(),
    allocatableMemory: allocatable.memory.toQuantity(),
    arch: instance.arch,
    pods: allocatable.pods,
    extraResources,
    labels: { ...poolLabels(pool), [ZONE_LABEL]: zone },
    taints: poolTaints(pool),
  };
}

/**
 * Every node of the environment at rest: for each pool, `nodesPerZone` nodes in
 * each of its zones, named `<pool>-<zone>-<index>`.
 */
export function environmentNodes(environment: EnvironmentSpec): FakeNodeSpec[] {
  return environment.nodePools.flatMap((pool) =>
    pool.zones.flatMap((zone) => Array.from({ length: pool.nodesPerZone }, (_, index) => poolNode(pool, zone, index))),
  );
}
