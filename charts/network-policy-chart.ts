import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { environmentLabels } from '../src/constructs/labels';
import { NetworkPolicies } from '../src/constructs/network-policies';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/** Default-deny and catalog-derived allow rules, applied before any workload starts. */
export class NetworkPolicyChart extends Chart {
  constructor(scope: Construct, id: string, plan: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(plan.environment.name), disableResourceNameHashes: true });
    new NetworkPolicies(this, 'Policies', plan);
  }
}
