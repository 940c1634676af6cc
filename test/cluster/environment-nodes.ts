import { EnvironmentSpec, NodePoolSpec } from '../../src/environments/environment';
import { GPU_RESOURCE, ZONE_LABEL, poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { Memory } from '../../src/model/quantities';
import { FakeNodeSpec } from './fake-nodes';

export { ZONE_LABEL };

/** Pods per node, the kubelet's default `maxPods`. */
const MAX_PODS = 110;

/**
 * The fake node for one node of `pool` in `zone`: what the kubelet, Karpenter's
 * NodePool template, the NVIDIA device plugin and GPU Feature Discovery would
 * register for that instance shape.
 *
 * - labels: zone, arch, and {@link poolLabels} (pool name, CPU manager policy, GPU labels);
 * - taints: {@link poolTaints};
 * - capacity: the instance's CPU, memory and pods, plus `nvidia.com/gpu` and
 *   `hugepages-2Mi` when the instance has them;
 * - allocatable: the capacity, except memory, from which pre-allocated
 *   hugepages are subtracted as a kubelet does. No kube/system reservation and
 *   no eviction threshold are subtracted: the environment model does not
 *   state them, so the fit checked here is an upper bound.
 */
export function poolNode(pool: NodePoolSpec, zone: string, index: number): FakeNodeSpec {
  const { instance } = pool;
  const extraResources: Record<string, string> = {};
  let allocatableMemory = instance.memory;
  if ((instance.gpus ?? 0) > 0) {
    extraResources[GPU_RESOURCE] = String(instance.gpus);
  }
  if (instance.hugepages2Mi) {
    extraResources['hugepages-2Mi'] = instance.hugepages2Mi.toQuantity();
    allocatableMemory = Memory.mebibytes(instance.memory.mebibytes - instance.hugepages2Mi.mebibytes);
  }
  return {
    name: `${pool.name}-${zone}-${index}`,
    cpu: instance.cpu.toQuantity(),
    memory: instance.memory.toQuantity(),
    allocatableMemory: allocatableMemory.toQuantity(),
    arch: instance.arch,
    pods: MAX_PODS,
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
