/**
 * TimescaleDB losing its primary, for real: three PostgreSQL servers (Debian's) each under Patroni
 * (PyPI), configured from dist/prod's StatefulSet and ConfigMap, with the test control plane's
 * kube-apiserver as the DCS and the store's own ServiceAccount (so the generated Role is what
 * Patroni gets). The pods Patroni labels are created from the StatefulSet's template on a kwok
 * node. Then: kill -9 of the primary under continuous writes, promotion, the primary Service
 * following the new leader, the old primary rejoining as a replica, and a point-in-time restore
 * from pgBackRest's repository (a directory standing in for the bucket). See test/cluster/README.md.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Client } from 'pg';
import { TIMESCALEDB, TIMESCALEDB_PATRONI } from '../../src/catalog/data-stores';
import { PATRONI_TIMING } from '../../src/constructs/timescaledb-configuration';
import { PROD } from '../../src/environments/platform-environments';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { CREDENTIAL_SECRETS, TIMESCALEDB_SECRETS, TRADING_DATABASE } from '../../src/planning/runtime-contract';
import { postgresBinDir } from '../contract/data-stores';
import { ManagedProcess, freePort, httpGet, killAll, poll } from '../contract/processes';
import { MetricFamily, parsePrometheusText } from '../contract/prometheus-text';
import { TIMESCALEDB_METRICS } from '../../src/planning/stores/timescaledb-monitoring';
import { applyManifests, kubeRequest } from './apply';
import { ControlPlane, startControlPlane } from './control-plane';
import { readDistManifests } from './dist-manifests';
import { createFakeNodes } from './fake-nodes';
import { PatroniMachine, PatroniMember, ensurePatroni, timescaleDbManifests, workDirectory } from './patroni';

jest.setTimeout(180_000);

const p = TIMESCALEDB_PATRONI;
const namespace = NAMESPACE_NAMES.data;
const environment = PROD;
const APP = { username: 'nautilus_app', password: 'app-test-password' };
const SECRETS: Record<string, Record<string, string>> = {
  [CREDENTIAL_SECRETS.timescaledb.name]: APP,
  [TIMESCALEDB_SECRETS.superuser.name]: { password: 'superuser-test-password' },
  [TIMESCALEDB_SECRETS.replication.name]: { username: 'replicator', password: 'replication-test-password' },
};
if (environment.timescaledb.backup.kind === 'object-store') {
  SECRETS[environment.timescaledb.backup.credentialsSecret] = { 'access-key-id': 'unused', 'secret-access-key': 'unused' };
}

function log(message: string): void {
  process.stderr.write(`[timescaledb-failover] ${message}\n`);
}

let controlPlane: ControlPlane | undefined;
let machine: PatroniMachine;
let workDir: string;
const members: PatroniMember[] = [];
const memberNamed = (name: string) => members.find((m) => m.name === name)!;
const figures: string[] = [];

/** Pod labels as the API server has them. */
async function podLabels(name: string): Promise<Record<string, string>> {
  const response = await kubeRequest(controlPlane!.kubeConfig, `/api/v1/namespaces/${namespace}/pods/${name}`);
  return (JSON.parse(response.body) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {};
}

/** The selector of one of the synthesized Services. */
function serviceSelector(name: string): Record<string, string> {
  const service = timescaleDbManifests(readDistManifests(environment), namespace).prerequisites
    .find((o) => o.kind === 'Service' && o.metadata?.name === name);
  if (!service) throw new Error(`no Service ${name} in dist/${environment.name}`);
  return (service.spec as { selector: Record<string, string> }).selector;
}

/** Pods a Service selects right now (what its EndpointSlice controller sees). */
async function podsSelectedBy(service: string): Promise<string[]> {
  const selector = Object.entries(serviceSelector(service)).map(([k, v]) => `${k}=${v}`).join(',');
  const response = await kubeRequest(controlPlane!.kubeConfig, `/api/v1/namespaces/${namespace}/pods`, { query: { labelSelector: selector } });
  return (JSON.parse(response.body) as { items: Array<{ metadata: { name: string } }> }).items.map((pod) => pod.metadata.name).sort();
}

/** Pods in a Service's EndpointSlices (ready endpoints only). */
async function endpointPods(service: string): Promise<string[]> {
  const response = await kubeRequest(controlPlane!.kubeConfig, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, {
    query: { labelSelector: `kubernetes.io/service-name=${service}` },
  });
  const slices = JSON.parse(response.body) as { items: Array<{ endpoints?: Array<{ targetRef?: { name: string }; conditions?: { ready?: boolean } }> }> };
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).map((e) => e.targetRef?.name ?? '?').sort();
}

