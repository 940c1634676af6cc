/**
 * How the data stores are scraped, per environment: the metrics Service and ServiceMonitor, the
 * exporter containers (pinned image through the mirror, request == limit, hardened, no password
 * in argv or env), the network policy admitting Prometheus, and the namespace quota counting every
 * container of a store pod.
 */
import { REDIS_EXPORTER, TIMESCALEDB_BACKUP_METRICS } from '../../src/catalog/data-stores';
import { planEnvironment } from '../../src/planning/environment-plan';
import { K8sObject, PLATFORM_ENVIRONMENTS, find, has, platformInput, synthObjects } from '../support/platform';

interface Container {
  name: string; image: string; args?: string[]; env?: Array<{ name: string; value?: string }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}

const cpuMillis = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);
const memoryMebibytes = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : Number(q.slice(0, -2)));

describe.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('%s', (_name, environment) => {
  const objects = synthObjects(environment);
  const plans = planEnvironment(platformInput(), environment);
  const containers = (store: string): Container[] => find(objects, 'StatefulSet', store).spec.template.spec.containers;

  test.each(['timescaledb', 'redis'])('%s: a headless metrics Service over every member and a ServiceMonitor per planned endpoint', (store) => {
    const plan = plans.stores.find((s) => s.store.name === store)!;
    const service = find(objects, 'Service', `${store}-metrics`);
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.publishNotReadyAddresses).toBe(true);
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': store, 'app.kubernetes.io/instance': store });
    const monitor = find(objects, 'ServiceMonitor', `${store}-metrics`);
    expect(monitor.spec.selector.matchLabels).toMatchObject({ 'nautilus.io/metrics': 'true' });
    // Only the metrics Service carries that label, so the monitor selects nothing else.
    const selected = objects.filter((o: K8sObject) => o.kind === 'Service'
      && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v));
    expect(selected.map((o) => o.metadata.name)).toEqual([`${store}-metrics`]);
    expect(monitor.spec.endpoints.map((e: { port: string; path: string; relabelings: Array<{ replacement: string }> }) => [e.port, e.path, e.relabelings[0].replacement]))
      .toEqual(plan.monitoring.scrapeEndpoints.map((e) => [e.portName, e.path, e.process]));
    const servicePorts = service.spec.ports.map((p: { name: string }) => p.name);
    for (const endpoint of monitor.spec.endpoints) expect(servicePorts).toContain(endpoint.port);
    const policy = find(objects, 'NetworkPolicy', `${store}-metrics`).spec;
    expect(policy.ingress).toEqual([{
      // Every pod of the monitoring namespace (cdk8s-plus-27 writes the empty pod selector).
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': environment.monitoringNamespace } }, podSelector: {} }],
      ports: [...new Set(plan.monitoring.scrapeEndpoints.map((e) => e.port))].sort((a, b) => a - b).map((port) => ({ protocol: 'TCP', port })),
    }]);
  });

  test('Redis: redis_exporter beside the server, pinned image through the mirror, password from a file, request == limit', () => {
    const exporter = containers('redis').find((c) => c.name === REDIS_EXPORTER.name)!;
    expect(exporter.image).toBe(environment.thirdPartyMirror ? `${environment.thirdPartyMirror}/docker.io/${REDIS_EXPORTER.image}` : REDIS_EXPORTER.image);
    expect(exporter.args).toEqual(['--redis.addr=redis://127.0.0.1:6379', '--redis.password-file=/run/redis/exporter-passwords.json', `--web.listen-address=:${REDIS_EXPORTER.port}`]);
    expect(exporter.env).toBeUndefined();
    // Only the runtime directory with the password file start.sh renders: no data, configuration or Secret.
    expect((exporter as unknown as { volumeMounts: unknown[] }).volumeMounts).toEqual([{ name: 'runtime', mountPath: '/run/redis' }]);
    expect(exporter.resources.requests).toEqual(exporter.resources.limits);
    expect(exporter.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
    const sentinelScraped = find(objects, 'ServiceMonitor', 'redis-metrics').spec.endpoints.some((e: { path: string }) => e.path === '/scrape');
    expect(sentinelScraped).toBe(environment.redis.members > 1);
  });

  test('TimescaleDB: the backup metrics container where the environment backs up, none where it does not', () => {
    const names = containers('timescaledb').map((c) => c.name);
    const backsUp = environment.timescaledb.backup.kind === 'object-store';
    expect(names.includes(TIMESCALEDB_BACKUP_METRICS.name)).toBe(backsUp);
    expect(find(objects, 'ServiceMonitor', 'timescaledb-metrics').spec.endpoints.map((e: { port: string }) => e.port))
      .toEqual(backsUp ? ['patroni', TIMESCALEDB_BACKUP_METRICS.portName] : ['patroni']);
    if (backsUp) {
      const metrics = containers('timescaledb').find((c) => c.name === TIMESCALEDB_BACKUP_METRICS.name)!;
      expect(metrics.resources.requests).toEqual(metrics.resources.limits);
      expect((metrics as unknown as { volumeMounts: Array<{ name: string }> }).volumeMounts.map((m) => m.name)).toEqual(['config', 'tmp']);
      expect(has(objects, 'ConfigMap', 'timescaledb-patroni')).toBe(true);
      expect(find(objects, 'ConfigMap', 'timescaledb-patroni').data['backup-metrics.py']).toContain('pgbackrest_backup_since_last_completion_seconds');
    }
  });

  test('the data namespace\'s quota counts every container of the store pods (server and sidecars) and a surge pod', () => {
    const quota = objects.find((o) => o.kind === 'ResourceQuota' && o.metadata.namespace === 'nautilus-data')!;
    const pods = plans.stores.map((plan) => {
      const all = find(objects, 'StatefulSet', plan.store.name).spec.template.spec.containers as Container[];
      return {
        count: plan.replicas,
        cpu: all.reduce((t, c) => t + cpuMillis(c.resources.requests.cpu), 0),
        memory: all.reduce((t, c) => t + memoryMebibytes(c.resources.requests.memory), 0),
      };
    });
    const cpu = pods.reduce((t, p) => t + p.count * p.cpu, 0) + Math.max(...pods.map((p) => p.cpu));
    const memory = pods.reduce((t, p) => t + p.count * p.memory, 0) + Math.max(...pods.map((p) => p.memory));
    expect(cpuMillis(quota.spec.hard['requests.cpu'])).toBe(cpu);
    expect(memoryMebibytes(quota.spec.hard['requests.memory'])).toBe(memory);
  });

  test('pinned Redis pods stay Guaranteed with the exporter: every container requests what it is limited to', () => {
    const redis = plans.stores.find((s) => s.store.name === 'redis')!;
    if (!redis.pinned) return;
    for (const c of containers('redis')) {
      expect(c.resources.requests).toEqual(c.resources.limits);
    }
  });
});
