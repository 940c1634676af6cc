import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { environmentLabels } from '../src/constructs/labels';
import { PlatformDashboards } from '../src/constructs/monitoring/dashboards';
import { MetricsAdapterRules } from '../src/constructs/monitoring/metrics-adapter';
import { PlatformRules } from '../src/constructs/monitoring/prometheus-rules';
import { nonTrafficPaths } from '../src/planning/monitoring';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/**
 * What the cluster's monitoring stack needs from us, in its own namespace: the prometheus-adapter
 * rules serving the HPAs' custom metrics, the recording and alerting rules, and the dashboards.
 */
export class MonitoringChart extends Chart {
  constructor(scope: Construct, id: string, props: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(props.environment.name), disableResourceNameHashes: true });
    const paths = nonTrafficPaths(props.engines.map((plan) => plan.engine));
    // One home for the monitoring stack's namespace: the environment's, which the NetworkPolicies
    // admit scrapes from too.
    const namespace = props.environment.monitoringNamespace;
    new MetricsAdapterRules(this, 'MetricsAdapter', { namespace, nonTrafficPaths: paths });
    new PlatformRules(this, 'Rules', { environment: props.environment, engines: props.engines, stores: props.stores, nonTrafficPaths: paths, edge: props.edge });
    new PlatformDashboards(this, 'Dashboards', { environment: props.environment.name, namespace, engines: props.engines, stores: props.stores });
  }
}
