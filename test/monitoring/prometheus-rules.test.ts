/**
 * The generated PrometheusRules, checked by the real promtool (Debian's `prometheus` package):
 * `promtool check rules` on every group of every environment, and `promtool test rules` cases
 * showing each alert fires on the series that should trigger it and stays silent otherwise. The
 * rule files are the PrometheusRule specs exactly as synthesized; the thresholds and labels the
 * expectations use are read from the plans, so a catalog change moves both.
 */
import * as fs from 'fs';
import * as path from 'path';
import { stringify } from 'yaml';
import { DataStoreName } from '../../src/catalog/engine-spec';
import { Tier } from '../../src/catalog/tier';
import { AlertingRule, RuleGroup, isAlertingRule } from '../../src/constructs/monitoring/prometheus-rules';
import { LATENCY_BUCKETS } from '../../src/engines/runtime/metric-names';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { planEnvironment } from '../../src/planning/environment-plan';
import { StorePlans } from '../../src/planning/stores/store-kinds';
import { K8sObject, platformInput, synthObjects } from '../support/platform';
import { promtool, scratchDir, writeRuleFile } from './promtool';

const prod = PLATFORM_ENVIRONMENTS.find((e) => e.name === 'prod')!;
const prodPlans = planEnvironment(platformInput(), prod);
const plan = (name: string) => prodPlans.engines.find((p) => p.engine.name === name)!;

function ruleObjects(environment = prod): K8sObject[] {
  return synthObjects(environment).filter((o) => o.kind === 'PrometheusRule');
}

const prodRules = ruleObjects();
// As rendered: an alert's `for` here is Prometheus's string (`10m`), not the plan's Duration.
const groups: RuleGroup[] = prodRules.map((o) => o.spec.groups[0]);

/** The one alerting rule named `alert` whose labels include `labels`. */
function alertRule(alert: string, labels: Record<string, string> = {}): AlertingRule {
  const found = groups.flatMap((g) => g.rules).filter((r): r is AlertingRule =>
    isAlertingRule(r) && r.alert === alert && Object.entries(labels).every(([k, v]) => r.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one ${alert} rule with ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0];
}

/** The rule's annotations as Prometheus renders them for an alert with `labels` and value `value`. */
function rendered(rule: AlertingRule, labels: Record<string, string>, value: string): Record<string, string> {
  const render = (text: string) => text
    .replace(/\{\{ \$value( \| humanize\w+)? \}\}/g, value)
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, label: string) => labels[label] ?? '');
  return Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, render(v)]));
}

interface Series { readonly series: string; readonly values: string }

interface AlertCase {
  readonly alert: string;
  readonly input: readonly Series[];
  /** Minutes into the series. */
  readonly at: number;
  /** Expected alerts: labels beyond the rule's own, and the value the annotations show (humanized where the rule humanizes it). */
  readonly expect: ReadonlyArray<{ readonly rule: AlertingRule; readonly labels: Record<string, string>; readonly value: string }>;
  readonly interval?: string;
}

