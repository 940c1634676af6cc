import { Affinity, Toleration, TopologySpreadConstraint } from '../../imports/k8s';
import { NodePoolSpec } from '../environments/environment';
import { ARCH_LABEL, HOSTNAME_LABEL, ZONE_LABEL, poolSelector, poolTaints } from '../environments/node-pool-policy';

/** Where the pods of one workload may run and how they spread: one policy for engines and stores. */
export interface Placement {
  readonly affinity?: Affinity;
  readonly tolerations?: Toleration[];
  readonly topologySpreadConstraints?: TopologySpreadConstraint[];
}

/**
 * Places pods on `pool` (tolerating its taints, requiring its labels and architecture) and, with
 * more than one replica, spreads them evenly across the pool's zones and then its nodes.
 */
export function placement(pool: NodePoolSpec | undefined, replicas: number, selector: Record<string, string>): Placement {
  const selectorLabels = poolSelector(pool);
  const affinity: Affinity | undefined = selectorLabels
    ? {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{
            matchExpressions: [
              ...Object.entries(selectorLabels).map(([key, value]) => ({ key, operator: 'In', values: [value] })),
              { key: ARCH_LABEL, operator: 'In', values: [pool!.instance.arch] },
            ],
          }],
        },
      },
    }
    : undefined;
  const tolerations = pool
    ? poolTaints(pool).map((t) => ({ key: t.key, operator: 'Equal', value: t.value, effect: t.effect }))
    : [];
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
  return {
    affinity,
    tolerations: tolerations.length > 0 ? tolerations : undefined,
    topologySpreadConstraints: spread.length > 0 ? spread : undefined,
  };
}
