/**
 * The custom metric contract: every metric an HPA asks for is served by a prometheus-adapter rule
 * in the same environment's output, both derived from one definition.
 */
import { parse } from 'yaml';
import { AdapterRule } from '../../src/constructs/monitoring/metrics-adapter';
import { DEV, PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { MONITORING_STACK, REQUESTS_PER_SECOND } from '../../src/planning/monitoring';
import { find, synthObjects } from '../support/platform';

describe.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('%s', (_name, environment) => {
  const objects = synthObjects(environment);
  const adapter = find(objects, 'ConfigMap', MONITORING_STACK.adapterConfigMap);
  const rules = (parse(adapter.data[MONITORING_STACK.adapterConfigKey]) as { rules: AdapterRule[] }).rules;

  it('the adapter rules ConfigMap is in the monitoring stack\'s namespace', () => {
    expect(adapter.metadata.namespace).toBe(environment.monitoringNamespace);
    expect(adapter.file).toBe('0006-monitoring.yaml');
  });

  it('every custom metric an HPA uses is served by exactly one adapter rule', () => {
    const asked = new Set(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')
      .flatMap((hpa) => (hpa.spec.metrics as Array<{ type: string; pods?: { metric: { name: string } } }>))
      .filter((m) => m.type === 'Pods').map((m) => m.pods!.metric.name));
    for (const name of asked) expect(rules.filter((r) => r.name.as === name)).toHaveLength(1);
    if (environment.name === 'prod') expect([...asked]).toEqual([REQUESTS_PER_SECOND.name]);
  });

  it('requests_per_second is the per-pod rate of the runtime counter, without probe and scrape requests', () => {
    const rule = rules.find((r) => r.name.as === REQUESTS_PER_SECOND.name)!;
    expect(rule.seriesQuery).toBe('nautilus_http_requests_total{namespace!="",pod!=""}');
    expect(new RegExp(rule.name.matches).test('nautilus_http_requests_total')).toBe(true);
    expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    expect(rule.metricsQuery).toBe('sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>,path!~"/health/live|/health/ready|/metrics"}[1m]))');
  });
});

describe('the monitoring namespace has one home, the environment', () => {
  // Rules, dashboards and adapter rules go where the NetworkPolicies admit scrapes from: a
  // different namespace in the environment moves all of them together.
  const objects = synthObjects({ ...DEV, monitoringNamespace: 'observability' });

  it('every object for the monitoring stack is in it', () => {
    const monitoring = objects.filter((o) => o.file === '0006-monitoring.yaml');
    expect(monitoring.length).toBeGreaterThan(0);
    expect(monitoring.filter((o) => o.metadata.namespace !== 'observability').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
  });

  it('the NetworkPolicies admit scrapes from it and from nowhere else of the kind', () => {
    const peers = objects.filter((o) => o.kind === 'NetworkPolicy')
      .flatMap((o) => (o.spec.ingress ?? []) as Array<{ from?: Array<{ namespaceSelector?: { matchLabels?: Record<string, string> } }> }>)
      .flatMap((rule) => rule.from ?? [])
      .map((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'])
      .filter((name): name is string => name !== undefined);
    expect(peers).toContain('observability');
    expect(peers).not.toContain('monitoring');
  });
});
