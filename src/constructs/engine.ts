import { Construct } from 'constructs';
import { isService } from '../planning/plan';
import { EngineAutoscaler } from './engine/engine-autoscaler';
import { EngineDisruptionBudget } from './engine/engine-disruption-budget';
import { EngineService } from './engine/engine-service';
import { EngineServiceMonitor } from './engine/engine-service-monitor';
import { EngineWorkload, EngineWorkloadProps } from './engine/engine-workload';

/** Properties of an {@link Engine}: what its workload needs. */
export type EngineProps = EngineWorkloadProps;

/**
 * One engine in one environment, one construct per resource family: its workload (ServiceAccount
 * and Deployment, or CronJob for batch engines), Service, PodDisruptionBudget,
 * HorizontalPodAutoscaler and ServiceMonitor, each where the plan calls for it.
 */
export class Engine extends Construct {
  constructor(scope: Construct, id: string, props: EngineProps) {
    super(scope, id);
    const { plan } = props;
    const workload = new EngineWorkload(this, 'Workload', props);
    if (!workload.deployment || !isService(plan.engine)) return;
    new EngineService(this, 'Service', { plan, port: plan.engine.workload.port });
    if (plan.disruptionBudget) new EngineDisruptionBudget(this, 'DisruptionBudget', { plan, budget: plan.disruptionBudget });
    if (plan.autoscaling) new EngineAutoscaler(this, 'Autoscaler', { plan, autoscaling: plan.autoscaling, target: workload.deployment });
    new EngineServiceMonitor(this, 'ServiceMonitor', { plan });
  }
}
