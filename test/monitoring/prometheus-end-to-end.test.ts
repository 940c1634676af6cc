/**
 * The monitoring contract on real parts: a real Prometheus server (Debian's `prometheus`) scrapes
 * engines started from dist/prod's manifests (as the engine contract test starts them, against real
 * Redis and PostgreSQL), with a scrape configuration equivalent to their ServiceMonitors, and
 * evaluates dist/prod's PrometheusRules as the operator would load them. Then:
 *
 *   - traffic sent to an engine comes back as `requests_per_second` through the query
 *     prometheus-adapter runs for the HPAs (the adapter rule from dist/prod, its template filled in
 *     as the adapter fills it), probes and scrapes left out;
 *   - the recording rules record the engine's request rate;
 *   - stopping an engine fires its NautilusEngineDown alert, which is silent while it runs.
 *
 * What differs from a cluster, on purpose: targets are 127.0.0.1:<the manifest's port>, the
 * labels the operator derives from the Service and Pod (namespace, service, pod, endpoint, job)
 * are set statically, and the scrape interval is 2 s (evaluation 1 s) instead of 15 s (5 s for
 * host-network engines) so the test takes seconds, not minutes. The rules, including their `for`
 * durations, are used exactly as synthesized. The adapter itself (an aggregated API server) is not
 * run: its query is.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments, stringify } from 'yaml';
import { AdapterRule } from '../../src/constructs/monitoring/metrics-adapter';
import { MONITORING_STACK, REQUESTS_PER_SECOND } from '../../src/planning/monitoring';
import { CREDENTIAL_SECRETS, RUNTIME_ENV, TRADING_DATABASE } from '../../src/planning/runtime-contract';
import { REDIS_SENTINEL } from '../../src/catalog/data-stores';
import { TestPostgres, TestRedis, TestSentinel } from '../contract/data-stores';
import { compileEngines, localCommand, startEngine } from '../contract/engine-process';
import { EngineWorkload, loadEngineWorkloads, resolveEnv, resolveProbePort } from '../contract/manifests';
import { ManagedProcess, freePort, httpGet, killAll, poll, portInUse } from '../contract/processes';
import { K8sObject } from '../support/platform';
import { prometheusBinary, scratchDir } from './promtool';

jest.setTimeout(240_000);

const ROOT = path.join(__dirname, '..', '..');
const ENVIRONMENT = 'prod';
/** Gets traffic and is asked for through the adapter: it scales on requests_per_second in prod. */
const LOADED = 'market-data';
/** Stopped to fire its alert: an ultra-low-latency engine, one replica above its budget's floor is none. */
const STOPPED = 'risk-engine';
const REQUESTS_PER_SECOND_SENT = 20;
const REDIS_PASSWORD = 'monitoring-redis-password';
const POSTGRES_USER = 'nautilus_monitoring';
const POSTGRES_PASSWORD = 'monitoring-postgres-password';

/** Every object of dist/<env>/. */
function distObjects(environment: string): K8sObject[] {
  const dir = path.join(ROOT, 'dist', environment);
  if (!fs.existsSync(dir)) throw new Error(`dist/${environment}/ is missing: run \`npm run synth\` first (npm test does it)`);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJSON() as K8sObject))
    .filter((o) => o !== null);
}

/** Fills in the adapter's metricsQuery template as prometheus-adapter does for one pod's request. */
function adapterQuery(rule: AdapterRule, series: string, namespace: string, pod: string): string {
  return rule.metricsQuery
    .replace(/<<\.Series>>/g, series)
    .replace(/<<\.LabelMatchers>>/g, `namespace="${namespace}",pod=~"${pod}"`)
    .replace(/<<\.GroupBy>>/g, 'pod');
}

interface PromVector { readonly metric: Record<string, string>; readonly value: [number, string] }

class PrometheusServer {
  constructor(public readonly port: number, public readonly process: ManagedProcess) {}

