import { DashboardBuilder, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import { GraphThresholdsStyleConfigBuilder, GraphThresholdsStyleMode } from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { Tier } from '../../catalog/tier';
import { Duration } from '../../model/duration';
import { RUNTIME_METRICS } from '../../engines/runtime/metric-names';
import { MONITORING_STACK, SCRAPE_LABELS } from '../../planning/monitoring';
import { DataStorePlan, EnginePlan, isService } from '../../planning/plan';
import { storeSeries } from '../../planning/store-monitoring';
import { kindOf } from '../../planning/stores/store-kinds';
import { ARGO_ROLLOUTS_METRICS, RECORDED } from './prometheus-rules';

/** One generated Grafana dashboard. */
export interface GeneratedDashboard {
  /** Grafana uid, also the ConfigMap's name and the file name in it. */
  readonly uid: string;
  readonly title: string;
  /** The dashboard model, ready for JSON. */
  readonly model: unknown;
}

const ENGINE = SCRAPE_LABELS.engine;

function query(expr: string, legend: string): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend);
}

function panel(title: string, unit: string, queries: readonly DataqueryBuilder[], width = 8): PanelBuilder {
  const builder = new PanelBuilder().title(title).unit(unit).min(0).height(8).span(width);
  for (const q of queries) builder.withTarget(q);
  return builder;
}

/** A red line at `value` on a panel. */
function objectiveLine(builder: PanelBuilder, value: number): PanelBuilder {
  return builder
    .thresholds(new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: 'green' }, { value, color: 'red' }]))
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
}

/** How often an open dashboard reloads. */
const DASHBOARD_REFRESH = Duration.seconds(30);

/** How far back a dashboard looks when opened. */
const DASHBOARD_SPAN = Duration.hours(3);

function dashboard(uid: string, title: string, environment: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .tags(['nautilus', `environment:${environment}`, 'generated'])
    .refresh(DASHBOARD_REFRESH.toPrometheus())
    .time({ from: `now-${DASHBOARD_SPAN.toPrometheus()}`, to: 'now' })
    .timezone('utc')
    .readonly();
}

/** The platform overview: every engine's traffic, errors, latency and readiness side by side. */
function overview(environment: string, engines: readonly EnginePlan[]): GeneratedDashboard {
  const uid = 'nautilus-overview';
  const title = `Nautilus / ${environment} / Overview`;
  const namespaces = [...new Set(engines.map((plan) => plan.namespace))].sort().join('|');
  const builder = dashboard(uid, title, environment)
    .withRow(new RowBuilder('Engines'))
    .withPanel(panel('Requests per second', 'reqps', [query(`sum by (${ENGINE}) (${RECORDED.requestRate})`, `{{${ENGINE}}}`)]))
    .withPanel(panel('Error ratio (5xx)', 'percentunit', [query(`${RECORDED.errorRatio}`, `{{${ENGINE}}}`)]))
    .withPanel(panel('99th percentile latency', 's', [query(`${RECORDED.latencyQuantile}{quantile="0.99"}`, `{{${ENGINE}}}`)]))
    .withPanel(panel('Ready pods', 'short', [query(`sum by (${ENGINE}) (${RUNTIME_METRICS.ready}{${SCRAPE_LABELS.namespace}=~"${namespaces}"})`, `{{${ENGINE}}}`)], 12))
    .withPanel(panel('Requests in flight', 'short', [query(`sum by (${ENGINE}) (${RUNTIME_METRICS.requestsInFlight})`, `{{${ENGINE}}}`)], 12));
  return { uid, title, model: builder.build() };
}

/** One tier: a row per engine with its traffic, latency against the tier's objective, errors and pods. */
function tierDashboard(environment: string, tier: Tier, engines: readonly EnginePlan[]): GeneratedDashboard {
  const uid = `nautilus-tier-${tier.name}`;
  const title = `Nautilus / ${environment} / Tier ${tier.name}`;
  const { latencyQuantile, errorRatio } = tier.objectives;
  // PromQL, Grafana and the runtime's histogram count latency in seconds.
  const latency = tier.objectives.latency.toSeconds();
  const builder = dashboard(uid, title, environment)
    .description(`${tier.name}: ${latencyQuantile * 100}% of requests within ${latency}s, at most ${errorRatio * 100}% errors.`);
  for (const plan of engines) {
    const name = plan.engine.name;
    const one = `${ENGINE}="${name}"`;
    builder
      .withRow(new RowBuilder(name))
      .withPanel(panel(`${name}: requests per second`, 'reqps', [
        query(`${RECORDED.requestRate}{${one}}`, 'all'),
        query(`${RECORDED.errorRate}{${one}}`, '5xx'),
      ], 6))
      .withPanel(objectiveLine(panel(`${name}: latency`, 's', [
        query(`${RECORDED.latencyQuantile}{${one}}`, 'p{{quantile}}'),
      ], 6), latency))
      .withPanel(objectiveLine(panel(`${name}: error ratio`, 'percentunit', [query(`${RECORDED.errorRatio}{${one}}`, '5xx share')], 6), errorRatio))
      .withPanel(panel(`${name}: pods`, 'short', [
        query(`sum(${RUNTIME_METRICS.ready}{${one}})`, 'ready'),
        query(`count(${RUNTIME_METRICS.info}{${one}})`, 'running'),
        query(`max(${RUNTIME_METRICS.residentMemory}{${one}})`, 'largest resident memory (bytes)'),
      ], 6));
    if (plan.release.kind !== 'rolling') {
      // The Argo Rollouts controller's view of the engine's release: its phase and how many pods run the new version.
      const rollout = `namespace="${plan.namespace}",name="${name}"`;
      builder.withPanel(panel(`${name}: release (${plan.release.kind})`, 'short', [
        query(`max by (phase) (${ARGO_ROLLOUTS_METRICS.info}{${rollout}})`, 'phase {{phase}}'),
        query(`max(${ARGO_ROLLOUTS_METRICS.updated}{${rollout}})`, 'pods on the new version'),
        query(`max(${ARGO_ROLLOUTS_METRICS.available}{${rollout}})`, 'available'),
      ], 24));
    }
  }
  return { uid, title, model: builder.build() };
}

