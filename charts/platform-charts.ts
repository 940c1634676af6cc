import { App, Chart } from 'cdk8s';
import { EnvironmentPlan } from '../src/planning/environment-plan';
import { ClusterChart } from './cluster-chart';
import { DataStoresChart } from './data-stores-chart';
import { EdgeChart } from './edge-chart';
import { EnginesChart } from './engines-chart';
import { MonitoringChart } from './monitoring-chart';
import { NetworkPolicyChart } from './network-policy-chart';
import { SecretsChart } from './secrets-chart';

/**
 * The charts of one environment, in apply order, one output file each: cluster objects, secrets
 * from the secret manager, network policies, data stores, engines, the edge, monitoring. The entry point hands this to synthesis, so imports run one way
 * (src/ never imports charts/).
 */
export function platformCharts(app: App, plan: EnvironmentPlan): Chart[] {
  return [
    new ClusterChart(app, 'cluster', plan),
    new SecretsChart(app, 'secrets', plan),
    new NetworkPolicyChart(app, 'network-policies', plan),
    new DataStoresChart(app, 'data-stores', plan),
    new EnginesChart(app, 'engines', plan),
    new EdgeChart(app, 'edge', plan),
    new MonitoringChart(app, 'monitoring', plan),
  ];
}
