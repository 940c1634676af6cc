import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ServiceSpec } from '../../../imports/k8s';
import { ServiceMonitor, ServiceMonitorSpecEndpointsRelabelingsAction } from '../../../imports/monitoring.coreos.com';
import { imageVersion } from '../../model/domains';
import { DataStorePlan } from '../../planning/plan';
import { STORE_PROCESS_LABEL, storeMetricsServiceName } from '../../planning/store-monitoring';
import { service, setField } from '../escape-hatches';
import { componentLabels, selectorLabels } from '../labels';

/**
 * Prometheus scraping every member of a store: a headless Service over all members (whatever their
 * role) naming the scrape ports, and a ServiceMonitor with one endpoint per scrape target of the
 * plan (Patroni's REST API, redis_exporter for the server and for Sentinel, the backup metrics),
 * each adding the `process` label that tells their series apart.
 */
export class StoreMonitor extends Construct {
  constructor(scope: Construct, id: string, plan: DataStorePlan) {
    super(scope, id);
    const { store } = plan;
    const name = storeMetricsServiceName(store.name);
    const labels = componentLabels(store.name, 'data-store', imageVersion(store.image));
    const metadata = { name, namespace: plan.namespace, labels: { ...labels, 'nautilus.io/metrics': 'true' } };
    const endpoints = plan.monitoring.scrapeEndpoints;
    const ports = [...new Map(endpoints.map((e) => [e.portName, e.port])).entries()]
      .map(([portName, port]): kplus.ServicePort => ({ name: portName, port, targetPort: port, protocol: kplus.Protocol.TCP }));
    const metricsService = service(this, 'Service', {
      metadata,
      clusterIP: 'None',
      selector: kplus.Pods.select(this, 'MemberPods', { labels: selectorLabels(store.name) }),
      ports,
    });
    // Publishing unready members (cdk8s-plus-27 has no such prop): a member failing its readiness is exactly when its metrics matter.
    setField<ServiceSpec, 'publishNotReadyAddresses'>(metricsService, '/spec', 'publishNotReadyAddresses', true);
    new ServiceMonitor(this, 'ServiceMonitor', {
      metadata,
      spec: {
        selector: { matchLabels: { ...selectorLabels(store.name), 'nautilus.io/metrics': 'true' } },
        endpoints: endpoints.map((e) => ({
          port: e.portName,
          path: e.path,
          ...(e.params ? { params: Object.fromEntries(Object.entries(e.params).map(([k, v]) => [k, [...v]])) } : {}),
          interval: plan.monitoring.scrapeInterval.toPrometheus(),
          relabelings: [{ action: ServiceMonitorSpecEndpointsRelabelingsAction.REPLACE, targetLabel: STORE_PROCESS_LABEL, replacement: e.process }],
        })),
      },
    });
  }
}