/** Runs one `promtool test rules` case against every prod rule file; returns promtool's output on failure. */
function runCase(c: AlertCase): string | undefined {
  const dir = scratchDir('nautilus-promtool-');
  try {
    const files = prodRules.map((rule) => path.basename(writeRuleFile(dir, rule)));
    const test = {
      rule_files: files,
      evaluation_interval: '1m',
      tests: [{
        interval: c.interval ?? '1m',
        input_series: c.input,
        alert_rule_test: [{
          eval_time: `${c.at}m`,
          alertname: c.alert,
          exp_alerts: c.expect.map((e) => {
            const labels = { ...e.rule.labels, ...e.labels };
            return { exp_labels: labels, exp_annotations: rendered(e.rule, labels, e.value) };
          }),
        }],
      }],
    };
    fs.writeFileSync(path.join(dir, 'test.yaml'), stringify(test, { lineWidth: 0 }));
    const result = promtool(['test', 'rules', 'test.yaml'], dir);
    return result.status === 0 ? undefined : result.output;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function expectCase(c: AlertCase): void {
  expect(runCase(c)).toBeUndefined();
}

describe('promtool check rules', () => {
  it.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('%s: every PrometheusRule group is a valid rule file', (_name, environment) => {
    const rules = ruleObjects(environment);
    expect(rules.map((r) => r.metadata.name)).toEqual(expect.arrayContaining([
      'nautilus-engine-traffic', 'nautilus-engine-availability', 'nautilus-engine-objectives', 'nautilus-scheduling', 'nautilus-data-stores',
    ]));
    const dir = scratchDir('nautilus-promtool-');
    try {
      const files = rules.map((rule) => writeRuleFile(dir, rule));
      const result = promtool(['check', 'rules', ...files], dir);
      expect(result.output).not.toMatch(/FAILED/);
      expect(result.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promtool rejects a broken expression (the check can fail)', () => {
    const broken = { ...prodRules[0], metadata: { name: 'broken' }, spec: { groups: [{ name: 'broken', rules: [{ record: 'x:y', expr: 'sum(rate(up[1m])' }] }] } };
    const dir = scratchDir('nautilus-promtool-');
    try {
      const result = promtool(['check', 'rules', writeRuleFile(dir, broken as K8sObject)], dir);
      expect(result.status).not.toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('objectives are typed tier data', () => {
  it.each(Tier.all().map((t) => [t.name, t] as const))('%s: the latency objective is a bucket bound of the runtime histogram', (_name, tier) => {
    expect(LATENCY_BUCKETS).toContain(tier.objectives.latency.toSeconds());
    expect(tier.objectives.errorRatio).toBeGreaterThan(0);
    expect(tier.objectives.errorRatio).toBeLessThan(1);
  });

  it('the ultra-low-latency objective is far tighter than compute\'s', () => {
    expect(Tier.ULTRA_LOW_LATENCY.objectives.latency.toSeconds() * 100).toBeLessThanOrEqual(Tier.COMPUTE.objectives.latency.toSeconds());
    expect(alertRule('NautilusLatencyObjectiveBreached', { tier: 'ultra-low-latency' }).expr).toContain(`> ${Tier.ULTRA_LOW_LATENCY.objectives.latency.toSeconds()}`);
    expect(alertRule('NautilusLatencyObjectiveBreached', { tier: 'compute' }).expr).toContain(`> ${Tier.COMPUTE.objectives.latency.toSeconds()}`);
  });

  it.each(Tier.all().map((t) => [t.name, t] as const))('%s: its objective alerts wait the tier\'s breachedFor and carry its severity, as do its engines\' availability alerts', (name, tier) => {
    for (const alert of ['NautilusLatencyObjectiveBreached', 'NautilusErrorRatioHigh']) {
      const rule = alertRule(alert, { tier: name });
      expect(rule.for).toBe(tier.objectives.breachedFor.toPrometheus());
      expect(rule.labels.severity).toBe(tier.severity);
    }
    const down = groups.flatMap((g) => g.rules).filter(isAlertingRule).filter((r) => r.alert === 'NautilusEngineDown' && r.labels.tier === name);
    expect(down.length).toBeGreaterThan(0);
    for (const rule of down) expect(rule.labels.severity).toBe(tier.severity);
  });

  it('the order path pages: the pinned and high-performance tiers are critical and the pinned tier\'s objectives alert soonest', () => {
    expect(Tier.all().filter((t) => t.severity === 'critical')).toEqual([Tier.ULTRA_LOW_LATENCY, Tier.HIGH_PERFORMANCE]);
    expect(Tier.ULTRA_LOW_LATENCY.objectives.breachedFor.toPrometheus()).toBe('2m');
    expect(new Set(Tier.all().filter((t) => t !== Tier.ULTRA_LOW_LATENCY).map((t) => t.objectives.breachedFor.toPrometheus()))).toEqual(new Set(['10m']));
  });

  it('every alert has a severity, a summary, a description and a runbook; every PrometheusRule carries the release label', () => {
    for (const rule of groups.flatMap((g) => g.rules).filter(isAlertingRule)) {
      expect(['critical', 'warning']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      expect(rule.annotations.description.length).toBeGreaterThan(10);
      expect(rule.annotations.runbook.length).toBeGreaterThan(10);
    }
    for (const object of prodRules) {
      expect(object.metadata.namespace).toBe('monitoring');
      expect(object.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    }
  });
});

describe('promtool test rules: each alert fires on its trigger and stays silent otherwise', () => {
  const marketData = plan('market-data');
  const riskEngine = plan('risk-engine');
  const up = (engine: string, namespace: string, pod: string, values: string): Series =>
    ({ series: `up{namespace="${namespace}",service="${engine}",pod="${pod}",job="${engine}"}`, values });

  /** Every pod of every service engine but `except` answering its scrapes. */
  const allUp = (...except: string[]): Series[] => prodPlans.engines
    .filter((p) => p.engine.workload.kind === 'service' && !except.includes(p.engine.name))
    .flatMap((p) => Array.from({ length: p.replicas }, (_, i) => up(p.engine.name, p.namespace, `${p.engine.name}-${i}`, '1x10')));

  it('NautilusEngineDown: fires when fewer pods than the disruption budget\'s floor answer scrapes', () => {
    const floor = marketData.replicas - marketData.disruptionBudget!.maxUnavailable;
    expect(floor).toBe(2);
    const rule = alertRule('NautilusEngineDown', { engine: 'market-data' });
    const pods = (...values: string[]) => values.map((v, i) => up('market-data', marketData.namespace, `market-data-${i}`, v));
    expectCase({ alert: 'NautilusEngineDown', at: 5, input: [...allUp('market-data'), ...pods('1x10', '0x10', '0x10')], expect: [{ rule, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusEngineDown', at: 5, input: [...allUp('market-data'), ...pods('1x10', '1x10', '0x10')], expect: [] });
    expectCase({ alert: 'NautilusEngineDown', at: 5, input: allUp(), expect: [] });
  });

  it('NautilusEngineDown: fires when an engine\'s targets are gone altogether', () => {
    const rule = alertRule('NautilusEngineDown', { engine: 'risk-engine' });
    expectCase({ alert: 'NautilusEngineDown', at: 5, input: allUp('risk-engine'), expect: [{ rule, labels: {}, value: '0' }] });
  });

  it('NautilusEngineUnavailable: fires when ready replicas drop below desired less the budget (a Deployment, from kube-state-metrics)', () => {
    const analytics = plan('analytics');
    expect(analytics.release.kind).toBe('rolling');
    const rule = alertRule('NautilusEngineUnavailable', { engine: 'analytics' });
    const ready = (n: number): Series => ({ series: `kube_deployment_status_replicas_ready{namespace="${analytics.namespace}",deployment="analytics"}`, values: `${n}x10` });
    const desired: Series = { series: `kube_deployment_spec_replicas{namespace="${analytics.namespace}",deployment="analytics"}`, values: '2x10' };
    expectCase({ alert: 'NautilusEngineUnavailable', at: 5, input: [ready(0), desired], expect: [{ rule, labels: { deployment: 'analytics' }, value: '0' }] });
    expectCase({ alert: 'NautilusEngineUnavailable', at: 5, input: [ready(1), desired], expect: [] });
  });

  it('NautilusEngineUnavailable: the same for a Rollout, from the Argo Rollouts controller (its Deployment runs no pods)', () => {
    expect(marketData.release.kind).toBe('canary');
    const rule = alertRule('NautilusEngineUnavailable', { engine: 'market-data' });
    const available = (n: number): Series => ({ series: `rollout_info_replicas_available{namespace="${marketData.namespace}",name="market-data"}`, values: `${n}x10` });
    const desired: Series = { series: `rollout_info_replicas_desired{namespace="${marketData.namespace}",name="market-data"}`, values: '3x10' };
    // The template Deployment at zero replicas is not what is judged.
    const template: Series[] = [
      { series: `kube_deployment_status_replicas_ready{namespace="${marketData.namespace}",deployment="market-data"}`, values: '0x10' },
      { series: `kube_deployment_spec_replicas{namespace="${marketData.namespace}",deployment="market-data"}`, values: '0x10' },
    ];
    expectCase({ alert: 'NautilusEngineUnavailable', at: 5, input: [available(1), desired, ...template], expect: [{ rule, labels: { name: 'market-data' }, value: '1' }] });
    expectCase({ alert: 'NautilusEngineUnavailable', at: 5, input: [available(2), desired, ...template], expect: [] });
  });

  describe('releases, from the Argo Rollouts controller\'s rollout_info (phase as the controller names it)', () => {
    const info = (name: string, namespace: string, phase: string, values: string): Series =>
      ({ series: `rollout_info{namespace="${namespace}",name="${name}",strategy="canary",traffic_router="",phase="${phase}"}`, values });
    const strategy = plan('strategy');
    const labels = (phase: string) => ({ name: 'strategy', strategy: 'canary', phase });

    it('NautilusReleaseAborted: fires at once when a release is aborted, silent when it completes', () => {
      const rule = alertRule('NautilusReleaseAborted', { engine: 'strategy' });
      expect(rule.labels.severity).toBe('warning');
      expectCase({ alert: 'NautilusReleaseAborted', at: 1, input: [info('strategy', strategy.namespace, 'Abort', '1x5')], expect: [{ rule, labels: labels('Abort'), value: '1' }] });
      expectCase({ alert: 'NautilusReleaseAborted', at: 1, input: [info('strategy', strategy.namespace, 'Completed', '1x5')], expect: [] });
    });

    it('NautilusReleaseDegraded: fires at the tier\'s severity once a Rollout has been in error for 5 minutes', () => {
      const rule = alertRule('NautilusReleaseDegraded', { engine: 'strategy' });
      expect(rule.labels.severity).toBe(strategy.engine.tier.severity);
      expectCase({ alert: 'NautilusReleaseDegraded', at: 6, input: [info('strategy', strategy.namespace, 'Timeout', '1x10')], expect: [{ rule, labels: labels('Timeout'), value: '1' }] });
      expectCase({ alert: 'NautilusReleaseDegraded', at: 3, input: [info('strategy', strategy.namespace, 'Error', '1x10')], expect: [] });
    });

    it('NautilusReleasePausedTooLong: a release waiting for a person for an hour reminds someone', () => {
      const rule = alertRule('NautilusReleasePausedTooLong', { engine: 'strategy' });
      expectCase({ alert: 'NautilusReleasePausedTooLong', at: 65, input: [info('strategy', strategy.namespace, 'Paused', '1x80')], expect: [{ rule, labels: labels('Paused'), value: '1' }] });
      expectCase({ alert: 'NautilusReleasePausedTooLong', at: 30, input: [info('strategy', strategy.namespace, 'Paused', '1x80')], expect: [] });
    });

    it('only engines released through a Rollout have release alerts', () => {
      const alerted = new Set(groups.flatMap((g) => g.rules).filter(isAlertingRule).filter((r) => r.alert.startsWith('NautilusRelease')).map((r) => r.labels.engine));
      expect([...alerted].sort()).toEqual(prodPlans.engines.filter((p) => p.release.kind !== 'rolling').map((p) => p.engine.name).sort());
    });
  });

  describe('the edge certificate, from cert-manager\'s series (as its controller names them)', () => {
    const edge = prodPlans.edge!;
    const certificate = { namespace: edge.namespace, name: edge.certificate.name };
    const issuerLabels = { issuer_name: edge.issuerName, issuer_kind: 'Issuer', issuer_group: 'cert-manager.io' };
    const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
    const day = 24 * 3600;
    /** The certificate's expiry as a timestamp, `days` after the evaluation at minute 20. */
    const expiresIn = (days: number): Series => ({
      series: `certmanager_certificate_expiration_timestamp_seconds{${labelText({ ...certificate, ...issuerLabels })}}`,
      values: `${20 * 60 + days * day}x30`,
    });

    it('NautilusCertificateExpiringSoon and NautilusCertificateExpiring: a renewal failing for weeks warns, a week left pages', () => {
      const soon = alertRule('NautilusCertificateExpiringSoon');
      const close = alertRule('NautilusCertificateExpiring');
      expect([soon.labels.severity, close.labels.severity]).toEqual(['warning', 'critical']);
      const labels = { name: certificate.name, ...issuerLabels };
      expectCase({ alert: 'NautilusCertificateExpiringSoon', at: 20, input: [expiresIn(10)], expect: [{ rule: soon, labels, value: '10d 0h 0m 0s' }] });
      expectCase({ alert: 'NautilusCertificateExpiringSoon', at: 20, input: [expiresIn(20)], expect: [] });
      expectCase({ alert: 'NautilusCertificateExpiring', at: 20, input: [expiresIn(3)], expect: [{ rule: close, labels, value: '3d 0h 0m 0s' }] });
      expectCase({ alert: 'NautilusCertificateExpiring', at: 20, input: [expiresIn(10)], expect: [] });
    });

    it('NautilusCertificateNotReady: fires once the certificate has not been Ready for 15 minutes', () => {
      const rule = alertRule('NautilusCertificateNotReady');
      const ready = (condition: string, values: string): Series => ({ series: `certmanager_certificate_ready_status{${labelText({ ...certificate, condition })}}`, values });
      const notReady = [ready('True', '0x30'), ready('False', '1x30'), ready('Unknown', '0x30')];
      expectCase({ alert: 'NautilusCertificateNotReady', at: 20, input: notReady, expect: [{ rule, labels: { name: certificate.name }, value: '1' }] });
      expectCase({ alert: 'NautilusCertificateNotReady', at: 10, input: notReady, expect: [] });
      expectCase({ alert: 'NautilusCertificateNotReady', at: 20, input: [ready('True', '1x30'), ready('False', '0x30'), ready('Unknown', '0x30')], expect: [] });
    });

    it('NautilusCertificateUnmonitored: fires when cert-manager\'s series of the certificate are missing for 30 minutes', () => {
      const rule = alertRule('NautilusCertificateUnmonitored');
      expectCase({ alert: 'NautilusCertificateUnmonitored', at: 35, input: [{ series: 'up{job="other"}', values: '1x40' }], expect: [{ rule, labels: { name: certificate.name }, value: '1' }] });
      expectCase({ alert: 'NautilusCertificateUnmonitored', at: 35, input: [{ ...expiresIn(60), values: `${60 * day}x40` }], expect: [] });
    });
  });

  /** Request-duration buckets of one engine: `perMinute` requests a minute, all answered just under `seconds`. */
  function durations(engine: string, namespace: string, seconds: number, perMinute: number): Series[] {
    return [...LATENCY_BUCKETS.map(String), '+Inf'].map((le) => ({
      series: `nautilus_http_request_duration_seconds_bucket{namespace="${namespace}",service="${engine}",pod="${engine}-0",path="/orders",le="${le}"}`,
      values: le === '+Inf' || Number(le) >= seconds ? `0+${perMinute}x30` : '0x30',
    }));
  }

  it('NautilusLatencyObjectiveBreached: 2.5 ms answers break the ultra-low-latency objective, not the high-performance one', () => {
    const rule = alertRule('NautilusLatencyObjectiveBreached', { tier: 'ultra-low-latency' });
    const labels = { namespace: riskEngine.namespace, service: 'risk-engine', quantile: '0.99' };
    // 99th percentile interpolated inside the (1 ms, 2.5 ms] bucket: 1 ms + 0.99 × 1.5 ms.
    expectCase({ alert: 'NautilusLatencyObjectiveBreached', at: 10, input: durations('risk-engine', riskEngine.namespace, 0.0025, 600), expect: [{ rule, labels, value: '0.0024850000000000002' }] });
    expectCase({ alert: 'NautilusLatencyObjectiveBreached', at: 10, input: durations('risk-engine', riskEngine.namespace, 0.0005, 600), expect: [] });
    expectCase({ alert: 'NautilusLatencyObjectiveBreached', at: 20, input: durations('market-data', marketData.namespace, 0.0025, 600), expect: [] });
  });

  it('NautilusErrorRatioHigh: fires above the tier\'s error objective, ignoring probe requests', () => {
    const rule = alertRule('NautilusErrorRatioHigh', { tier: 'high-performance' });
    const requests = (status: string, path: string, perMinute: number): Series => ({
      series: `nautilus_http_requests_total{namespace="${marketData.namespace}",service="market-data",pod="market-data-0",path="${path}",status="${status}"}`,
      values: `0+${perMinute}x30`,
    });
    expectCase({ alert: 'NautilusErrorRatioHigh', at: 20, input: [requests('200', '/quotes', 90), requests('500', '/quotes', 10)], expect: [{ rule, labels: { namespace: marketData.namespace, service: 'market-data' }, value: '10%' }] });
    // Failing readiness probes are not traffic: 503s on the readiness path change nothing.
    expectCase({ alert: 'NautilusErrorRatioHigh', at: 20, input: [requests('200', '/quotes', 100), requests('503', '/health/ready', 60)], expect: [] });
  });

  it('NautilusAutoscalerAtMaximum: fires after 30 minutes at the catalog\'s maximum', () => {
    const max = marketData.autoscaling!.maxReplicas;
    const rule = alertRule('NautilusAutoscalerAtMaximum', { engine: 'market-data' });
    const current = (n: number): Series => ({ series: `kube_horizontalpodautoscaler_status_current_replicas{namespace="${marketData.namespace}",horizontalpodautoscaler="market-data"}`, values: `${n}x60` });
    expectCase({ alert: 'NautilusAutoscalerAtMaximum', at: 45, input: [current(max)], expect: [{ rule, labels: { horizontalpodautoscaler: 'market-data' }, value: String(max) }] });
    expectCase({ alert: 'NautilusAutoscalerAtMaximum', at: 20, input: [current(max)], expect: [] });
    expectCase({ alert: 'NautilusAutoscalerAtMaximum', at: 45, input: [current(max - 1)], expect: [] });
  });

  it('NautilusAutoscalerMetricUnavailable: fires when the HPA reports ScalingActive=False for 10 minutes', () => {
    const rule = alertRule('NautilusAutoscalerMetricUnavailable', { engine: 'market-data' });
    expect(rule.annotations.description).toContain('requests_per_second from prometheus-adapter');
    const condition = (status: string, value: number): Series => ({
      series: `kube_horizontalpodautoscaler_status_condition{namespace="${marketData.namespace}",horizontalpodautoscaler="market-data",condition="ScalingActive",status="${status}"}`,
      values: `${value}x30`,
    });
    expectCase({ alert: 'NautilusAutoscalerMetricUnavailable', at: 15, input: [condition('false', 1), condition('true', 0)], expect: [{ rule, labels: { condition: 'ScalingActive', status: 'false', horizontalpodautoscaler: 'market-data' }, value: '1' }] });
    expectCase({ alert: 'NautilusAutoscalerMetricUnavailable', at: 15, input: [condition('false', 0), condition('true', 1)], expect: [] });
  });

  it('NautilusPodsPending: fires for a platform pod pending 10 minutes, not for other namespaces', () => {
    const rule = alertRule('NautilusPodsPending');
    const pending = (namespace: string, value: number): Series => ({ series: `kube_pod_status_phase{namespace="${namespace}",pod="p",phase="Pending"}`, values: `${value}x30` });
    expectCase({ alert: 'NautilusPodsPending', at: 15, input: [pending('nautilus-engines', 1)], expect: [{ rule, labels: { namespace: 'nautilus-engines', pod: 'p' }, value: '1' }] });
    expectCase({ alert: 'NautilusPodsPending', at: 15, input: [pending('kube-system', 1), pending('nautilus-data', 0)], expect: [] });
  });

  it('NautilusGpuUnavailable: fires when fewer GPUs are allocatable than the GPU engines need at rest', () => {
    const needed = prodPlans.engines.filter((p) => p.gpus > 0 && p.engine.workload.kind === 'service').reduce((n, p) => n + p.replicas * p.gpus, 0);
    expect(needed).toBeGreaterThan(0);
    const rule = alertRule('NautilusGpuUnavailable');
    const allocatable = (n: number): Series => ({ series: 'kube_node_status_allocatable{node="gpu-1",resource="nvidia_com_gpu",unit="integer"}', values: `${n}x30` });
    expectCase({ alert: 'NautilusGpuUnavailable', at: 20, input: [allocatable(needed - 1)], expect: [{ rule, labels: {}, value: String(needed - 1) }] });
    expectCase({ alert: 'NautilusGpuUnavailable', at: 20, input: [allocatable(needed)], expect: [] });
  });

  it('NautilusCronJobMissed: fires when the next schedule time is left in the past', () => {
    const training = plan('ml-training');
    const rule = alertRule('NautilusCronJobMissed', { engine: 'ml-training' });
    const next = (epochSeconds: number): Series => ({ series: `kube_cronjob_next_schedule_time{namespace="${training.namespace}",cronjob="ml-training"}`, values: `${epochSeconds}x30` });
    // Evaluation starts at the Unix epoch: at 20 minutes, a next run due at 0 is 1200 s late.
    expectCase({ alert: 'NautilusCronJobMissed', at: 20, input: [next(0)], expect: [{ rule, labels: { cronjob: 'ml-training' }, value: '20m 0s' }] });
    expectCase({ alert: 'NautilusCronJobMissed', at: 20, input: [next(3600)], expect: [] });
  });

  it('NautilusCronJobFailed: fires when the last run has not succeeded within its deadline', () => {
    const training = plan('ml-training');
    const deadline = training.engine.workload.kind === 'batch' ? training.engine.workload.activeDeadline.toSeconds() : 0;
    const rule = alertRule('NautilusCronJobFailed', { engine: 'ml-training' });
    const series = (name: string, value: number): Series => ({ series: `${name}{namespace="${training.namespace}",cronjob="ml-training"}`, values: `${value}x100` });
    const at = Math.ceil(deadline / 60) + 15;
    // Shown as Prometheus's humanizeDuration writes it.
    const lateBy = `${Math.floor(at / 60)}h ${at % 60}m 0s`;
    expectCase({ alert: 'NautilusCronJobFailed', at, interval: '5m', input: [series('kube_cronjob_status_last_schedule_time', 0), series('kube_cronjob_status_last_successful_time', -86400)], expect: [{ rule, labels: { cronjob: 'ml-training' }, value: lateBy }] });
    expectCase({ alert: 'NautilusCronJobFailed', at, interval: '5m', input: [series('kube_cronjob_status_last_schedule_time', 0)], expect: [{ rule, labels: { cronjob: 'ml-training' }, value: lateBy }] });
    expectCase({ alert: 'NautilusCronJobFailed', at, interval: '5m', input: [series('kube_cronjob_status_last_schedule_time', 0), series('kube_cronjob_status_last_successful_time', 60)], expect: [] });
  });

  it('NautilusDataStoreDown: critical once a replicated store has fewer ready members than a majority', () => {
    const rule = alertRule('NautilusDataStoreDown', { store: 'redis' });
    expect(rule.labels.severity).toBe('critical');
    const ready = (n: number): Series => ({ series: 'kube_statefulset_status_replicas_ready{namespace="nautilus-data",statefulset="redis"}', values: `${n}x10` });
    expectCase({ alert: 'NautilusDataStoreDown', at: 5, input: [ready(0)], expect: [{ rule, labels: { statefulset: 'redis' }, value: '0' }] });
    expectCase({ alert: 'NautilusDataStoreDown', at: 5, input: [ready(1)], expect: [{ rule, labels: { statefulset: 'redis' }, value: '1' }] });
    // Two of three keep the quorum: a warning, not this page.
    expectCase({ alert: 'NautilusDataStoreDown', at: 5, input: [ready(2)], expect: [] });
    expectCase({ alert: 'NautilusDataStoreDown', at: 5, input: [ready(prodPlans.stores.find((s) => s.store.name === 'redis')!.replicas)], expect: [] });
  });

  it('NautilusDataStoreMemberDown: a warning while one member is down and a majority is ready', () => {
    const rule = alertRule('NautilusDataStoreMemberDown', { store: 'timescaledb' });
    expect(rule.labels.severity).toBe('warning');
    const ready = (n: number): Series => ({ series: 'kube_statefulset_status_replicas_ready{namespace="nautilus-data",statefulset="timescaledb"}', values: `${n}x10` });
    expectCase({ alert: 'NautilusDataStoreMemberDown', at: 5, input: [ready(2)], expect: [{ rule, labels: { statefulset: 'timescaledb' }, value: '2' }] });
    expectCase({ alert: 'NautilusDataStoreMemberDown', at: 5, input: [ready(1)], expect: [] });
    expectCase({ alert: 'NautilusDataStoreMemberDown', at: 5, input: [ready(3)], expect: [] });
  });

  it('NautilusDataStoreUnreachable: fires when no engine reaches the store, not when one still does', () => {
    const rule = alertRule('NautilusDataStoreUnreachable', { store: 'timescaledb' });
    const check = (engine: string, value: number): Series => ({ series: `nautilus_dependency_up{namespace="nautilus-engines",service="${engine}",pod="${engine}-0",dependency="timescaledb"}`, values: `${value}x10` });
    expectCase({ alert: 'NautilusDataStoreUnreachable', at: 5, input: [check('analytics', 0), check('market-data', 0)], expect: [{ rule, labels: { dependency: 'timescaledb' }, value: '0' }] });
    expectCase({ alert: 'NautilusDataStoreUnreachable', at: 5, input: [check('analytics', 0), check('market-data', 1)], expect: [] });
  });

  it('a wrong expectation fails (the harness can fail)', () => {
    const rule = alertRule('NautilusDataStoreDown', { store: 'redis' });
    const output = runCase({ alert: 'NautilusDataStoreDown', at: 5, input: [{ series: 'kube_statefulset_status_replicas_ready{namespace="nautilus-data",statefulset="redis"}', values: '1x10' }], expect: [{ rule, labels: { statefulset: 'redis' }, value: '0' }] });
    expect(output).toMatch(/FAILED/);
  });
});

describe('promtool test rules: the replicated stores (Patroni, redis_exporter and backup series as their exporters name them)', () => {
  const storePlan = <K extends DataStoreName>(kind: K) => prodPlans.stores.find((s): s is StorePlans[K] => s.kind === kind)!;
  const timescale = storePlan('timescaledb');
  const redis = storePlan('redis');
  /** Labels a store member's series carry once scraped through its ServiceMonitor. */
  const member = (store: string, ordinal: number, process: string, extra: Record<string, string> = {}) => ({
    namespace: timescale.namespace, service: `${store}-metrics`, pod: `${store}-${ordinal}`, process, ...extra,
  });
  const patroni = (ordinal: number) => member('timescaledb', ordinal, 'patroni', { scope: 'timescaledb', name: `timescaledb-${ordinal}` });
  const series = (name: string, labels: Record<string, string>, values: string): Series =>
    ({ series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values });
  const MiB = 1024 * 1024;
  const server = (ordinal: number) => member('redis', ordinal, 'server');
  /** A healthy Redis primary with both replicas: the background of the TimescaleDB cases (its absence fires Redis's own alerts). */
  const healthyRedis = (): Series[] => [0, 1, 2].flatMap((i) => [
    series('redis_instance_info', { ...server(i), role: i === 0 ? 'master' : 'slave' }, '1x60'),
    series('redis_connected_slaves', server(i), `${i === 0 ? 2 : 0}x60`),
  ]);
  /** A healthy Patroni cluster: member 0 primary, both replicas streaming. */
  const healthyTimescale = (): Series[] => [0, 1, 2].flatMap((i) => [
    series('patroni_primary', patroni(i), `${i === 0 ? 1 : 0}x60`),
    series('patroni_replica', patroni(i), `${i === 0 ? 0 : 1}x60`),
    series('patroni_postgres_streaming', patroni(i), `${i === 0 ? 0 : 1}x60`),
  ]);

  it('the stores replicate in prod and the thresholds come from the catalog and the backup schedule', () => {
    expect(timescale.replicas).toBe(3);
    expect(redis.replicas).toBe(3);
    expect(alertRule('NautilusDataStoreReplicationLag', { store: 'timescaledb' }).expr).toContain(`> ${timescale.store.replicationLagAlert.bytes.mebibytes * MiB}`);
    expect(alertRule('NautilusDataStoreReplicationLag', { store: 'redis' }).for).toBe(redis.store.replicationLagAlert.for.toPrometheus());
    const backup = prod.timescaledb.backup;
    expect(backup.kind).toBe('object-store');
    expect(timescale.monitoring.backupAgeLimit!.toHours()).toBe(30);
    expect(alertRule('NautilusDataStoreBackupTooOld').expr).toContain(`> ${30 * 3600}`);
  });

  it('NautilusDataStoreNoPrimary (TimescaleDB): fires when no member is primary or the leader lock is free', () => {
    const rule = alertRule('NautilusDataStoreNoPrimary', { store: 'timescaledb' });
    const primary = (...values: number[]) => values.map((v, i) => series('patroni_primary', patroni(i), `${v}x10`));
    const unlocked = (value: number) => [0, 1, 2].map((i) => series('patroni_cluster_unlocked', patroni(i), `${value}x10`));
    expectCase({ alert: 'NautilusDataStoreNoPrimary', at: 5, input: [...primary(0, 0, 0), ...unlocked(0), ...healthyRedis()], expect: [{ rule, labels: {}, value: '0' }] });
    expectCase({ alert: 'NautilusDataStoreNoPrimary', at: 5, input: [...primary(0, 1, 0), ...unlocked(1), ...healthyRedis()], expect: [{ rule, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusDataStoreNoPrimary', at: 5, input: [...primary(0, 1, 0), ...unlocked(0), ...healthyRedis()], expect: [] });
  });

  it('NautilusDataStoreReplicationLag (TimescaleDB): fires for the replica replaying more than the threshold behind the primary', () => {
    const rule = alertRule('NautilusDataStoreReplicationLag', { store: 'timescaledb' });
    const input = (replayedByReplica1: number) => [
      series('patroni_xlog_location', patroni(0), `${256 * MiB}x20`),
      series('patroni_xlog_location', patroni(1), '0x20'),
      series('patroni_xlog_location', patroni(2), '0x20'),
      series('patroni_replica', patroni(0), '0x20'),
      series('patroni_replica', patroni(1), '1x20'),
      series('patroni_replica', patroni(2), '1x20'),
      series('patroni_xlog_replayed_location', patroni(0), '0x20'),
      series('patroni_xlog_replayed_location', patroni(1), `${replayedByReplica1}x20`),
      series('patroni_xlog_replayed_location', patroni(2), `${256 * MiB}x20`),
    ];
    expectCase({ alert: 'NautilusDataStoreReplicationLag', at: 10, input: input(128 * MiB), expect: [{ rule, labels: patroni(1), value: '128Mi' }] });
    expectCase({ alert: 'NautilusDataStoreReplicationLag', at: 10, input: input(200 * MiB), expect: [] });
  });

  it('NautilusDataStoreReplicaDisconnected (TimescaleDB): fires when fewer replicas stream than there are', () => {
    const rule = alertRule('NautilusDataStoreReplicaDisconnected', { store: 'timescaledb' });
    const input = (streaming2: number) => [
      series('patroni_replica', patroni(0), '0x10'), series('patroni_replica', patroni(1), '1x10'), series('patroni_replica', patroni(2), '1x10'),
      series('patroni_postgres_streaming', patroni(0), '0x10'), series('patroni_postgres_streaming', patroni(1), '1x10'),
      series('patroni_postgres_streaming', patroni(2), `${streaming2}x10`),
      ...healthyRedis(),
    ];
    expectCase({ alert: 'NautilusDataStoreReplicaDisconnected', at: 5, input: input(0), expect: [{ rule, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusDataStoreReplicaDisconnected', at: 5, input: input(1), expect: [] });
  });

  it('NautilusDataStoreFailover (TimescaleDB): fires for ten minutes after the timeline goes up', () => {
    const rule = alertRule('NautilusDataStoreFailover', { store: 'timescaledb' });
    // Member 0 (the old primary) is killed at 20 minutes; member 1 is promoted onto timeline 2.
    const input = [
      series('patroni_postgres_timeline', patroni(0), '1x20'),
      series('patroni_postgres_timeline', patroni(1), '1x20 2x30'),
      series('patroni_postgres_timeline', patroni(2), '1x21 2x29'),
    ];
    expectCase({ alert: 'NautilusDataStoreFailover', at: 25, input, expect: [{ rule, labels: {}, value: '2' }] });
    expectCase({ alert: 'NautilusDataStoreFailover', at: 15, input, expect: [] });
    expectCase({ alert: 'NautilusDataStoreFailover', at: 40, input, expect: [] });
  });

  it('NautilusDataStoreBackupTooOld: fires when the newest full backup is older than the schedule allows', () => {
    const rule = alertRule('NautilusDataStoreBackupTooOld');
    const limit = timescale.monitoring.backupAgeLimit!.toSeconds();
    const age = (seconds: number) => [0, 1, 2].map((i) =>
      series('pgbackrest_backup_since_last_completion_seconds', member('timescaledb', i, 'backup', { stanza: 'timescaledb', backup_type: 'full' }), `${seconds}+60x40`));
    expectCase({ alert: 'NautilusDataStoreBackupTooOld', at: 20, input: age(limit + 3600), expect: [{ rule, labels: { stanza: 'timescaledb' }, value: '1d 7h 20m 0s' }] });
    expectCase({ alert: 'NautilusDataStoreBackupTooOld', at: 20, input: age(limit - 7200), expect: [] });
  });

  it('NautilusDataStoreBackupUnhealthy: fires when pgbackrest info fails or the stanza is not ok', () => {
    const rule = alertRule('NautilusDataStoreBackupUnhealthy');
    const status = (info: number, stanza: number) => [
      series('pgbackrest_exporter_status', member('timescaledb', 0, 'backup', { stanza: 'timescaledb' }), `${info}x60`),
      series('pgbackrest_stanza_status', member('timescaledb', 0, 'backup', { stanza: 'timescaledb' }), `${stanza}x60`),
    ];
    expectCase({ alert: 'NautilusDataStoreBackupUnhealthy', at: 40, input: status(0, 0).slice(0, 1), expect: [{ rule, labels: { stanza: 'timescaledb' }, value: '0' }] });
    expectCase({ alert: 'NautilusDataStoreBackupUnhealthy', at: 40, input: status(1, 2), expect: [{ rule, labels: { stanza: 'timescaledb' }, value: '2' }] });
    expectCase({ alert: 'NautilusDataStoreBackupUnhealthy', at: 40, input: status(1, 0), expect: [] });
  });

  const sentinel = (ordinal: number, address = 'redis-0.redis-headless.nautilus-data.svc.cluster.local:6379') =>
    member('redis', ordinal, 'sentinel', { master_name: 'nautilus', master_address: address });
  const roles = (primary: number) => [0, 1, 2].map((i) => series('redis_instance_info', { ...server(i), role: i === primary ? 'master' : 'slave' }, '1x20'));

  it('NautilusDataStoreNoPrimary (Redis): fires when no member reports the master role', () => {
    const rule = alertRule('NautilusDataStoreNoPrimary', { store: 'redis' });
    expectCase({ alert: 'NautilusDataStoreNoPrimary', at: 5, input: [...roles(-1), ...healthyTimescale()], expect: [{ rule, labels: {}, value: '0' }] });
    expectCase({ alert: 'NautilusDataStoreNoPrimary', at: 5, input: [...roles(1), ...healthyTimescale()], expect: [] });
  });

  it('NautilusDataStoreReplicationLag (Redis): fires for a replica acknowledging more than the threshold behind the primary', () => {
    const rule = alertRule('NautilusDataStoreReplicationLag', { store: 'redis' });
    const replica = (ip: string) => ({ ...server(0), slave_ip: ip, slave_port: '6379', slave_state: 'online' });
    const input = (behind: number) => [
      ...roles(0),
      series('redis_master_repl_offset', server(0), `${20 * MiB}x20`),
      series('redis_master_repl_offset', server(1), `${20 * MiB}x20`),
      series('redis_connected_slave_offset_bytes', replica('10.0.0.2'), `${20 * MiB - behind}x20`),
      series('redis_connected_slave_offset_bytes', replica('10.0.0.3'), `${20 * MiB}x20`),
    ];
    expectCase({ alert: 'NautilusDataStoreReplicationLag', at: 10, input: input(10 * MiB), expect: [{ rule, labels: replica('10.0.0.2'), value: '10Mi' }] });
    expectCase({ alert: 'NautilusDataStoreReplicationLag', at: 10, input: input(4 * MiB), expect: [] });
  });

  it('NautilusDataStoreReplicaDisconnected (Redis): fires when the primary has fewer replicas than planned', () => {
    const rule = alertRule('NautilusDataStoreReplicaDisconnected', { store: 'redis' });
    const connected = (n: number) => [...roles(0), series('redis_connected_slaves', server(0), `${n}x20`), series('redis_connected_slaves', server(1), '0x20'), series('redis_connected_slaves', server(2), '0x20'), ...healthyTimescale()];
    expectCase({ alert: 'NautilusDataStoreReplicaDisconnected', at: 5, input: connected(1), expect: [{ rule, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusDataStoreReplicaDisconnected', at: 5, input: connected(2), expect: [] });
  });

  it('NautilusDataStoreFailover (Redis): fires when Sentinel names another primary, for ten minutes', () => {
    const rule = alertRule('NautilusDataStoreFailover', { store: 'redis' });
    const moved = 'redis-1.redis-headless.nautilus-data.svc.cluster.local:6379';
    const input = [0, 1, 2].flatMap((i) => [
      series('redis_sentinel_master_status', { ...sentinel(i), master_status: 'ok' }, '1x20'),
      series('redis_sentinel_master_status', { ...sentinel(i, moved), master_status: 'ok' }, '_x20 1x30'),
    ]);
    expectCase({ alert: 'NautilusDataStoreFailover', at: 25, input, expect: [{ rule, labels: {}, value: '2' }] });
    expectCase({ alert: 'NautilusDataStoreFailover', at: 15, input, expect: [] });
    expectCase({ alert: 'NautilusDataStoreFailover', at: 45, input, expect: [] });
  });

  it('NautilusRedisSentinelDegraded and NautilusRedisSentinelQuorumLost: a warning below full strength, critical below the quorum', () => {
    const degraded = alertRule('NautilusRedisSentinelDegraded');
    const lost = alertRule('NautilusRedisSentinelQuorumLost');
    expect([degraded.labels.severity, lost.labels.severity]).toEqual(['warning', 'critical']);
    const view = (okSentinels: number[], okReplicas = 2) => okSentinels.flatMap((ok, i) => [
      series('redis_sentinel_master_ok_sentinels', sentinel(i), `${ok}x20`),
      series('redis_sentinel_master_ok_slaves', sentinel(i), `${okReplicas}x20`),
      series('redis_sentinel_master_ckquorum_status', { ...member('redis', i, 'sentinel', { master_name: 'nautilus' }), message: 'm' }, `${ok >= redis.sentinel!.quorum ? 1 : 0}x20`),
    ]);
    expectCase({ alert: 'NautilusRedisSentinelDegraded', at: 10, input: view([2, 2]), expect: [{ rule: degraded, labels: {}, value: '2' }] });
    expectCase({ alert: 'NautilusRedisSentinelDegraded', at: 10, input: view([3, 3, 3], 1), expect: [{ rule: degraded, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusRedisSentinelDegraded', at: 10, input: view([3, 3, 3]), expect: [] });
    expectCase({ alert: 'NautilusRedisSentinelQuorumLost', at: 10, input: view([1]), expect: [{ rule: lost, labels: {}, value: '1' }] });
    expectCase({ alert: 'NautilusRedisSentinelQuorumLost', at: 10, input: view([2, 2]), expect: [] });
  });

  it('dev (one member each, no backups) has no replication, failover, Sentinel or backup alerts', () => {
    const dev = PLATFORM_ENVIRONMENTS.find((e) => e.name === 'dev')!;
    const alerts = ruleObjects(dev).flatMap((o) => o.spec.groups[0].rules).filter(isAlertingRule).map((r: AlertingRule) => r.alert);
    expect(alerts).toEqual(expect.arrayContaining(['NautilusDataStoreDown', 'NautilusDataStoreNoPrimary']));
    for (const absent of ['NautilusDataStoreMemberDown', 'NautilusDataStoreReplicationLag', 'NautilusDataStoreReplicaDisconnected', 'NautilusDataStoreFailover',
      'NautilusRedisSentinelDegraded', 'NautilusRedisSentinelQuorumLost', 'NautilusDataStoreBackupTooOld', 'NautilusDataStoreBackupUnhealthy']) {
      expect(alerts).not.toContain(absent);
    }
  });
});
