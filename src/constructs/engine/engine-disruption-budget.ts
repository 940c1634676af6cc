import { Construct } from 'constructs';
import { IntOrString, KubePodDisruptionBudget } from '../../../imports/k8s';
import { DisruptionBudgetPlan, EnginePlan } from '../../planning/plan';
import { selectorLabels } from '../labels';
import { engineMetadata } from './engine-metadata';

/** Properties of an {@link EngineDisruptionBudget}. */
export interface EngineDisruptionBudgetProps {
  /** The engine as it runs in this environment. */
  readonly plan: EnginePlan;
  /** The budget the plan decided (engines with more than one replica). */
  readonly budget: DisruptionBudgetPlan;
}

/** The PodDisruptionBudget of an engine's pods: how many a drain may take at once. */
export class EngineDisruptionBudget extends Construct {
  constructor(scope: Construct, id: string, props: EngineDisruptionBudgetProps) {
    super(scope, id);
    const { plan, budget } = props;
    new KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: engineMetadata(plan),
      spec: {
        maxUnavailable: IntOrString.fromNumber(budget.maxUnavailable),
        selector: { matchLabels: selectorLabels(plan.engine.name) },
        // A pod that is not Ready serves nothing; letting a drain evict it cannot hurt.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }
}
