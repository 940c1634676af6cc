/**
 * TimescaleDB under Patroni, per environment: members, disruption budget, spread, Services by
 * role, the Role Patroni needs, the generated Patroni and pgBackRest configuration, credentials by
 * reference. The failover test (test/cluster/timescaledb-failover.test.ts) runs this configuration.
 */
import { parse } from 'yaml';
import { TIMESCALEDB_PATRONI } from '../../src/catalog/data-stores';
import { DEV, PROD, STAGING } from '../../src/environments/platform-environments';
import { PLATFORM_ENGINES, find, has, synthObjects } from '../support/platform';

const p = TIMESCALEDB_PATRONI;
const selector = { 'app.kubernetes.io/name': 'timescaledb', 'app.kubernetes.io/instance': 'timescaledb' };

describe.each([DEV, STAGING, PROD].map((e) => [e.name, e] as const))('TimescaleDB in %s', (_n, environment) => {
  const objects = synthObjects(environment);
  const sts = find(objects, 'StatefulSet', 'timescaledb');
  const pod = sts.spec.template.spec;
  const [patroni] = pod.containers;
  const files = find(objects, 'ConfigMap', 'timescaledb-patroni').data as Record<string, string>;
  const config = parse(files['patroni.yaml']);
  const members = environment.timescaledb.members;
  const backup = environment.timescaledb.backup;

  test('members from the environment, each labelled with the Patroni scope, running patroni on the generated file', () => {
    expect(sts.spec.replicas).toBe(members);
    expect(sts.spec.template.metadata.labels).toMatchObject({ ...selector, [p.scopeLabel]: p.scope });
    expect(patroni.command).toEqual(['patroni', '/etc/timescaledb/patroni.yaml']);
    expect(patroni.ports.map((port: { containerPort: number }) => port.containerPort)).toEqual([5432, 8008]);
    expect(patroni.readinessProbe.httpGet).toMatchObject({ path: '/readiness', port: 8008 });
    expect(patroni.livenessProbe.httpGet).toMatchObject({ path: '/liveness', port: 8008 });
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, fsGroup: 1000 });
    expect(sts.spec.template.metadata.annotations['nautilus.io/config-sha256']).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a PodDisruptionBudget of one member at a time and zone spread wherever there are two or more', () => {
    if (members < 2) {
      expect(has(objects, 'PodDisruptionBudget', 'timescaledb')).toBe(false);
      expect(pod.topologySpreadConstraints).toBeUndefined();
      return;
    }
    const pdb = find(objects, 'PodDisruptionBudget', 'timescaledb');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(pod.topologySpreadConstraints[0]).toMatchObject({
      topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: selector },
    });
  });

  test('the client Service routes to the primary, the replica Service to replicas, the headless one to all', () => {
    expect(find(objects, 'Service', 'timescaledb').spec.selector).toEqual({ ...selector, role: 'primary' });
    if (members > 1) expect(find(objects, 'Service', 'timescaledb-replica').spec.selector).toEqual({ ...selector, role: 'replica' });
    else expect(has(objects, 'Service', 'timescaledb-replica')).toBe(false);
    const headless = find(objects, 'Service', 'timescaledb-headless');
    expect(headless.spec.selector).toEqual(selector);
    expect(headless.spec.ports.map((port: { port: number }) => port.port)).toEqual(members > 1 ? [5432, 8008] : [5432]);
  });

  test('Patroni: Kubernetes DCS in ConfigMaps mode with explicit role label values', () => {
    expect(config.scope).toBe('timescaledb');
    expect(config.kubernetes).toEqual({
      use_endpoints: false, labels: selector, scope_label: 'cluster-name', role_label: 'role',
      leader_label_value: 'primary', follower_label_value: 'replica', standby_leader_label_value: 'primary',
    });
    // Patroni's own ConfigMaps (<scope>-leader, -config, -sync, -failover) must not collide with ours.
    expect(objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name)).not.toContain('timescaledb-config');
  });

  test('Patroni: synchronous replication where the environment asks for it, rewind, slots, cluster-wide parameters', () => {
    const dcs = config.bootstrap.dcs;
    expect(dcs.synchronous_mode).toBe(environment.timescaledb.synchronousReplication);
    expect(dcs.synchronous_mode_strict).toBe(false);
    expect(dcs.loop_wait + 2 * dcs.retry_timeout).toBeLessThanOrEqual(dcs.ttl);
    expect(dcs.postgresql).toMatchObject({ use_pg_rewind: true, use_slots: true });
    expect(dcs.postgresql.parameters).toMatchObject({ wal_level: 'replica', wal_log_hints: 'on', max_connections: 200 });
    // Local tuning stays out of the DCS (it follows the manifests on every restart).
    expect(dcs.postgresql.parameters.shared_buffers).toBeUndefined();
    expect(config.postgresql.parameters.shared_preload_libraries).toBe('timescaledb');
    expect(config.postgresql.pg_hba).toContain('host replication all 0.0.0.0/0 scram-sha-256');
    expect(config.postgresql.pg_hba.some((line: string) => /\btrust\b/.test(line))).toBe(false);
    expect(config.bootstrap.post_bootstrap).toBe('bash /etc/timescaledb/post-bootstrap.sh');
  });

  test('the Role allows exactly what Patroni does in ConfigMaps mode, bound to the store\'s ServiceAccount; the token is mounted for this pod only', () => {
    const role = find(objects, 'Role', 'timescaledb-patroni');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
    ]);
    const binding = find(objects, 'RoleBinding', 'timescaledb-patroni');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'timescaledb-patroni' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'timescaledb', namespace: 'nautilus-data' }]);
    expect(pod.serviceAccountName).toBe('timescaledb');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(find(objects, 'ServiceAccount', 'timescaledb').automountServiceAccountToken).toBe(false);
    expect(find(objects, 'StatefulSet', 'redis').spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  test('credentials only by reference: superuser, replication, application user (and the bucket)', () => {
    const env = Object.fromEntries(patroni.env.map((e: { name: string }) => [e.name, e]));
    const ref = (name: string) => env[name].valueFrom.secretKeyRef;
    expect(ref('PATRONI_SUPERUSER_PASSWORD')).toEqual({ name: 'timescaledb-superuser', key: 'password' });
    expect(ref('PATRONI_REPLICATION_USERNAME')).toEqual({ name: 'timescaledb-replication', key: 'username' });
    expect(ref('PATRONI_REPLICATION_PASSWORD')).toEqual({ name: 'timescaledb-replication', key: 'password' });
    expect(ref('APP_USER')).toEqual({ name: 'timescaledb-credentials', key: 'username' });
    expect(ref('APP_PASSWORD')).toEqual({ name: 'timescaledb-credentials', key: 'password' });
    expect(env.PATRONI_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(env.PATRONI_POSTGRESQL_CONNECT_ADDRESS.value).toBe('$(PATRONI_KUBERNETES_POD_IP):5432');
    for (const e of patroni.env) expect(e.name.endsWith('PASSWORD') || e.name.endsWith('KEY_SECRET') ? e.value : undefined).toBeUndefined();
  });

  test('backups: WAL archived to the environment\'s bucket and a full-backup schedule, or explicitly off', () => {
    const names = pod.containers.map((c: { name: string }) => c.name);
    if (backup.kind === 'disabled') {
      expect(config.postgresql.parameters.archive_mode).toBe('off');
      expect(files['pgbackrest.conf']).toBeUndefined();
      expect(names).toEqual(['timescaledb']);
      expect(files['post-bootstrap.sh']).toContain('backups are disabled in this environment');
      return;
    }
    expect(config.postgresql.parameters).toMatchObject({ archive_mode: 'on', archive_command: 'pgbackrest --stanza=timescaledb archive-push %p' });
    expect(config.postgresql.recovery_conf.restore_command).toBe('pgbackrest --stanza=timescaledb archive-get %f "%p"');
    const conf = files['pgbackrest.conf'];
    expect(conf).toContain(`repo1-s3-bucket=${backup.bucket}`);
    expect(conf).toContain(`repo1-s3-region=${backup.region}`);
    expect(conf).toContain(`repo1-s3-endpoint=${backup.endpoint}`);
    expect(conf).toContain(`repo1-retention-full=${backup.retainFullBackups}`);
    expect(conf).toContain('pg1-path=/home/postgres/pgdata/data');
    expect(files['post-bootstrap.sh']).toContain('pgbackrest --stanza=timescaledb stanza-create');
    expect(names).toEqual(['timescaledb', 'backup-schedule', 'backup-metrics']);
    const schedule = pod.containers[1];
    expect(schedule.env).toContainEqual({ name: 'PGBACKREST_REPO1_S3_KEY', valueFrom: { secretKeyRef: { name: backup.credentialsSecret, key: 'access-key-id' } } });
    expect(files['backup-schedule.sh']).toContain(`FULL_BACKUP_EVERY_SECONDS:-${backup.fullBackupEvery.toSeconds()}`);
  });

  test('network policy: members reach each other on 5432 and 8008, and the API server and bucket on HTTPS', () => {
    const https = find(objects, 'NetworkPolicy', 'timescaledb-https-apis');
    expect(https.spec.egress).toEqual([{ ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] }]);
    if (members < 2) {
      expect(has(objects, 'NetworkPolicy', 'timescaledb-peers')).toBe(false);
      return;
    }
    const peers = find(objects, 'NetworkPolicy', 'timescaledb-peers');
    const ports = [{ protocol: 'TCP', port: 5432 }, { protocol: 'TCP', port: 8008 }];
    expect(peers.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: selector } }], ports }]);
    expect(peers.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: selector } }], ports }]);
  });
});

