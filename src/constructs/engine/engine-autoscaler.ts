import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { Rollout } from '../../../imports/argoproj.io';
import { MetricTargetV2, Quantity } from '../../../imports/k8s';
import { countQuantity } from '../../model/quantities';
import { REQUESTS_PER_SECOND } from '../../planning/monitoring';
import { AutoscalingPlan, EnginePlan } from '../../planning/plan';
import { plusDuration } from '../durations';
import { setField } from '../escape-hatches';
import { engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineAutoscaler}. */
export interface EngineAutoscalerProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The bounds, targets and behaviour the plan decided. */
  readonly autoscaling: AutoscalingPlan;
  /** The workload it scales: the engine's Deployment, or its Rollout ({@link rolloutScalingTarget}). */
  readonly target: kplus.IScalable;
}

/** The HorizontalPodAutoscaler of a service engine: CPU and, where set, requests per second. */
export class EngineAutoscaler extends Construct {
  constructor(scope: Construct, id: string, props: EngineAutoscalerProps) {
    super(scope, id);
    const { plan, autoscaling } = props;
    const metrics = [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(autoscaling.targetCpuUtilization))];
    if (autoscaling.targetRequestsPerSecond !== undefined) {
      metrics.push(kplus.Metric.pods({
        name: REQUESTS_PER_SECOND.name,
        target: kplus.MetricTarget.averageValue(autoscaling.targetRequestsPerSecond),
      }));
    }
    const autoscaler = new kplus.HorizontalPodAutoscaler(this, 'Autoscaler', {
      metadata: engineMetadata(plan),
      target: props.target,
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics,
      // The tier's behavior (tier.ts): the larger step up, the smaller step down.
      scaleUp: {
        stabilizationWindow: plusDuration(autoscaling.behavior.scaleUp.stabilization),
        strategy: kplus.ScalingStrategy.MAX_CHANGE,
        policies: [
          { replicas: kplus.Replicas.percent(autoscaling.behavior.scaleUp.maxPercent), duration: plusDuration(autoscaling.behavior.scaleUp.period) },
          { replicas: kplus.Replicas.absolute(autoscaling.behavior.scaleUp.maxPods), duration: plusDuration(autoscaling.behavior.scaleUp.period) },
        ],
      },
      scaleDown: {
        stabilizationWindow: plusDuration(autoscaling.behavior.scaleDown.stabilization),
        strategy: kplus.ScalingStrategy.MIN_CHANGE,
        policies: [{ replicas: kplus.Replicas.absolute(autoscaling.behavior.scaleDown.pods), duration: plusDuration(autoscaling.behavior.scaleDown.period) }],
      },
    });
    if (autoscaling.targetRequestsPerSecond !== undefined) {
      // cdk8s-plus-27 writes the target as a bare number; the API server stores the quantity's
      // canonical form (1000 as 1k), so the plan's canonical quantity is written instead.
      setField<MetricTargetV2, 'averageValue'>(autoscaler, '/spec/metrics/1/pods/target', 'averageValue',
        Quantity.fromString(countQuantity(autoscaling.targetRequestsPerSecond)));
    }
  }
}

/**
 * An engine's Rollout as the target of its HorizontalPodAutoscaler (cdk8s-plus-27 scales its own
 * workloads only): the Rollout by name, with the containers of the Deployment whose template it
 * runs (the autoscaler checks they request CPU). Marking it leaves that Deployment at zero replicas.
 */
export function rolloutScalingTarget(rollout: Rollout, template: kplus.Deployment): kplus.IScalable {
  return {
    hasAutoscaler: true,
    markHasAutoscaler: () => undefined,
    toScalingTarget: () => ({ apiVersion: rollout.apiVersion, kind: rollout.kind, name: rollout.name, containers: template.containers }),
  };
}