  async api<T>(pathAndQuery: string): Promise<T> {
    const answer = await httpGet(this.port, pathAndQuery, 5000);
    if (answer.status !== 200) throw new Error(`GET ${pathAndQuery}: ${answer.status} ${answer.body}`);
    const body = JSON.parse(answer.body) as { status: string; data: T };
    if (body.status !== 'success') throw new Error(`GET ${pathAndQuery}: ${answer.body}`);
    return body.data;
  }

  async query(expr: string): Promise<PromVector[]> {
    const data = await this.api<{ resultType: string; result: PromVector[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return data.result;
  }

  async alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>> {
    return (await this.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts')).alerts;
  }
}

const objects = distObjects(ENVIRONMENT);
const workloads = loadEngineWorkloads(ROOT, ENVIRONMENT).filter((w) => w.name === LOADED || w.name === STOPPED);
const adapterConfig = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === MONITORING_STACK.adapterConfigMap);
const ruleObjects = objects.filter((o) => o.kind === 'PrometheusRule');

let compiled = '';
let redis: TestRedis | undefined;
let sentinel: TestSentinel | undefined;
let postgres: TestPostgres | undefined;
let prometheus: PrometheusServer | undefined;
let dir = '';
let sender: NodeJS.Timeout | undefined;
let trafficStarted = 0;
const engines = new Map<string, ManagedProcess>();

function podName(workload: EngineWorkload): string {
  return `${workload.name}-0`;
}

function metricsPort(workload: EngineWorkload): number {
  if (!workload.metrics) throw new Error(`${workload.file}: ${workload.name} has no ServiceMonitor`);
  return resolveProbePort(workload.container, workload.metrics.port);
}

/** One scrape job per ServiceMonitor endpoint, labelled as the operator labels its targets. */
function scrapeConfig(): unknown {
  return {
    global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' },
    rule_files: ruleObjects.map((o) => `${o.metadata.name}.rules.yaml`),
    scrape_configs: workloads.map((w) => ({
      job_name: `serviceMonitor/${w.namespace}/${w.name}/0`,
      metrics_path: w.metrics!.path,
      static_configs: [{
        targets: [`127.0.0.1:${metricsPort(w)}`],
        labels: { namespace: w.namespace, service: w.name, pod: podName(w), endpoint: w.metrics!.port, job: w.name, container: w.container.name },
      }],
    })),
  };
}

async function startService(workload: EngineWorkload): Promise<ManagedProcess> {
  const port = metricsPort(workload);
  if (await portInUse(port)) throw new Error(`${workload.name}: port ${port} is in use on this machine; free it (the engines listen on their manifest's own port)`);
  const env = resolveEnv(workload.container, {
    secrets: {
      [`${CREDENTIAL_SECRETS.redis.name}/password`]: REDIS_PASSWORD,
      [`${CREDENTIAL_SECRETS.timescaledb.name}/username`]: POSTGRES_USER,
      [`${CREDENTIAL_SECRETS.timescaledb.name}/password`]: POSTGRES_PASSWORD,
    },
    configMaps: {},
  });
  const swap = (name: string, value: string) => { if (name in env) env[name] = value; };
  swap(RUNTIME_ENV.redisHost, '127.0.0.1');
  swap(RUNTIME_ENV.redisPort, String(redis!.port));
  // prod runs Sentinel: the engine finds the test Redis through a real one.
  swap(RUNTIME_ENV.redisSentinels, `127.0.0.1:${sentinel!.port}`);
  swap(RUNTIME_ENV.postgresHost, '127.0.0.1');
  swap(RUNTIME_ENV.postgresPort, String(postgres!.port));
  const engine = startEngine(`monitoring/${workload.name}`, localCommand(ROOT, compiled, workload.container), env,
    { uid: workload.pod.securityContext?.runAsUser, gid: workload.pod.securityContext?.runAsGroup });
  const result = await poll(async () => {
    if (!engine.running) throw new Error(`exited:\n${engine.log}`);
    return (await httpGet(port, workload.metrics!.path, 1000)).status === 200 ? true : undefined;
  }, Date.now() + 30_000, 200);
  if (result instanceof Error) throw new Error(`${workload.name} did not serve ${workload.metrics!.path} on ${port}: ${result.message}\n${engine.log}`);
  return engine;
}

beforeAll(async () => {
  if (workloads.length !== 2) throw new Error(`dist/${ENVIRONMENT} should deploy ${LOADED} and ${STOPPED}; found ${workloads.map((w) => w.name).join(', ')}`);
  compiled = compileEngines(ROOT);
  const databases = new Set(workloads.map((w) => w.container.env?.find((v) => v.name === RUNTIME_ENV.postgresDatabase)?.value ?? TRADING_DATABASE));
  [redis, postgres] = await Promise.all([
    TestRedis.start(REDIS_PASSWORD),
    TestPostgres.start(POSTGRES_USER, POSTGRES_PASSWORD, [...databases].sort()),
  ]);
  sentinel = await TestSentinel.start(redis, REDIS_SENTINEL.masterName);
  for (const workload of workloads) engines.set(workload.name, await startService(workload));

  dir = scratchDir('nautilus-prometheus-');
  for (const rule of ruleObjects) fs.writeFileSync(path.join(dir, `${rule.metadata.name}.rules.yaml`), stringify(rule.spec, { lineWidth: 0 }));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), stringify(scrapeConfig(), { lineWidth: 0 }));
  const port = await freePort();
  const server = new ManagedProcess('prometheus', prometheusBinary('prometheus'), [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { cwd: dir });
  const ready = await poll(async () => {
    if (!server.running) throw new Error(`prometheus exited:\n${server.log}`);
    return (await httpGet(port, '/-/ready', 1000)).status === 200 ? true : undefined;
  }, Date.now() + 30_000, 200);
  if (ready instanceof Error) throw new Error(`prometheus did not become ready: ${ready.message}\n${server.log}`);
  prometheus = new PrometheusServer(port, server);
  // Traffic runs from here to the end: the adapter's rate window (1m) must be full of it.
  const loaded = workloads.find((w) => w.name === LOADED)!;
  const loadedPort = metricsPort(loaded);
  trafficStarted = Date.now();
  sender = setInterval(() => {
    for (let i = 0; i < REQUESTS_PER_SECOND_SENT; i++) httpGet(loadedPort, '/quotes', 2000).catch(() => undefined);
    // The kubelet's probes: they must not count.
    httpGet(loadedPort, loaded.container.readinessProbe!.httpGet!.path, 1000).catch(() => undefined);
    httpGet(loadedPort, loaded.container.livenessProbe!.httpGet!.path, 1000).catch(() => undefined);
  }, 1000);
}, 180_000);

afterAll(async () => {
  if (sender) clearInterval(sender);
  await prometheus?.process.stop(5000);
  await Promise.all([...engines.values()].map((e) => e.stop(2000)));
  await Promise.all([sentinel?.dispose(), redis?.dispose(), postgres?.dispose()]);
  killAll();
  if (compiled) fs.rmSync(compiled, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function server(): PrometheusServer {
  if (!prometheus) throw new Error('prometheus did not start (see the beforeAll error above)');
  return prometheus;
}

test('Prometheus loads every generated rule group', async () => {
  const groups = await server().api<{ groups: Array<{ name: string; rules: unknown[] }> }>('/api/v1/rules');
  expect(groups.groups.map((g) => g.name).sort()).toEqual(ruleObjects.map((o) => o.metadata.name).sort());
});

test('both engines are scraped with the labels the ServiceMonitors give them', async () => {
  const result = await poll(async () => {
    const up = await server().query('up');
    return up.length === 2 && up.every((s) => s.value[1] === '1') ? up : undefined;
  }, Date.now() + 30_000, 500);
  if (result instanceof Error) throw result;
  expect(result.map((s) => s.metric.service).sort()).toEqual([LOADED, STOPPED].sort());
  for (const series of result) expect(Object.keys(series.metric)).toEqual(expect.arrayContaining(['namespace', 'service', 'pod', 'job']));
});

test(`stopping ${STOPPED} fires its NautilusEngineDown alert, silent while it runs`, async () => {
  const mine = (alerts: Array<{ labels: Record<string, string>; state: string }>) =>
    alerts.filter((a) => a.labels.alertname === 'NautilusEngineDown' && a.labels.engine === STOPPED);
  // Silent while it runs: nothing pending or firing once its target is up (a scrape that timed out
  // on a loaded machine may have made it pending for a moment; that clears at the next evaluation).
  const silent = await poll(async () => {
    const up = await server().query(`up{service="${STOPPED}"}`);
    return up.length === 1 && up[0].value[1] === '1' && mine(await server().alerts()).length === 0 ? true : undefined;
  }, Date.now() + 30_000, 500);
  if (silent instanceof Error) throw new Error(`the alert is active while ${STOPPED} runs: ${JSON.stringify(mine(await server().alerts()))}`);

  await engines.get(STOPPED)!.stop(5000);
  const pending = await poll(async () => (mine(await server().alerts()).some((a) => a.state === 'pending') ? true : undefined), Date.now() + 20_000, 500);
  if (pending instanceof Error) throw new Error(`the alert never went pending: ${pending.message}`);
  // The rule's `for` is kept as generated (1m).
  const firing = await poll(async () => {
    const alerts = mine(await server().alerts());
    return alerts.some((a) => a.state === 'firing') ? alerts : undefined;
  }, Date.now() + 90_000, 1000);
  if (firing instanceof Error) throw new Error(`the alert did not fire: ${firing.message}`);
  expect(firing[0].labels).toMatchObject({ severity: 'critical', tier: 'ultra-low-latency', environment: ENVIRONMENT });
});

test(`traffic to ${LOADED} is served as ${REQUESTS_PER_SECOND.name} through the adapter's query, probes and scrapes left out`, async () => {
  if (!adapterConfig) throw new Error(`dist/${ENVIRONMENT} has no ConfigMap ${MONITORING_STACK.adapterConfigMap}`);
  const rules = (parseAllDocuments(adapterConfig.data[MONITORING_STACK.adapterConfigKey])[0].toJSON() as { rules: AdapterRule[] }).rules;
  const rule = rules.find((r) => r.name.as === REQUESTS_PER_SECOND.name);
  expect(rule).toBeDefined();
  const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === LOADED)!;
  expect(hpa.spec.metrics.some((m: { pods?: { metric: { name: string } } }) => m.pods?.metric.name === rule!.name.as)).toBe(true);
  const workload = workloads.find((w) => w.name === LOADED)!;

  const full = trafficStarted + 70_000 - Date.now();
  if (full > 0) await new Promise((resolve) => setTimeout(resolve, full));
  // Series discovery, as the adapter runs it: the series must carry the namespace and pod labels its resources map.
  const discovered = await server().api<Array<Record<string, string>>>(`/api/v1/series?match[]=${encodeURIComponent(rule!.seriesQuery)}`);
  const names = [...new Set(discovered.map((s) => s.__name__))];
  expect(names).toHaveLength(1);
  expect(new RegExp(rule!.name.matches).test(names[0])).toBe(true);
  expect(discovered.some((s) => s.namespace === workload.namespace && s.pod === podName(workload))).toBe(true);

  const answer = await server().query(adapterQuery(rule!, names[0], workload.namespace, podName(workload)));
  expect(answer).toHaveLength(1);
  expect(answer[0].metric).toEqual({ pod: podName(workload) });
  const value = Number(answer[0].value[1]);
  expect(value).toBeGreaterThan(REQUESTS_PER_SECOND_SENT * 0.6);
  expect(value).toBeLessThan(REQUESTS_PER_SECOND_SENT * 1.4);

  // Without the path filter the same query counts the probes and scrapes too.
  const unfiltered = Number((await server().query(`sum(rate(${names[0]}{pod="${podName(workload)}"}[${REQUESTS_PER_SECOND.window}]))`))[0].value[1]);
  expect(unfiltered).toBeGreaterThan(value + 1);

  const recorded = await server().query(`service:nautilus_http_requests:rate1m{service="${LOADED}"}`);
  expect(recorded).toHaveLength(1);
  expect(Number(recorded[0].value[1])).toBeGreaterThan(REQUESTS_PER_SECOND_SENT * 0.6);
});
