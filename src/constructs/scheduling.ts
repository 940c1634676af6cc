import * as kplus from 'cdk8s-plus-27';
import { PodSpec, TopologySpreadConstraint } from '../../imports/k8s';
import { NodePoolSpec } from '../environments/environment';
import { ARCH_LABEL, HOSTNAME_LABEL, ZONE_LABEL, poolSelector, poolTaints } from '../environments/node-pool-policy';
import { setField } from './escape-hatches';

/**
 * Places a workload's pods on `pool` (tolerating its taints, requiring its labels and architecture,
 * through cdk8s-plus-27's scheduling API) and, with more than one replica, spreads them evenly
 * across the pool's zones and then its nodes (on the pod spec at `podSpecPath`). One policy for
 * engines and stores.
 */
export function schedule(
  workload: kplus.Workload, podSpecPath: string, pool: NodePoolSpec | undefined, replicas: number, selector: Record<string, string>,
): void {
  const labels = poolSelector(pool);
  if (labels) {
    workload.scheduling.attract(kplus.Node.labeled(
      ...Object.entries(labels).map(([key, value]) => kplus.NodeLabelQuery.is(key, value)),
      kplus.NodeLabelQuery.is(ARCH_LABEL, pool!.instance.arch),
    ));
  }
  for (const taint of pool ? poolTaints(pool) : []) {
    workload.scheduling.tolerate(kplus.Node.tainted(kplus.NodeTaintQuery.is(taint.key, taint.value, { effect: TAINT_EFFECTS[taint.effect] })));
  }
  const spread = spreadConstraints(replicas, selector);
  // cdk8s-plus-27 has no topologySpreadConstraints (its `spread` is required anti-affinity).
  if (spread) setField<PodSpec, 'topologySpreadConstraints'>(workload, podSpecPath, 'topologySpreadConstraints', spread);
}

/** cdk8s-plus-27's name for each taint effect. */
export const TAINT_EFFECTS: Record<string, kplus.TaintEffect> = {
  NoSchedule: kplus.TaintEffect.NO_SCHEDULE,
  PreferNoSchedule: kplus.TaintEffect.PREFER_NO_SCHEDULE,
  NoExecute: kplus.TaintEffect.NO_EXECUTE,
};

/** With more than one replica, evenly across zones, then across nodes. */
function spreadConstraints(replicas: number, selector: Record<string, string>): TopologySpreadConstraint[] | undefined {
  const spread: TopologySpreadConstraint[] = replicas > 1
    ? [
      {
        topologyKey: ZONE_LABEL,
        maxSkew: 1,
        whenUnsatisfiable: 'DoNotSchedule',
        // Cordoned or tainted nodes do not count as a domain: when a zone is drained or lost, its
        // replacements go to the zones that are left instead of waiting for it to come back.
        // (minDomains is left out for the same reason: it would hold them Pending.)
        nodeTaintsPolicy: 'Honor',
        labelSelector: { matchLabels: selector },
      },
      {
        topologyKey: HOSTNAME_LABEL,
        maxSkew: 1,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector },
      },
    ]
    : [];
  return spread.length > 0 ? spread : undefined;
}