/**
 * The panels on a store's own series, as its kind describes them (each member's role, replication
 * lag where it has replicas, the newest full backup's age where the environment backs up), on the
 * same expressions its alerts use; Grafana gets each query on one line.
 */
function storeInternals(plan: DataStorePlan): PanelBuilder[] {
  return kindOf(plan).panels(plan, storeSeries(plan.namespace, plan.store.name)).map((internal) => {
    const built = panel(internal.title, internal.unit, internal.queries.map((q) => query(q.expr.replace(/\n/g, ' '), q.legend)), 8);
    return internal.objective === undefined ? built : objectiveLine(built, internal.objective);
  });
}

/** The data stores: their members' roles, replication and backups, and how their clients see them. */
function storesDashboard(environment: string, stores: readonly DataStorePlan[]): GeneratedDashboard {
  const uid = 'nautilus-data-stores';
  const title = `Nautilus / ${environment} / Data stores`;
  const builder = dashboard(uid, title, environment);
  for (const plan of stores) {
    const name = plan.store.name;
    const mine = `dependency="${name}"`;
    builder
      .withRow(new RowBuilder(name))
      .withPanel(panel(`${name}: engines reaching it`, 'short', [
        query(`sum(${RUNTIME_METRICS.dependencyUp}{${mine}})`, 'reaching'),
        query(`count(${RUNTIME_METRICS.dependencyUp}{${mine}})`, 'checking'),
      ], 12))
      .withPanel(panel(`${name}: check duration`, 's', [query(`max by (${ENGINE}) (${RUNTIME_METRICS.dependencyCheckDuration}{${mine}})`, `{{${ENGINE}}}`)], 12));
    for (const internal of storeInternals(plan)) builder.withPanel(internal);
  }
  return { uid, title, model: builder.build() };
}

/** Every dashboard of an environment: the overview, one per tier that has services, the data stores. */
export function platformDashboards(environment: string, engines: readonly EnginePlan[], stores: readonly DataStorePlan[]): GeneratedDashboard[] {
  const services = engines.filter((plan) => isService(plan.engine));
  const tiers = Tier.all().filter((tier) => services.some((plan) => plan.engine.tier.name === tier.name));
  return [
    overview(environment, services),
    ...tiers.map((tier) => tierDashboard(environment, tier, services.filter((plan) => plan.engine.tier.name === tier.name))),
    storesDashboard(environment, stores),
  ];
}

/** Properties of {@link PlatformDashboards}. */
export interface PlatformDashboardsProps {
  readonly environment: string;
  /** The monitoring stack's namespace, where Grafana's sidecar watches: the environment's `monitoringNamespace`. */
  readonly namespace: string;
  readonly engines: readonly EnginePlan[];
  readonly stores: readonly DataStorePlan[];
}

/** The dashboards as ConfigMaps that Grafana's sidecar loads into the Nautilus folder. */
export class PlatformDashboards extends Construct {
  /** The dashboards written. */
  public readonly dashboards: readonly GeneratedDashboard[];

  constructor(scope: Construct, id: string, props: PlatformDashboardsProps) {
    super(scope, id);
    this.dashboards = platformDashboards(props.environment, props.engines, props.stores);
    for (const generated of this.dashboards) {
      new kplus.ConfigMap(this, generated.uid, {
        metadata: {
          name: generated.uid,
          namespace: props.namespace,
          labels: { ...MONITORING_STACK.dashboardLabels, 'app.kubernetes.io/component': 'dashboard' },
          annotations: { [MONITORING_STACK.dashboardFolderAnnotation]: MONITORING_STACK.dashboardFolder },
        },
        data: { [`${generated.uid}.json`]: `${JSON.stringify(generated.model, null, 2)}\n` },
      });
    }
  }
}
