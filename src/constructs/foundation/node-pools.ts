import { Construct } from 'constructs';
import {
  NodePool, NodePoolSpecDisruptionConsolidationPolicy, NodePoolSpecLimits, NodePoolSpecTemplateSpecRequirementsOperator,
  NodePoolSpecTemplateSpecTaintsEffect,
} from '../../../imports/karpenter.sh';
import { NodePoolSpec } from '../../environments/environment';
import { ARCH_LABEL, GPU_RESOURCE, ZONE_LABEL, poolConsolidation, poolLabels, poolTaints } from '../../environments/node-pool-policy';
import { Cpu, Memory } from '../../model/quantities';

/** Properties of {@link KarpenterNodePools}. */
export interface KarpenterNodePoolsProps {
  /** The node class every pool's nodes are made from (the environment's `karpenterNodeClass`). */
  readonly nodeClass: { readonly group: string; readonly kind: string; readonly name: string };
  /** The environment's node pools. */
  readonly pools: readonly NodePoolSpec[];
}

/** A Karpenter NodePool per specialised pool, so the latency and GPU pools grow and shrink declaratively. */
export class KarpenterNodePools extends Construct {
  constructor(scope: Construct, id: string, props: KarpenterNodePoolsProps) {
    super(scope, id);
    const { nodeClass, pools } = props;
    for (const pool of pools) {
      const limits: Record<string, NodePoolSpecLimits> = {
        cpu: NodePoolSpecLimits.fromString(Cpu.millis(pool.instance.cpu.millicores * pool.maxNodes).toQuantity()),
        memory: NodePoolSpecLimits.fromString(Memory.mebibytes(pool.instance.memory.mebibytes * pool.maxNodes).toQuantity()),
      };
      if (pool.instance.gpus) limits[GPU_RESOURCE] = NodePoolSpecLimits.fromNumber(pool.instance.gpus * pool.maxNodes);
      new NodePool(this, `NodePool-${pool.name}`, {
        metadata: { name: `nautilus-${pool.name}` },
        spec: {
          template: {
            metadata: { labels: poolLabels(pool) },
            spec: {
              nodeClassRef: { ...nodeClass },
              requirements: [
                { key: ARCH_LABEL, operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: [pool.instance.arch] },
                { key: ZONE_LABEL, operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: [...pool.zones] },
                { key: 'karpenter.sh/capacity-type', operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: ['on-demand'] },
              ],
              taints: poolTaints(pool).map((t) => ({
                key: t.key, value: t.value, effect: NodePoolSpecTemplateSpecTaintsEffect.NO_SCHEDULE,
              })),
            },
          },
          limits,
          disruption: {
            // The pool's consolidation (node-pool-policy.ts), one node at a time.
            consolidationPolicy: poolConsolidation(pool).whenUnderutilized
              ? NodePoolSpecDisruptionConsolidationPolicy.WHEN_EMPTY_OR_UNDERUTILIZED
              : NodePoolSpecDisruptionConsolidationPolicy.WHEN_EMPTY,
            consolidateAfter: poolConsolidation(pool).after.toPrometheus(),
            budgets: [{ nodes: '1' }],
          },
        },
      });
    }
  }
}
