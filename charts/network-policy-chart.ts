import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { environmentLabels } from '../src/constructs/labels';
import { NetworkPolicies } from '../src/constructs/network-policies';
import { PlatformChartProps } from './platform-chart-props';

/** Default-deny and catalog-derived allow rules, applied before any workload starts. */
export class NetworkPolicyChart extends Chart {
  constructor(scope: Construct, id: string, props: PlatformChartProps) {
    super(scope, id, { labels: environmentLabels(props.environment.name), disableResourceNameHashes: true });
    new NetworkPolicies(this, 'Policies', props);
  }
}
