import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { isService } from '../planning/plan';
import { EngineAnalysis } from './engine/engine-analysis';
import { EngineAutoscaler, rolloutScalingTarget } from './engine/engine-autoscaler';
import { EngineDisruptionBudget } from './engine/engine-disruption-budget';
import { EngineMeshRoutes } from './engine/engine-mesh-routes';
import { EngineService } from './engine/engine-service';
import { EngineServiceMonitor } from './engine/engine-service-monitor';
import { EngineRollout } from './engine/engine-rollout';
import { EngineWorkload, EngineWorkloadProps } from './engine/engine-workload';

/** Properties of an {@link Engine}: what its workload needs, and what its release measures. */
export interface EngineProps extends EngineWorkloadProps {
  /** Paths left out of a release's measurements (probes, scrapes): `nonTrafficPaths(catalog)`. */
  readonly nonTrafficPaths: readonly string[];
}

/**
 * One engine in one environment, one construct per resource family: its workload (ServiceAccount
 * and Deployment, or CronJob for batch engines), Service, PodDisruptionBudget,
 * HorizontalPodAutoscaler and ServiceMonitor, each where the plan calls for it; released through a
 * Rollout, also the Rollout, its AnalysisTemplate and, for blue/green, the preview Service or, for
 * a canary on a mesh, its routes.
 */
export class Engine extends Construct {
  constructor(scope: Construct, id: string, props: EngineProps) {
    super(scope, id);
    const { plan } = props;
    const workload = new EngineWorkload(this, 'Workload', props);
    if (!workload.deployment || !isService(plan.engine)) return;
    const port = plan.engine.workload.port;
    new EngineService(this, 'Service', { plan, port });
    let scaled: kplus.IScalable = workload.deployment;
    const release = plan.release;
    if (release.kind !== 'rolling') {
      // What the Rollout names comes first in the apply order: a Rollout whose preview Service or
      // AnalysisTemplate does not exist yet is marked InvalidSpec by the controller.
      if (release.kind === 'blue-green') new EngineService(this, 'PreviewService', { plan, port, name: release.previewService });
      if (release.kind === 'canary' && release.traffic.kind === 'mesh') new EngineMeshRoutes(this, 'MeshRoutes', { plan, routing: release.traffic });
      new EngineAnalysis(this, 'Analysis', { plan, analysis: release.analysis, nonTrafficPaths: props.nonTrafficPaths });
      const { rollout } = new EngineRollout(this, 'Rollout', { plan, release, deploymentName: workload.deployment.name });
      scaled = rolloutScalingTarget(rollout, workload.deployment);
    }
    if (plan.disruptionBudget) new EngineDisruptionBudget(this, 'DisruptionBudget', { plan, budget: plan.disruptionBudget });
    if (plan.autoscaling) new EngineAutoscaler(this, 'Autoscaler', { plan, autoscaling: plan.autoscaling, target: scaled });
    new EngineServiceMonitor(this, 'ServiceMonitor', { plan });
  }
}
