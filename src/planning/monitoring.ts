import { Duration } from '../model/duration';
import { EngineSpec } from '../catalog/engine-spec';
import { METRICS_PATH, RUNTIME_METRICS } from '../engines/runtime/metric-names';
import { isService } from './plan';

/**
 * Where the cluster's monitoring stack runs and what it selects: a prerequisite, like the
 * operator's CRDs (see README, "Monitoring"). kube-prometheus-stack installed as release
 * `kube-prometheus-stack` in namespace `monitoring`, prometheus-adapter beside it reading
 * {@link MONITORING_STACK.adapterConfigMap}, Grafana's dashboard sidecar watching that namespace.
 */
export const MONITORING_STACK = {
  /** kube-prometheus-stack's default rule selector is `release: <release name>`. */
  ruleSelectorLabels: { release: 'kube-prometheus-stack' } as Readonly<Record<string, string>>,
  /** Grafana's sidecar (k8s-sidecar) loads ConfigMaps carrying this label. */
  dashboardLabels: { grafana_dashboard: '1' } as Readonly<Record<string, string>>,
  /** k8s-sidecar puts a dashboard in the folder this annotation names. */
  dashboardFolderAnnotation: 'grafana_folder',
  /** The Grafana folder of every generated dashboard. */
  dashboardFolder: 'Nautilus',
  /** The ConfigMap prometheus-adapter mounts as its `--config` (Helm: `rules.existing`). */
  adapterConfigMap: 'prometheus-adapter-nautilus',
  /** The key of the adapter's configuration file in that ConfigMap. */
  adapterConfigKey: 'config.yaml',
  /** kube-prometheus-stack's Prometheus Service (`<release>-prometheus`) and its port: what release analyses query. */
  prometheusService: { name: 'kube-prometheus-stack-prometheus', port: 9090 },
} as const;

/** An alerting rule: fires once `expr` has returned series for `for`. */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long `expr` must keep returning series before the alert fires; zero fires at once. */
  readonly for: Duration;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook: string };
}

/**
 * The labels every engine series carries once scraped through its ServiceMonitor (the operator
 * adds them from the target's Service and Pod): the rules and the adapter rely on these.
 */
export const SCRAPE_LABELS = {
  namespace: 'namespace',
  /** The Service name: the engine's name. */
  engine: 'service',
  pod: 'pod',
} as const;

/**
 * A per-pod custom metric served to HorizontalPodAutoscalers through the custom metrics API: the
 * HPA asks for `name`, prometheus-adapter answers with the per-second rate of `counter` over
 * `window`, leaving out requests to the paths that are not traffic (probes, scrapes).
 */
export interface PodRateMetric {
  /** The name HPAs put in `metrics[].pods.metric.name`. */
  readonly name: string;
  /** The runtime counter it is derived from. */
  readonly counter: string;
  /** The rate window: at least four scrape intervals (15 s), so a missed scrape does not zero it. */
  readonly window: Duration;
}

/** `requests_per_second`: the one definition behind the HPAs' metric and the adapter rule. */
export const REQUESTS_PER_SECOND: PodRateMetric = {
  name: 'requests_per_second',
  counter: RUNTIME_METRICS.requests,
  window: Duration.minutes(1),
};

/** Every custom metric an HPA may use. */
export const POD_CUSTOM_METRICS: readonly PodRateMetric[] = [REQUESTS_PER_SECOND];

/**
 * The request paths that are not traffic: the scrape path and every engine's probe paths. Left out
 * of request rates, latency and error ratios, or the kubelet's probes would count as load.
 */
export function nonTrafficPaths(engines: readonly EngineSpec[]): string[] {
  const paths = new Set<string>([METRICS_PATH]);
  for (const engine of engines) {
    if (!isService(engine)) continue;
    paths.add(engine.workload.health.liveness);
    paths.add(engine.workload.health.readiness);
  }
  return [...paths].sort();
}

/** A PromQL label matcher leaving out `paths` (values escaped for a regular expression in a string). */
export function trafficPathMatcher(paths: readonly string[]): string {
  const escaped = paths.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&'));
  return `path!~"${escaped.join('|')}"`;
}

/** `sum(` or `sum by (a, b) (`: the opening of an aggregation over `by`. */
function sumBy(by: readonly string[]): string {
  return by.length > 0 ? `sum by (${by.join(', ')}) (` : 'sum(';
}

/**
 * The share of requests answered with a 5xx status over `window`: the one definition behind the
 * error-ratio recording rule (per engine, the tiers' alerts read it) and the release analyses
 * (over one new version's pods). `matchers` narrow the series (PromQL label matchers); `by` keeps
 * labels. Probe and scrape requests (`nonTrafficPaths`) are left out.
 */
export function errorRatioQuery(nonTrafficPaths: readonly string[], window: Duration, matchers: readonly string[] = [], by: readonly string[] = []): string {
  const traffic = [trafficPathMatcher(nonTrafficPaths), ...matchers].join(',');
  const errors = `${sumBy(by)}rate(${RUNTIME_METRICS.requests}{${traffic},status=~"5.."}[${window.toPrometheus()}]))`;
  // One ratio (no `by`): no 5xx series means nothing failed, a zero rather than no answer.
  const numerator = by.length > 0 ? errors : `(${errors} or vector(0))`;
  return `${numerator}\n/\n${sumBy(by)}rate(${RUNTIME_METRICS.requests}{${traffic}}[${window.toPrometheus()}]))`;
}

/** The `quantile` of request latency over `window`, in seconds (see {@link errorRatioQuery}). */
export function latencyQuantileQuery(quantile: number, nonTrafficPaths: readonly string[], window: Duration, matchers: readonly string[] = [], by: readonly string[] = []): string {
  const traffic = [trafficPathMatcher(nonTrafficPaths), ...matchers].join(',');
  return `histogram_quantile(${quantile}, ${sumBy([...by, 'le'])}rate(${RUNTIME_METRICS.requestDuration}_bucket{${traffic}}[${window.toPrometheus()}])))`;
}

/** Requests answered over `window` (see {@link errorRatioQuery}). */
export function requestCountQuery(nonTrafficPaths: readonly string[], window: Duration, matchers: readonly string[] = []): string {
  const traffic = [trafficPathMatcher(nonTrafficPaths), ...matchers].join(',');
  return `${sumBy([])}increase(${RUNTIME_METRICS.requests}{${traffic}}[${window.toPrometheus()}]))`;
}
