import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { MONITORING_STACK, POD_CUSTOM_METRICS, PodRateMetric, SCRAPE_LABELS, trafficPathMatcher } from '../../planning/monitoring';

/**
 * One rule of prometheus-adapter's configuration (`rules:` in its `--config` file). The adapter
 * ships no schema package; these are the fields of its config format that we use.
 *
 * @see https://github.com/kubernetes-sigs/prometheus-adapter/blob/master/docs/config.md
 */
export interface AdapterRule {
  /** Series discovery: which series the rule turns into metrics. */
  readonly seriesQuery: string;
  /** Which series labels name which Kubernetes resources. */
  readonly resources: { readonly overrides: Readonly<Record<string, { readonly resource: string }>> };
  /** The metric name the custom metrics API serves, from the series name. */
  readonly name: { readonly matches: string; readonly as: string };
  /** The query answered for a request; `<<.Series>>`, `<<.LabelMatchers>>`, `<<.GroupBy>>` are filled in by the adapter. */
  readonly metricsQuery: string;
}

/** The adapter rule serving `metric` per pod. */
export function adapterRule(metric: PodRateMetric, nonTrafficPaths: readonly string[]): AdapterRule {
  return {
    seriesQuery: `${metric.counter}{${SCRAPE_LABELS.namespace}!="",${SCRAPE_LABELS.pod}!=""}`,
    resources: {
      overrides: {
        [SCRAPE_LABELS.namespace]: { resource: 'namespace' },
        [SCRAPE_LABELS.pod]: { resource: 'pod' },
      },
    },
    name: { matches: `^${metric.counter}$`, as: metric.name },
    metricsQuery: `sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>,${trafficPathMatcher(nonTrafficPaths)}}[${metric.window.toPrometheus()}]))`,
  };
}

/** Properties of {@link MetricsAdapterRules}. */
export interface MetricsAdapterRulesProps {
  /** The monitoring stack's namespace, where prometheus-adapter runs: the environment's `monitoringNamespace`. */
  readonly namespace: string;
  /** Paths left out of request rates (probes, scrapes): `nonTrafficPaths(engines)`. */
  readonly nonTrafficPaths: readonly string[];
  /** The metrics to serve. @default POD_CUSTOM_METRICS */
  readonly metrics?: readonly PodRateMetric[];
}

/**
 * The prometheus-adapter configuration that serves every custom metric the HPAs use, as a
 * ConfigMap in the monitoring stack's namespace for the adapter to mount.
 */
export class MetricsAdapterRules extends Construct {
  /** The rules written to the ConfigMap. */
  public readonly rules: readonly AdapterRule[];

  constructor(scope: Construct, id: string, props: MetricsAdapterRulesProps) {
    super(scope, id);
    this.rules = (props.metrics ?? POD_CUSTOM_METRICS).map((metric) => adapterRule(metric, props.nonTrafficPaths));
    new kplus.ConfigMap(this, 'Resource', {
      metadata: {
        name: MONITORING_STACK.adapterConfigMap,
        namespace: props.namespace,
        labels: { 'app.kubernetes.io/name': 'prometheus-adapter', 'app.kubernetes.io/component': 'custom-metrics' },
      },
      data: { [MONITORING_STACK.adapterConfigKey]: stringify({ rules: this.rules }, { lineWidth: 0 }) },
    });
  }
}