/** The leader named in Patroni's leader ConfigMap. */
async function leaderFromDcs(): Promise<string | undefined> {
  const response = await kubeRequest(controlPlane!.kubeConfig, `/api/v1/namespaces/${namespace}/configmaps/${p.scope}-leader`);
  if (response.status !== 200) return undefined;
  return (JSON.parse(response.body) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.leader;
}

/** Patroni's view of the cluster (GET /cluster on any member that answers). */
async function clusterView(): Promise<Array<{ name: string; role: string; state: string; lag?: number | string }>> {
  for (const member of members) {
    const answer = await member.api('/cluster');
    if (answer?.status === 200) return (answer.body.members ?? []) as Array<{ name: string; role: string; state: string }>;
  }
  return [];
}

async function connect(member: PatroniMember, timeoutMs = 2000): Promise<Client> {
  const client = new Client({
    host: '127.0.0.1', port: member.pgPort, database: TRADING_DATABASE, user: APP.username, password: APP.password,
    connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs * 2,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function query<T>(member: PatroniMember, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = await connect(member);
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits for `check` to return a value, failing with `what` and the members' logs. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const result = await poll(check, Date.now() + timeoutMs, 250);
  if (result instanceof Error) {
    const logs = members.map((m) => `--- ${m.name} ---\n${(m.process?.log ?? '').split('\n').slice(-25).join('\n')}`).join('\n');
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${result.message}\n${logs}`);
  }
  return result;
}

/** Kills the member's Patroni and PostgreSQL (postmaster and every backend) with SIGKILL: a lost node. */
function killMember(member: PatroniMember): void {
  const postmaster = member.postmasterPid();
  member.process?.signal('SIGKILL');
  if (postmaster) {
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
    for (const pid of [postmaster, ...children]) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

beforeAll(async () => {
  const venv = ensurePatroni();
  controlPlane = await startControlPlane();
  const kc = controlPlane.kubeConfig;
  workDir = workDirectory('nautilus-patroni-');
  const manifests = timescaleDbManifests(readDistManifests(environment), namespace);

  // The store's objects from dist (namespace, priority class, ServiceAccount, Role, RoleBinding,
  // Services, PDB, ConfigMap), then its pods from the StatefulSet's template on a kwok node: kwok
  // marks them Running and Ready, Patroni (outside) labels them. The volume is an emptyDir: the
  // data lives in the member's directory on this machine.
  await applyManifests(kc, manifests.prerequisites, { fieldManager: 'nautilus-k8s-test' });
  await createFakeNodes(kc, [{ name: 'storage-node', cpu: '32', memory: '128Gi', labels: { 'topology.kubernetes.io/zone': environment.zones[0] } }]);
  const template = (manifests.statefulSet.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> & { volumes: unknown[] } } }).template;
  const replicas = (manifests.statefulSet.spec as { replicas: number }).replicas;
  expect(replicas).toBe(3);
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const name = `${manifests.statefulSet.metadata?.name}-${ordinal}`;
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace, labels: template.metadata.labels },
      spec: { ...template.spec, nodeName: 'storage-node', volumes: [...template.spec.volumes, { name: 'data', emptyDir: {} }] },
    };
    await applyManifests(kc, [pod], { fieldManager: 'nautilus-k8s-test' });
    members.push(new PatroniMember(name, path.join(workDir, name), await freePort(), await freePort()));
  }

  // Patroni authenticates as the store's ServiceAccount: a token from the TokenRequest API.
  const tokenResponse = await kubeRequest(kc, `/api/v1/namespaces/${namespace}/serviceaccounts/${TIMESCALEDB.name}/token`, {
    method: 'POST', contentType: 'application/json',
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } }),
  });
  expect(tokenResponse.status).toBe(201);
  const token = (JSON.parse(tokenResponse.body) as { status: { token: string } }).status.token;
  const cluster = kc.getCurrentCluster()!;
  const caData = cluster.caData ?? fs.readFileSync(cluster.caFile!).toString('base64');
  const kubeconfig = path.join(workDir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'patroni',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': caData } }],
    users: [{ name: 'timescaledb', user: { token } }],
    contexts: [{ name: 'patroni', context: { cluster: 'test', user: 'timescaledb', namespace } }],
  }), { mode: 0o644 });

  machine = new PatroniMachine({ manifests, workDir, kubeconfig, secrets: SECRETS, namespace }, venv);
  for (const member of members) machine.prepare(member);
}, 15 * 60_000);

afterAll(async () => {
  for (const member of members) killMember(member);
  killAll();
  await controlPlane?.stop();
  if (figures.length > 0) log(`figures:\n  ${figures.join('\n  ')}`);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('TimescaleDB under Patroni (prod configuration, real PostgreSQL, real API server)', () => {
  let firstLeader: string;

  test('Patroni accepts the generated configuration (patroni --validate-config)', () => {
    // Patroni's validator refuses loopback connect addresses, which only this machine uses: it
    // checks each member as a pod with a pod-network address would be.
    for (const member of members) {
      machine.run(member, machine.python, ['-m', 'patroni', '--validate-config', path.join(member.configDir, 'patroni.yaml')], 60_000, '10.244.0.10');
    }
    const version = machine.run(members[0], machine.python, ['-m', 'patroni', '--version']).trim();
    expect(version).toMatch(new RegExp(` ${p.patroniVersion.replace(/\./g, '\\.')}$`));
  });

  test('bootstraps a primary and two streaming replicas, one of them synchronous; pods labelled by role', async () => {
    const started = Date.now();
    machine.start(members[0]);
    firstLeader = await waitFor('a leader in the DCS', async () => leaderFromDcs(), 90_000);
    expect(firstLeader).toBe(members[0].name);
    const bootstrapped = Date.now();
    for (const member of members.slice(1)) machine.start(member);
    await waitFor('two streaming replicas, one synchronous', async () => {
      const view = await clusterView();
      const streaming = view.filter((m) => m.state === 'streaming');
      return streaming.length === 2 && view.some((m) => m.role === 'sync_standby') ? view : undefined;
    }, 120_000);
    figures.push(`bootstrap (initdb, post-bootstrap: role, database, stanza, first full backup): ${((bootstrapped - started) / 1000).toFixed(1)} s`);
    figures.push(`two replicas streaming, one synchronous: ${((Date.now() - bootstrapped) / 1000).toFixed(1)} s later`);

    await waitFor('role labels on every pod', async () => {
      const roles = await Promise.all(members.map(async (m) => (await podLabels(m.name))[p.roleLabel]));
      return roles[0] === p.primaryRole && roles[1] === p.replicaRole && roles[2] === p.replicaRole ? roles : undefined;
    }, 30_000);
    expect(await podsSelectedBy(TIMESCALEDB.name)).toEqual([firstLeader]);
    expect(await podsSelectedBy('timescaledb-replica')).toEqual(members.slice(1).map((m) => m.name));
    await waitFor('the primary Service\'s endpoint', async () => ((await endpointPods(TIMESCALEDB.name)).join() === firstLeader ? true : undefined), 30_000);

    // The post-bootstrap script made the application role and database; the replicas are read-only.
    const [row] = await query<{ user: string; db: string }>(members[0], 'SELECT current_user AS user, current_database() AS db');
    expect(row).toEqual({ user: APP.username, db: TRADING_DATABASE });
    await expect(query(members[1], 'CREATE TABLE nope (id int)')).rejects.toThrow(/read-only transaction/);
    const [sync] = await query<{ commit: string; standbys: string }>(members[0],
      "SELECT current_setting('synchronous_commit') AS commit, current_setting('synchronous_standby_names') AS standbys");
    expect(sync.commit).toBe('on');
    expect(sync.standbys).toMatch(/timescaledb-[12]/);
  });

  /** One member's Patroni `/metrics` (the ServiceMonitor's `patroni` endpoint), parsed strictly. */
  async function patroniMetrics(member: PatroniMember): Promise<Map<string, MetricFamily>> {
    const answer = await httpGet(member.apiPort, '/metrics', 5000);
    expect(answer.status).toBe(200);
    return parsePrometheusText(answer.body);
  }
  /** The value of `metric` in a scrape: Patroni serves one sample per metric, labelled scope and name. */
  const value = (scrape: Map<string, MetricFamily>, metric: string, member: PatroniMember): number => {
    const samples = scrape.get(metric)?.samples ?? [];
    expect(samples.map((s) => s.labels)).toEqual([{ scope: p.scope, name: member.name }]);
    return samples[0].value;
  };
  let timelineBefore = 0;

  test('Patroni\'s /metrics on every member serves the series the store alerts read: roles, WAL positions, streaming, timeline, lock', async () => {
    const leader = memberNamed(firstLeader);
    const scrapes = await waitFor('replicas that have replayed WAL', async () => {
      const all = await Promise.all(members.map(async (m) => ({ member: m, scrape: await patroniMetrics(m) })));
      return all.every(({ member, scrape }) => member === leader || value(scrape, TIMESCALEDB_METRICS.patroniWalReplayedLocation, member) > 0) ? all : undefined;
    }, 30_000);
    const timelines = new Set<number>();
    for (const { member, scrape } of scrapes) {
      const primary = member === leader;
      expect(value(scrape, TIMESCALEDB_METRICS.patroniPrimary, member)).toBe(primary ? 1 : 0);
      expect(value(scrape, TIMESCALEDB_METRICS.patroniReplica, member)).toBe(primary ? 0 : 1);
      expect(value(scrape, TIMESCALEDB_METRICS.patroniClusterUnlocked, member)).toBe(0);
      expect(value(scrape, TIMESCALEDB_METRICS.patroniPostgresRunning, member)).toBe(1);
      expect(value(scrape, TIMESCALEDB_METRICS.patroniStreaming, member)).toBe(primary ? 0 : 1);
      if (primary) expect(value(scrape, TIMESCALEDB_METRICS.patroniWalLocation, member)).toBeGreaterThan(0);
      timelines.add(value(scrape, TIMESCALEDB_METRICS.patroniTimeline, member));
    }
    expect(timelines.size).toBe(1);
    timelineBefore = [...timelines][0];
    expect(timelineBefore).toBeGreaterThanOrEqual(1);
  });

  let acknowledged: number[] = [];
  let newLeader: string;

  test('kill -9 of the primary under continuous writes: a replica is promoted, no acknowledged row is lost', async () => {
    await query(memberNamed(firstLeader), 'CREATE TABLE ticks (id bigint PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT clock_timestamp())');
    // The writer sends each insert to a pod the primary Service selects, as the Service would
    // (a dead pod refuses the connection; kwok keeps its Ready condition, a kubelet would not).
    let stop = false;
    let killedAt = 0;
    let firstWriteAfterKill = 0;
    let failedWrites = 0;
    const writer = (async () => {
      let id = 0;
      let client: Client | undefined;
      let connectedTo = '';
      while (!stop) {
        try {
          if (!client) {
            const candidates = await podsSelectedBy(TIMESCALEDB.name);
            for (const name of candidates) {
              try {
                const c = await connect(memberNamed(name), 1000);
                const [{ recovery }] = (await c.query('SELECT pg_is_in_recovery() AS recovery')).rows as Array<{ recovery: boolean }>;
                if (!recovery) { client = c; connectedTo = name; break; }
                await c.end();
              } catch { /* not this one */ }
            }
            if (!client) throw new Error('no writable primary behind the Service');
          }
          await client.query('INSERT INTO ticks (id) VALUES ($1)', [id + 1]);
          id += 1;
          acknowledged.push(id);
          if (killedAt && !firstWriteAfterKill && connectedTo !== firstLeader) firstWriteAfterKill = Date.now();
        } catch {
          failedWrites += 1;
          await client?.end().catch(() => undefined);
          client = undefined;
          // The row may or may not have committed; it was not acknowledged. Never reuse its id.
          id += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await client?.end().catch(() => undefined);
    })();

    await waitFor('writes before the kill', async () => (acknowledged.length >= 50 ? true : undefined), 30_000);
    const old = memberNamed(firstLeader);
    killedAt = Date.now();
    killMember(old);
    const acknowledgedBeforeKill = acknowledged.length;
    newLeader = await waitFor('a new leader in the DCS', async () => {
      const leader = await leaderFromDcs();
      return leader && leader !== firstLeader ? leader : undefined;
    }, 90_000);
    const promotedAt = Date.now();
    await waitFor('a write acknowledged by the new primary', async () => (firstWriteAfterKill ? true : undefined), 60_000);
    await waitFor('writes after the failover', async () => (acknowledged.length >= acknowledgedBeforeKill + 50 ? true : undefined), 30_000);
    stop = true;
    await writer;

    const failoverMs = firstWriteAfterKill - killedAt;
    figures.push(`kill -9 of the primary to a new leader in the DCS: ${((promotedAt - killedAt) / 1000).toFixed(1)} s`);
    figures.push(`kill -9 of the primary to the first acknowledged write on the new primary: ${(failoverMs / 1000).toFixed(1)} s (ttl ${PATRONI_TIMING.ttl.toSeconds()} s, loop_wait ${PATRONI_TIMING.loopWait.toSeconds()} s)`);
    expect(failoverMs).toBeGreaterThan(0);
    const rows = await query<{ id: string }>(memberNamed(newLeader), 'SELECT id FROM ticks ORDER BY id');
    const stored = new Set(rows.map((r) => Number(r.id)));
    const lost = acknowledged.filter((id) => !stored.has(id));
    figures.push(`acknowledged rows: ${acknowledged.length}, lost: ${lost.length}, failed (unacknowledged) attempts: ${failedWrites}`);
    expect(lost).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(100);
    // The synchronous standby is the only candidate Patroni promotes in synchronous mode.
    expect(members.map((m) => m.name)).toContain(newLeader);
    expect(newLeader).not.toBe(firstLeader);
  });

  test('after the kill -9, the new leader\'s /metrics show it primary on a higher timeline (what NautilusDataStoreFailover watches)', async () => {
    const leader = memberNamed(newLeader);
    const scrape = await waitFor('the new leader reporting itself primary', async () => {
      const answer = await patroniMetrics(leader);
      return value(answer, TIMESCALEDB_METRICS.patroniPrimary, leader) === 1 ? answer : undefined;
    }, 30_000);
    expect(value(scrape, TIMESCALEDB_METRICS.patroniTimeline, leader)).toBeGreaterThan(timelineBefore);
    expect(value(scrape, TIMESCALEDB_METRICS.patroniClusterUnlocked, leader)).toBe(0);
  });

  test('the primary Service follows the new leader', async () => {
    await waitFor('the role label on the new leader', async () => ((await podLabels(newLeader))[p.roleLabel] === p.primaryRole ? true : undefined), 30_000);
    expect(await podsSelectedBy(TIMESCALEDB.name)).toContain(newLeader);
    await waitFor('the new leader among the primary Service\'s endpoints', async () =>
      ((await endpointPods(TIMESCALEDB.name)).includes(newLeader) ? true : undefined), 30_000);
  });

  test('the old primary comes back and rejoins as a replica, and the Service selects only the new leader', async () => {
    const old = memberNamed(firstLeader);
    const restartedAt = Date.now();
    machine.start(old);
    await waitFor('the old primary streaming as a replica', async () => {
      const view = await clusterView();
      const me = view.find((m) => m.name === firstLeader);
      return me && me.role !== 'leader' && me.state === 'streaming' ? me : undefined;
    }, 120_000);
    const rewound = /pg_rewind/.test(old.process?.log ?? '');
    figures.push(`old primary restarted to streaming replica: ${((Date.now() - restartedAt) / 1000).toFixed(1)} s (${rewound ? 'with' : 'without'} pg_rewind)`);
    await waitFor('the old primary labelled replica', async () => ((await podLabels(firstLeader))[p.roleLabel] === p.replicaRole ? true : undefined), 30_000);
    expect(await podsSelectedBy(TIMESCALEDB.name)).toEqual([newLeader]);
    expect(await podsSelectedBy('timescaledb-replica')).toEqual(members.map((m) => m.name).filter((n) => n !== newLeader));
    await waitFor('the primary Service\'s endpoints = the new leader', async () =>
      ((await endpointPods(TIMESCALEDB.name)).join() === newLeader ? true : undefined), 30_000);

    // It replicates what the new primary writes, and has every acknowledged row.
    await query(memberNamed(newLeader), 'INSERT INTO ticks (id) VALUES ($1)', [10_000_000]);
    const rows = await waitFor('the new row on the rejoined replica', async () => {
      const found = await query<{ n: string }>(old, 'SELECT count(*) AS n FROM ticks WHERE id = ANY($1::bigint[])', [[...acknowledged, 10_000_000]]);
      return Number(found[0].n) === acknowledged.length + 1 ? found : undefined;
    }, 30_000);
    expect(rows).toHaveLength(1);
    const [{ recovery }] = await query<{ recovery: boolean }>(old, 'SELECT pg_is_in_recovery() AS recovery');
    expect(recovery).toBe(true);
  });

  test('a full backup plus archived WAL restores into a fresh data directory, to a point in time', async () => {
    const leader = memberNamed(newLeader);
    const stanza = p.backupStanza;
    // A full backup with the generated configuration, on the current primary, as the schedule does.
    const backupStarted = Date.now();
    machine.run(leader, 'pgbackrest', [`--stanza=${stanza}`, '--type=full', 'backup']);
    figures.push(`full backup on the new primary: ${((Date.now() - backupStarted) / 1000).toFixed(1)} s`);

    await query(leader, 'CREATE TABLE restore_check (batch text NOT NULL, n int NOT NULL)');
    await query(leader, "INSERT INTO restore_check SELECT 'before', g FROM generate_series(1, 100) g");
    const [{ target }] = await query<{ target: string }>(leader, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS target");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await query(leader, "INSERT INTO restore_check SELECT 'after', g FROM generate_series(1, 100) g");
    // Close the WAL segment holding the 'after' rows so it is archived now, not at archive_timeout.
    const psql = (sql: string) => machine.run(leader, 'psql', ['-h', leader.socketDir, '-p', String(leader.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', sql]).trim();
    const segment = psql('SELECT pg_walfile_name(pg_current_wal_lsn())');
    psql('SELECT pg_switch_wal()');
    await waitFor(`WAL segment ${segment} archived`, async () => (psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= segment ? true : undefined), 60_000);

    // Restore into a fresh directory, as a new cluster would (see README: restore runbook).
    const restored = new PatroniMember('restored', path.join(workDir, 'restored'), await freePort(), await freePort());
    for (const dir of [restored.dir, restored.socketDir, restored.dataDir]) fs.mkdirSync(dir, { mode: 0o700 });
    machine.chown(restored.dir);
    const restoreStarted = Date.now();
    machine.run(leader, 'pgbackrest', [
      `--stanza=${stanza}`, `--pg1-path=${restored.dataDir}`, '--type=time', `--target=${target}`, '--target-action=promote', 'restore',
    ]);
    // The restored copy must not archive into the live cluster's repository nor wait for the old
    // cluster's synchronous standby, and Patroni's postgresql.conf names the original member's
    // files and port: override those, and the preload.
    const server = new ManagedProcess('restored postgres', path.join(postgresBinDir(), 'postgres'), [
      '-D', restored.dataDir, '-c', `port=${restored.pgPort}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${restored.socketDir}`,
      '-c', 'archive_mode=off', '-c', 'synchronous_standby_names=', '-c', 'shared_preload_libraries=', '-c', `hba_file=${path.join(restored.dataDir, 'pg_hba.conf')}`,
      '-c', `ident_file=${path.join(restored.dataDir, 'pg_ident.conf')}`,
    ], { ...machine.runAs(), env: machine.environment(leader) });
    try {
      await waitFor('the restored server promoted', async () => {
        if (!server.running) throw new Error(`restored postgres exited:\n${server.log}`);
        const [{ recovery }] = await query<{ recovery: boolean }>(restored, 'SELECT pg_is_in_recovery() AS recovery');
        return recovery === false ? true : undefined;
      }, 90_000);
      figures.push(`restore to a point in time (restore + WAL replay + promotion): ${((Date.now() - restoreStarted) / 1000).toFixed(1)} s`);
      const batches = await query<{ batch: string; n: string }>(restored, 'SELECT batch, count(*) AS n FROM restore_check GROUP BY batch');
      expect(batches).toEqual([{ batch: 'before', n: '100' }]);
      const [{ ticks }] = await query<{ ticks: string }>(restored, 'SELECT count(*) AS ticks FROM ticks WHERE id = ANY($1::bigint[])', [acknowledged]);
      expect(Number(ticks)).toBe(acknowledged.length);
    } finally {
      server.signal('SIGINT');
      if (!(await server.waitForExit(15_000))) await server.stop(1000);
    }
  });
});
