import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { ClusterFoundation } from '../src/constructs/cluster-foundation';
import { environmentLabels } from '../src/constructs/labels';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/** Namespaces, priority classes, quotas, storage classes, node pools, device plugin: applied first. */
export class ClusterChart extends Chart {
  constructor(scope: Construct, id: string, plan: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(plan.environment.name), disableResourceNameHashes: true });
    new ClusterFoundation(this, 'Foundation', plan);
  }
}
