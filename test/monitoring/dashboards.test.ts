/**
 * The generated dashboards: ConfigMaps Grafana's sidecar loads, one overview, one per tier with
 * services and one for the data stores, every panel query parsed as PromQL by Prometheus's own
 * Lezer grammar (@prometheus-io/lezer-promql) and by promtool, and referring only to series the
 * engine runtime serves or the generated recording rules record.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parser } from '@prometheus-io/lezer-promql';
import { stringify } from 'yaml';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { Tier } from '../../src/catalog/tier';
import { RUNTIME_METRICS } from '../../src/engines/runtime/metric-names';
import { ARGO_ROLLOUTS_METRICS } from '../../src/constructs/monitoring/prometheus-rules';
import { STORE_KINDS } from '../../src/planning/stores/store-kinds';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { K8sObject, platformInput, synthObjects } from '../support/platform';
import { promtool, scratchDir } from './promtool';

interface Panel { readonly type: string; readonly title: string; readonly targets?: ReadonlyArray<{ readonly expr: string }> }

function dashboards(objects: readonly K8sObject[]): Array<{ object: K8sObject; model: { uid: string; title: string; panels: Panel[] } }> {
  return objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    .map((object) => ({ object, model: JSON.parse(Object.values(object.data as Record<string, string>)[0]) }));
}

/** Metric names a PromQL expression selects, from the parse tree; throws on a syntax error. */
export function selectedMetrics(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  let error = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) error = true;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  if (error) throw new Error(`not PromQL: ${expr}`);
  return names;
}

/** Every series the runtime serves (histograms as their _bucket/_sum/_count series). */
const runtimeSeries = Object.values(RUNTIME_METRICS).flatMap((name) =>
  name === RUNTIME_METRICS.requestDuration ? ['_bucket', '_sum', '_count'].map((s) => `${name}${s}`) : [name]);

describe.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('%s', (_name, environment) => {
  const objects = synthObjects(environment);
  const generated = dashboards(objects);
  const recorded = objects.filter((o) => o.kind === 'PrometheusRule')
    .flatMap((o) => (o.spec.groups as Array<{ rules: Array<{ record?: string }> }>).flatMap((g) => g.rules))
    .map((r) => r.record).filter((r): r is string => r !== undefined);
  const queries = generated.flatMap(({ model }) => model.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: model.uid, panel: p.title, expr: t.expr }))));

  it('an overview, one dashboard per tier with services, and the data stores, labelled for the sidecar', () => {
    const tiers = Tier.all().filter((tier) => objects.some((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === tier.name));
    expect(generated.map((d) => d.model.uid).sort()).toEqual(['nautilus-data-stores', 'nautilus-overview', ...tiers.map((t) => `nautilus-tier-${t.name}`)].sort());
    for (const { object, model } of generated) {
      expect(object.metadata.namespace).toBe(environment.monitoringNamespace);
      expect((object.metadata as { annotations?: Record<string, string> }).annotations).toEqual({ grafana_folder: 'Nautilus' });
      expect(Object.keys(object.data)).toEqual([`${model.uid}.json`]);
      expect(model.title).toContain(environment.name);
    }
  });

  it('every panel query parses as PromQL and selects only series the runtime, the recording rules or the store exporters produce', () => {
    expect(queries.length).toBeGreaterThan(10);
    // The store exporters' names are checked against the real programs in test/contract/store-exporters.test.ts.
    // The Argo Rollouts controller's are read from the real controller in test/cluster/argo-rollouts.test.ts.
    const produced = new Set([...runtimeSeries, ...recorded, ...Object.values(STORE_KINDS).flatMap((kind) => Object.values(kind.metrics)), ...Object.values(ARGO_ROLLOUTS_METRICS)]);
    const unknown = queries.flatMap((q) => selectedMetrics(q.expr).filter((name) => !produced.has(name)).map((name) => `${q.dashboard} / ${q.panel}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('promtool parses every panel query too', () => {
    const dir = scratchDir('nautilus-dashboards-');
    try {
      const rules = { groups: [{ name: 'panels', rules: queries.map((q, i) => ({ record: `panel:query:${i}`, expr: q.expr })) }] };
      fs.writeFileSync(path.join(dir, 'panels.yaml'), stringify(rules, { lineWidth: 0 }));
      const result = promtool(['check', 'rules', 'panels.yaml'], dir);
      expect(result.output).toContain('SUCCESS');
      expect(result.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards follow the catalog', () => {
  it('a new engine gets its own row in its tier\'s dashboard without editing any dashboard', () => {
    const template = PLATFORM_ENGINES.find((e) => e.name === 'smart-order-router')!;
    const added: EngineSpec = { ...template, name: 'fx-hedger', description: 'hedges currency exposure' };
    const prod = PLATFORM_ENVIRONMENTS.find((e) => e.name === 'prod')!;
    const objects = synthObjects(prod, platformInput({ catalog: [...PLATFORM_ENGINES, added] }));
    const tier = dashboards(objects).find((d) => d.model.uid === `nautilus-tier-${template.tier.name}`)!;
    expect(tier.model.panels.filter((p) => p.type === 'row').map((p) => p.title)).toContain('fx-hedger');
    expect(tier.model.panels.flatMap((p) => p.targets ?? []).some((t) => t.expr.includes('service="fx-hedger"'))).toBe(true);
  });

  it('the parse check rejects a query that is not PromQL and reports unknown series', () => {
    expect(() => selectedMetrics('sum(rate(x[1m])')).toThrow(/not PromQL/);
    expect(selectedMetrics('sum by (a) (rate(foo_total{a="b"}[1m])) / bar')).toEqual(['foo_total', 'bar']);
  });
});

describe('the data-store dashboard shows roles, replication lag and backup age where the environment has them', () => {
  const storePanels = (name: string) => {
    const environment = PLATFORM_ENVIRONMENTS.find((e) => e.name === name)!;
    const stores = dashboards(synthObjects(environment)).find((d) => d.model.uid === 'nautilus-data-stores')!;
    return stores.model.panels.map((p) => p.title);
  };

  it('prod: primaries, replication lag and timelines, Sentinel\'s view and the newest full backup\'s age', () => {
    expect(storePanels('prod')).toEqual(expect.arrayContaining([
      'timescaledb: primary (1) per member', 'timescaledb: replication lag', 'timescaledb: timeline', 'timescaledb: newest full backup age',
      'redis: primary (1) per member', 'redis: replication lag', 'redis: healthy Sentinels and replicas (Sentinel\'s view)',
    ]));
  });

  it('dev (one member each, no backups): roles only', () => {
    const titles = storePanels('dev');
    expect(titles).toEqual(expect.arrayContaining(['timescaledb: primary (1) per member', 'redis: primary (1) per member']));
    expect(titles.filter((t) => /replication lag|backup|Sentinel|timeline/.test(t))).toEqual([]);
  });
});