test('prod runs three synchronous members, staging two asynchronous, dev one without backups', () => {
  expect([PROD, STAGING, DEV].map((e) => [e.timescaledb.members, e.timescaledb.synchronousReplication, e.timescaledb.backup.kind]))
    .toEqual([[3, true, 'object-store'], [2, false, 'object-store'], [1, false, 'disabled']]);
});

describe.each([STAGING, PROD].map((e) => [e.name, e] as const))('engines and TimescaleDB in %s', (_n, environment) => {
  const objects = synthObjects(environment);
  const envOf = (engine: string) => find(objects, 'Deployment', engine).spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;

  test('every engine writes through the primary Service; analytics, features and portfolio may read from the replica Service', () => {
    const readers = PLATFORM_ENGINES.filter((e) => e.dependencies.stores.includes('timescaledb') && e.workload.kind === 'service');
    expect(readers.filter((e) => e.dependencies.timescaledbReplicaReads).map((e) => e.name).sort()).toEqual(['analytics', 'features', 'portfolio']);
    expect(find(synthObjects(DEV), 'Deployment', 'analytics').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name))
      .not.toContain('NAUTILUS_POSTGRES_READ_ONLY_HOST');
    for (const engine of readers) {
      const env = envOf(engine.name);
      expect(env).toContainEqual({ name: 'NAUTILUS_POSTGRES_HOST', value: 'timescaledb.nautilus-data.svc.cluster.local' });
      const readOnly = env.find((e) => e.name === 'NAUTILUS_POSTGRES_READ_ONLY_HOST');
      expect(readOnly?.value).toBe(engine.dependencies.timescaledbReplicaReads ? 'timescaledb-replica.nautilus-data.svc.cluster.local' : undefined);
    }
  });
});
