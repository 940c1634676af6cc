import { Duration } from '../model/duration';
import { NodePoolSpec, NodeTaint } from './environment';

/** Well-known label of a node's zone (set by the kubelet / cloud provider). */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** Well-known label of a node's CPU architecture (set by the kubelet). */
export const ARCH_LABEL = 'kubernetes.io/arch';

/** Well-known label of a node's name (set by the kubelet). */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Label every node carries with the name of its pool. */
export const NODE_POOL_LABEL = 'nautilus.io/node-pool';

/** Label GPU Feature Discovery puts on nodes with NVIDIA GPUs. */
export const GPU_PRESENT_LABEL = 'nvidia.com/gpu.present';

/** The resource name NVIDIA's device plugin advertises. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/**
 * Taints keep everything but the intended tier off specialised nodes. The general pool is
 * untainted: it takes whatever does not ask for a pool.
 */
export function poolTaints(pool: NodePoolSpec): NodeTaint[] {
  switch (pool.role) {
    case 'general':
      return [];
    case 'latency':
      return [{ key: 'nautilus.io/dedicated', value: 'latency', effect: 'NoSchedule' }];
    case 'gpu':
      return [{ key: GPU_RESOURCE, value: 'present', effect: 'NoSchedule' }];
    case 'storage':
      return [{ key: 'nautilus.io/dedicated', value: 'storage', effect: 'NoSchedule' }];
  }
}

/**
 * Labels every node of the pool carries (set by the NodePool template; GPU ones by GPU Feature
 * Discovery on a real cluster). Well-known labels such as zone and arch are set by the kubelet.
 */
export function poolLabels(pool: NodePoolSpec): Record<string, string> {
  const labels: Record<string, string> = { [NODE_POOL_LABEL]: pool.name };
  if (pool.role === 'latency') labels['nautilus.io/cpu-manager-policy'] = pool.pinned ? 'static' : 'none';
  if ((pool.instance.gpus ?? 0) > 0) {
    labels[GPU_PRESENT_LABEL] = 'true';
    if (pool.instance.gpuProduct) labels['nvidia.com/gpu.product'] = pool.instance.gpuProduct;
  }
  return labels;
}

/**
 * The label pods select their pool by. Pods of the general pool select nothing, so they also run
 * on clusters whose nodes carry no pool labels (a dev cluster).
 */
export function poolSelector(pool: NodePoolSpec | undefined): Record<string, string> | undefined {
  if (!pool || pool.role === 'general') return undefined;
  const selector: Record<string, string> = { [NODE_POOL_LABEL]: pool.name };
  if ((pool.instance.gpus ?? 0) > 0) selector[GPU_PRESENT_LABEL] = 'true';
  return selector;
}

/** How Karpenter may reclaim a pool's nodes. */
export interface PoolConsolidation {
  /** Reclaim nodes that are underused as well as empty ones (their pods move elsewhere). */
  readonly whenUnderutilized: boolean;
  /** How long a node must be reclaimable first. */
  readonly after: Duration;
}

/**
 * General nodes are cheap to replace: reclaimed when empty or underused, after 5 minutes. Pinned,
 * GPU and storage nodes are expensive to warm: only when empty, after 30 minutes.
 */
export function poolConsolidation(pool: NodePoolSpec): PoolConsolidation {
  return pool.role === 'general' ? { whenUnderutilized: true, after: Duration.minutes(5) } : { whenUnderutilized: false, after: Duration.minutes(30) };
}
