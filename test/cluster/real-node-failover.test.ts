/**
 * The stores fail over inside the cluster: dev with production's store topology (three Redis
 * members with Sentinel, three Patroni members with synchronous replication), deployed with
 * `nautilus deploy` onto three real nodes, one per zone (see real-node.ts and
 * `realNodeFailoverEnvironment`), with market-data as the engine that uses both stores through
 * the generated Service names. The spread and affinity rules are the rendered ones.
 *
 * - Deleting the Redis primary's pod: Sentinel promotes a replica (the generated pre-stop hook
 *   hands the role over), writes acknowledged by `WAIT 1` survive, the engine follows the new
 *   primary without a restart, and the old member comes back as a replica.
 * - Killing the Redis primary's server process (SIGKILL; the kubelet restarts the container):
 *   writable again with every acknowledged write.
 * - Deleting the Patroni leader's pod: a new leader through the Kubernetes API from inside the
 *   pods with the generated Role, the primary Service's endpoints follow it, no acknowledged row
 *   is lost, and the old member rejoins as a streaming replica.
 * - Draining a store member's node with the budgets in force, then a second one: the second drain
 *   waits (the budgets refuse the evictions) instead of taking a second member of either store.
 *
 * The times (pod deletion to a writable primary) are printed and recorded in the README.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { CoreV1Api, DiscoveryV1Api, V1Pod } from '@kubernetes/client-node';
import Redis from 'ioredis';
import { Client } from 'pg';
import { REDIS_SENTINEL, TIMESCALEDB_PATRONI } from '../../src/catalog/data-stores';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { runCli } from '../../src/deploy/cli';
import { imagesOf, KubeObject } from '../../src/deploy/objects';
import { poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { CREDENTIAL_SECRETS, TIMESCALEDB_SECRETS, TRADING_DATABASE } from '../../src/planning/runtime-contract';
import { poll } from '../contract/processes';
import { applyManifests, ManifestObject } from './apply';
import { leftovers, machineState } from './machine-state';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from './dist-manifests';
import { probeFromContainer, probeFromNode } from './flow-matrix';
import { RealNodeCluster, ensureRealNodeBinaries, startRealNodeCluster } from './real-node';
import { FAILOVER_ZONES, realNodeFailoverEnvironment } from './real-node-environment';
import { buildEngineImages, buildStoreStandIns, synthesizeEnvironment } from './real-node-setup';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

const execFileAsync = promisify(execFile);

// Cold: the engine image and the stand-ins (about 2 minutes); three nodes and the deploy about 2 more.
jest.setTimeout(20 * 60_000);

const ENGINE = 'market-data';
/** The engine's port, from the catalog. */
const enginePort = (() => {
  const workload = PLATFORM_ENGINES.find((e) => e.name === ENGINE)!.workload;
  if (workload.kind !== 'service') throw new Error(`${ENGINE} is not a service`);
  return workload.port;
})();
const environment = realNodeFailoverEnvironment([ENGINE]);
const pool = environment.nodePools[0];
const NODE_NAMES = FAILOVER_ZONES.map((zone) => `${pool.name}-${zone}-0`);
const DATA = NAMESPACE_NAMES.data;
/** What credentialSecrets() puts in every key: `test-<key>`. */
const REDIS_PASSWORD = `test-${CREDENTIAL_SECRETS.redis.keys[0]}`;
const POSTGRES_PASSWORD = `test-${TIMESCALEDB_SECRETS.superuser.keys[0]}`;

let workDir: string;
let cluster: RealNodeCluster | undefined;
let binder: VolumeBinder | undefined;
let machineBefore: ReturnType<typeof machineState>;
const figures: string[] = [];

const core = () => cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `attempt` to return a value (the project's `poll`), failing with `what` and the last error. */
async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>, intervalMs = 200): Promise<T> {
  const result = await poll(attempt, Date.now() + timeoutMs, intervalMs);
  if (result instanceof Error) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${result.message})`);
  return result;
}

async function storePods(store: 'redis' | 'timescaledb'): Promise<V1Pod[]> {
  return (await core().listNamespacedPod({ namespace: DATA, labelSelector: `app.kubernetes.io/name=${store}` })).items;
}

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Waits until every member of `store` is Running and Ready. */
async function allReady(store: 'redis' | 'timescaledb', timeoutMs = 120_000): Promise<V1Pod[]> {
  return waitFor(`every ${store} member Ready`, timeoutMs, async () => {
    const pods = await storePods(store);
    return pods.length === 3 && pods.every((pod) => isReady(pod) && !pod.metadata?.deletionTimestamp) ? pods : undefined;
  }, 500);
}

// ---- Redis, reached from the machine at the pods' addresses (the machine routes to every node's pods).

/** One command on a fresh connection to `ip:port`, failing fast. */
async function redisCommand(ip: string, port: number, args: readonly (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: ip, port, password: REDIS_PASSWORD, lazyConnect: true, connectTimeout: 1000, commandTimeout: 2000,
    maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    client.disconnect();
  }
}

/** The member names Sentinel and the members announce (`redis-0.redis-headless...`) to pod addresses. */
async function redisAddresses(): Promise<Map<string, string>> {
  const pods = await storePods('redis');
  return new Map(pods.filter((pod) => pod.status?.podIP).map((pod) => [pod.metadata!.name!, pod.status!.podIP!]));
}

/** The primary the reachable Sentinels agree on (a majority), as a pod name. */
async function sentinelPrimary(): Promise<string | undefined> {
  const addresses = await redisAddresses();
  const answers = await Promise.all([...addresses.values()].map((ip) =>
    redisCommand(ip, REDIS_SENTINEL.port, ['SENTINEL', 'get-master-addr-by-name', REDIS_SENTINEL.masterName]).catch(() => undefined)));
  const names = answers.map((answer) => (Array.isArray(answer) ? String(answer[0]).split('.')[0] : undefined)).filter((n): n is string => !!n);
  const [top] = Object.entries(names.reduce<Record<string, number>>((count, name) => ({ ...count, [name]: (count[name] ?? 0) + 1 }), {}))
    .sort((a, b) => b[1] - a[1]);
  return top && top[1] >= 2 ? top[0] : undefined;
}

/** Why the last Redis write was not acknowledged, for failure messages. */
let lastRedisWriteError: string | undefined;

/**
 * The primary as a client finds it (ioredis does the same): the first Sentinel that answers names
 * it, and that member says it is a master.
 */
async function writablePrimary(): Promise<string | undefined> {
  const addresses = await redisAddresses();
  for (const ip of addresses.values()) {
    const answer = await redisCommand(ip, REDIS_SENTINEL.port, ['SENTINEL', 'get-master-addr-by-name', REDIS_SENTINEL.masterName]).catch(() => undefined);
    const name = Array.isArray(answer) ? String(answer[0]).split('.')[0] : undefined;
    const address = name && addresses.get(name);
    if (!address) continue;
    const role = await redisCommand(address, 6379, ['ROLE']).catch(() => undefined);
    if (Array.isArray(role) && role[0] === 'master') return name;
  }
  return undefined;
}

/** A write to the primary a client finds, acknowledged by a replica (`WAIT 1`): the primary's pod name when acknowledged. */
async function redisAcknowledgedWrite(key: string): Promise<string | undefined> {
  const primary = await writablePrimary();
  const ip = primary && (await redisAddresses()).get(primary);
  if (!ip) {
    lastRedisWriteError = primary ? `no address for ${primary}` : 'no Sentinel names a member that says it is the master';
    return undefined;
  }
  const client = new Redis({
    host: ip, port: 6379, password: REDIS_PASSWORD, lazyConnect: true, connectTimeout: 1000, commandTimeout: 2000,
    maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.set(key, 'acknowledged');
    const replicas = await client.wait(1, 1000);
    lastRedisWriteError = replicas >= 1 ? undefined : `WAIT 1 on ${primary}: no replica acknowledged within 1 s`;
    return replicas >= 1 ? primary : undefined;
  } catch (error) {
    lastRedisWriteError = `${primary}: ${error instanceof Error ? error.message : String(error)}`;
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** How to stop each writer still running: a test that fails midway leaves its writer to afterAll. */
const running = new Set<() => Promise<void>>();

/** One write of a {@link Writer}: when it finished, and on which member it was acknowledged (none: it failed). */
interface Attempt {
  readonly id: number;
  readonly at: number;
  readonly member?: string;
}

/**
 * Writes continuously (`write(n)` resolves the member that acknowledged write `n`, or undefined
 * when it failed) until `stop()`, which resolves the acknowledged ids.
 */
function startWriter(write: (id: number) => Promise<string | undefined>) {
  const attempts: Attempt[] = [];
  let stopped = false;
  const stopWriting = async () => { stopped = true; await loop; };
  const loop = (async () => {
    for (let id = 1; !stopped; id++) {
      const member = await write(id).catch(() => undefined);
      attempts.push({ id, at: Date.now(), member });
      if (!member) await sleep(50);
    }
  })();
  running.add(stopWriting);
  const acknowledged = () => attempts.filter((attempt) => attempt.member);
  return {
    /** Acknowledged writes since `since` (ms since the epoch). */
    acknowledgedSince: (since: number) => acknowledged().filter((attempt) => attempt.at >= since).length,
    /**
     * When writing worked again after a disruption that began at `since`: the first acknowledged
     * write after `since` on another member than `before`, or after a failed write.
     */
    recoveredAt: (since: number, before: string) => {
      const after = attempts.filter((attempt) => attempt.at >= since);
      const firstFailure = after.findIndex((attempt) => !attempt.member);
      return after.find((attempt, i) => attempt.member && (attempt.member !== before || (firstFailure >= 0 && i > firstFailure)))?.at;
    },
    stop: async () => { await stopWriting(); running.delete(stopWriting); return acknowledged().map((attempt) => attempt.id); },
  };
}
type Writer = ReturnType<typeof startWriter>;

/** Waits for the writer to recover from a disruption begun at `since`; returns the time it took and then lets it write five more. */
async function recovery(writer: Writer, since: number, before: string, timeoutMs: number): Promise<number> {
  const at = await waitFor('acknowledged writes again', timeoutMs, async () => writer.recoveredAt(since, before));
  await waitFor('five more acknowledged writes', 30_000, async () => (writer.acknowledgedSince(at) >= 5 ? true : undefined));
  return at - since;
}

const redisKey = (prefix: string, id: number) => `${prefix}:${id}`;

async function missingRedisKeys(keys: readonly string[]): Promise<string[]> {
  const primary = await sentinelPrimary();
  const ip = (await redisAddresses()).get(primary!)!;
  const values = keys.length === 0 ? [] : (await redisCommand(ip, 6379, ['MGET', ...keys])) as (string | null)[];
  return keys.filter((_key, i) => values[i] !== 'acknowledged');
}

/** The engine's pod (one replica in dev) and its containers' restart count. */
async function enginePod(): Promise<{ pod: V1Pod; restarts: number }> {
  const pods = (await core().listNamespacedPod({ namespace: NAMESPACE_NAMES.engines, labelSelector: `app.kubernetes.io/name=${ENGINE}` })).items
    .filter((pod) => !pod.metadata?.deletionTimestamp);
  expect(pods).toHaveLength(1);
  return { pod: pods[0], restarts: (pods[0].status?.containerStatuses ?? []).reduce((sum, s) => sum + s.restartCount, 0) };
}

/** Whether the engine's own Redis connection (named after the engine) is on the primary Sentinel names. */
async function engineConnectedToPrimary(): Promise<string | undefined> {
  const primary = await sentinelPrimary();
  const ip = primary && (await redisAddresses()).get(primary);
  if (!ip) return undefined;
  const clients = String(await redisCommand(ip, 6379, ['CLIENT', 'LIST']));
  return clients.split('\n').some((line) => line.includes(`name=${ENGINE}`)) ? primary : undefined;
}

// ---- TimescaleDB, reached at the pods' addresses as the superuser.

async function patroniLeader(): Promise<V1Pod | undefined> {
  const leaders = (await storePods('timescaledb')).filter((pod) =>
    pod.metadata?.labels?.[TIMESCALEDB_PATRONI.roleLabel] === TIMESCALEDB_PATRONI.primaryRole && !pod.metadata?.deletionTimestamp && pod.status?.podIP);
  return leaders.length === 1 ? leaders[0] : undefined;
}

async function postgres(ip: string): Promise<Client> {
  const client = new Client({ host: ip, port: 5432, user: 'postgres', password: POSTGRES_PASSWORD, database: TRADING_DATABASE, connectionTimeoutMillis: 2000, statement_timeout: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Inserts rows into the current leader (one connection, reopened after a failure), continuously. */
function postgresWriter(): Writer {
  let client: Client | undefined;
  let member: string | undefined;
  const writer = startWriter(async (id) => {
    try {
      if (!client) {
        const leader = await patroniLeader();
        if (!leader) return undefined;
        client = await postgres(leader.status!.podIP!);
        member = leader.metadata!.name!;
      }
      await client.query('INSERT INTO failover_probe (id) VALUES ($1)', [id]);
      return member;
    } catch {
      void client?.end().catch(() => undefined);
      client = undefined;
      return undefined;
    }
  });
  return { ...writer, stop: async () => { const ids = await writer.stop(); await client?.end().catch(() => undefined); return ids; } };
}

/**
 * The one policy the test adds to the generated ones: this test's writers and readers run on the
 * machine and reach the stores from its addresses on the nodes' links, which no generated policy
 * admits (nor should). Policies only add up, so every flow between pods is still the generated
 * policies' to allow or refuse.
 */
function testClientPolicy(machineAddresses: readonly string[]): ManifestObject {
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'failover-test-clients', namespace: NAMESPACE_NAMES.data },
    spec: {
      podSelector: {}, policyTypes: ['Ingress'],
      ingress: [{ from: machineAddresses.map((address) => ({ ipBlock: { cidr: `${address}/32` } })) }],
    },
  };
}

/** A pod's main container, as containerd names it. */
function containerOf(pod: V1Pod): string {
  const main = pod.spec!.containers[0].name;
  return (pod.status?.containerStatuses?.find((c) => c.name === main)?.containerID ?? '').replace(/^containerd:\/\//, '');
}

async function kubectl(args: readonly string[]): Promise<{ code: number; output: string }> {
  const binary = path.join(cluster!.controlPlane.binDir, 'kubectl');
  try {
    const { stdout, stderr } = await execFileAsync(binary, ['--kubeconfig', cluster!.controlPlane.kubeconfigPath, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}


// Cold, the programs are built first, in a hook of their own with a bound that allows it (about 20
// minutes on 2 cores beside the other lanes, when this file comes first in its lane).
beforeAll(() => ensureRealNodeBinaries({ enforceNetworkPolicies: true }), 60 * 60_000);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-real-node-failover-'));
  // Ctrl-C skips afterAll: the nodes clean themselves up, and so does this directory.
  process.once('exit', () => fs.rmSync(workDir, { recursive: true, force: true }));
  const dist = path.join(workDir, 'dist');
  let lapStarted = Date.now();
  const laps: string[] = [];
  const lap = (what: string) => { laps.push(`${what} ${((Date.now() - lapStarted) / 1000).toFixed(1)} s`); lapStarted = Date.now(); };

  await buildEngineImages(environment, [ENGINE]);
  buildStoreStandIns();
  const objects = synthesizeEnvironment(dist, environment);
  lap('images and synthesis');

  machineBefore = machineState();
  const [first, ...others] = NODE_NAMES.map((name, i) => ({
    name, labels: { ...poolLabels(pool), 'topology.kubernetes.io/zone': FAILOVER_ZONES[i] }, taints: poolTaints(pool),
  }));
  cluster = await startRealNodeCluster({ ...first, images: imagesOf(objects as KubeObject[]), joinNodes: others, enforceNetworkPolicies: true });
  lap('control plane and three nodes');
  const kc = cluster.controlPlane.kubeConfig;
  // The volumes are directories the nodes share (the machine's filesystem); each PV is pinned to its node.
  binder = startVolumeBinder(kc, 500, path.join(workDir, 'volumes'));
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  await applyManifests(kc, [...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment), ...namespaces,
    ...credentialSecrets(namespaces.map((n) => n.metadata?.name ?? '').filter((n) => n.startsWith('nautilus-'))),
    testClientPolicy(cluster.nodes.map((node) => node.hostAddress))], { fieldManager: 'nautilus-test-cluster' });

  const out = { stdout: '', stderr: '' };
  const code = await runCli(['deploy', environment.name, '--dist', dist, '--timeout', '420', '--yes'], {
    stdout: (text) => { out.stdout += text; }, stderr: (text) => { out.stderr += text; },
    env: { ...process.env, KUBECONFIG: cluster.controlPlane.kubeconfigPath },
  });
  lap('nautilus deploy');
  figures.push(`up: ${laps.join(', ')}`);
  if (code !== 0) throw new Error(`nautilus deploy failed (${code}):\n${out.stdout}\n${out.stderr}\n${cluster.nodes.map((n) => n.logTails(15)).join('\n')}`);

  const leader = await waitFor('a Patroni leader', 60_000, patroniLeader);
  const client = await postgres(leader.status!.podIP!);
  await client.query('CREATE TABLE failover_probe (id integer PRIMARY KEY)');
  await client.end();
});

afterAll(async () => {
  for (const stop of running) await stop();
  if (figures.length > 0) console.log(`[real-node failover] figures:\n  ${figures.join('\n  ')}`);
  await binder?.stop();
  await cluster?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('the stores fail over inside the cluster, on three real nodes', () => {
  test('each store runs one member per node, placed by the rendered spread rules', async () => {
    for (const store of ['redis', 'timescaledb'] as const) {
      const pods = await allReady(store);
      expect(new Set(pods.map((pod) => pod.spec?.nodeName))).toEqual(new Set(NODE_NAMES));
    }
    expect(await sentinelPrimary()).toBeDefined();
    expect(await waitFor('the engine on the Redis primary', 30_000, engineConnectedToPrimary)).toBeDefined();
  });

  test('NetworkPolicies are enforced on every node: members reach each other and the engine reaches both stores across nodes; what the catalog does not declare is refused', async () => {
    const [redis, timescaledb] = [await allReady('redis'), await allReady('timescaledb')];
    const { pod: engine } = await enginePod();
    const nodeOf = (pod: V1Pod) => cluster!.nodes.find((node) => node.name === pod.spec?.nodeName)!;
    const otherNode = (from: V1Pod, members: readonly V1Pod[]) => members.filter((member) => member.spec?.nodeName !== from.spec?.nodeName);
    const at = (pod: V1Pod, port: number) => `${pod.status!.podIP}:${port}`;
    const probe = (from: V1Pod, targets: readonly string[]) => probeFromContainer(nodeOf(from), containerOf(from), targets, 3);
    const cases: Array<{ from: V1Pod; to: string; allowed: boolean; what: string }> = [
      // Declared: the engine depends on both stores; members replicate and elect across nodes.
      ...otherNode(engine, redis).flatMap((m) => [
        { from: engine, to: at(m, 6379), allowed: true, what: `${ENGINE} -> redis ${m.metadata!.name}` },
        { from: engine, to: at(m, REDIS_SENTINEL.port), allowed: true, what: `${ENGINE} -> sentinel ${m.metadata!.name}` },
      ]),
      ...otherNode(engine, timescaledb).map((m) => ({ from: engine, to: at(m, 5432), allowed: true, what: `${ENGINE} -> timescaledb ${m.metadata!.name}` })),
      ...otherNode(redis[0], redis).map((m) => ({ from: redis[0], to: at(m, REDIS_SENTINEL.port), allowed: true, what: `redis peers: ${redis[0].metadata!.name} -> ${m.metadata!.name} sentinel` })),
      ...otherNode(timescaledb[0], timescaledb).map((m) => ({ from: timescaledb[0], to: at(m, TIMESCALEDB_PATRONI.restApiPort), allowed: true, what: `patroni peers: ${timescaledb[0].metadata!.name} -> ${m.metadata!.name}` })),
      // Not declared: a store calling the engine, one store calling the other.
      ...otherNode(engine, redis).map((m) => ({ from: m, to: at(engine, enginePort), allowed: false, what: `redis ${m.metadata!.name} -> ${ENGINE}` })),
      ...otherNode(redis[0], timescaledb).map((m) => ({ from: redis[0], to: at(m, 5432), allowed: false, what: `redis ${redis[0].metadata!.name} -> timescaledb ${m.metadata!.name}` })),
    ];
    expect(cases.filter((c) => c.allowed).length).toBeGreaterThanOrEqual(8);
    // Every destination listens: from its own node (admitted as node-local) each port answers, so a refusal is the policy's.
    for (const c of cases) {
      const target = [...redis, ...timescaledb, engine].find((pod) => c.to.startsWith(`${pod.status!.podIP}:`))!;
      expect({ what: c.what, listening: probeFromNode((command) => nodeOf(target).exec(command), [c.to], 3).has(c.to) }).toEqual({ what: c.what, listening: true });
    }
    const wrong: string[] = [];
    for (const c of cases) {
      const connected = (await probe(c.from, [c.to])).has(c.to);
      if (connected !== c.allowed) wrong.push(`${c.what} (${c.to}): ${connected ? 'connected, but the catalog does not declare it' : 'refused, but the catalog declares it'}`);
    }
    expect(wrong).toEqual([]);
    figures.push(`NetworkPolicies across nodes: ${cases.length} flows probed, ${cases.filter((c) => c.allowed).length} allowed and ${cases.filter((c) => !c.allowed).length} refused as declared`);
  });

  test('deleting the Redis primary\'s pod: a replica is promoted, acknowledged writes survive, the engine follows without a restart', async () => {
    const engineBefore = await enginePod();
    const before = (await sentinelPrimary())!;
    const writer = startWriter((id) => redisAcknowledgedWrite(redisKey('pod-delete', id)));
    await waitFor('acknowledged writes before the deletion', 10_000, async () => (writer.acknowledgedSince(0) > 0 ? true : undefined));
    const deleted = Date.now();
    await core().deleteNamespacedPod({ name: before, namespace: DATA });
    const after = await waitFor('Sentinel to name another primary', 30_000, async () => {
      const primary = await sentinelPrimary();
      return primary && primary !== before ? primary : undefined;
    });
    const took = await recovery(writer, deleted, before, 30_000);
    figures.push(`Redis: primary pod deleted to a write acknowledged on the new primary: ${(took / 1000).toFixed(1)} s (${before} -> ${after}; the pre-stop hook hands over)`);
    await allReady('redis');
    const keys = (await writer.stop()).map((id) => redisKey('pod-delete', id));
    expect(await missingRedisKeys(keys)).toEqual([]);

    // The old member is back (same name, same volume) as a replica of the new primary.
    const addresses = await redisAddresses();
    const role = await waitFor(`${before} to replicate from ${after}`, 30_000, async () => {
      const answer = (await redisCommand(addresses.get(before)!, 6379, ['ROLE'])) as unknown[];
      return answer[0] === 'slave' && String(answer[1]).startsWith(`${after}.`) && answer[3] === 'connected' ? answer : undefined;
    });
    expect(role[0]).toBe('slave');

    expect(await waitFor('the engine\'s connection on the new primary', 30_000, engineConnectedToPrimary)).toBe(after);
    const engineAfter = await enginePod();
    expect(engineAfter.pod.metadata?.uid).toBe(engineBefore.pod.metadata?.uid);
    expect(engineAfter.restarts).toBe(engineBefore.restarts);
    expect(isReady(engineAfter.pod)).toBe(true);
  });

  test('killing the Redis primary\'s server process: writable again with every acknowledged write', async () => {
    const engineBefore = await enginePod();
    const before = (await sentinelPrimary())!;
    const pod = (await storePods('redis')).find((p) => p.metadata?.name === before)!;
    const node = cluster!.nodes.find((n) => n.name === pod.spec?.nodeName)!;
    const containerId = pod.status!.containerStatuses!.find((s) => s.name === 'redis')!.containerID!.replace(/^containerd:\/\//, '');
    const restartsBefore = pod.status!.containerStatuses!.find((s) => s.name === 'redis')!.restartCount;
    const writer = startWriter((id) => redisAcknowledgedWrite(redisKey('kill', id)));
    await waitFor('acknowledged writes before the kill', 10_000, async () => (writer.acknowledgedSince(0) > 0 ? true : undefined));
    const killed = Date.now();
    await execFileAsync('ctr', ['--address', node.containerdSocket, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', containerId]);
    const took = await recovery(writer, killed, before, 30_000);
    const after = await waitFor('Sentinels to agree on a primary', 30_000, sentinelPrimary);
    figures.push(`Redis: server process killed (SIGKILL) to a write acknowledged again: ${(took / 1000).toFixed(1)} s (${after === before ? `${before} restarted by the kubelet within Sentinel's down-after, still primary` : `${before} -> ${after}, promoted by Sentinel`})`);
    await waitFor('the killed container restarted', 60_000, async () => {
      const now = (await storePods('redis')).find((p) => p.metadata?.name === before);
      return (now?.status?.containerStatuses?.find((s) => s.name === 'redis')?.restartCount ?? 0) > restartsBefore ? true : undefined;
    });
    await allReady('redis');
    const keys = (await writer.stop()).map((id) => redisKey('kill', id));
    expect(await missingRedisKeys(keys)).toEqual([]);
    expect(await waitFor('the engine\'s connection on the primary', 30_000, engineConnectedToPrimary)).toBe(after);
    expect((await enginePod()).restarts).toBe(engineBefore.restarts);
  });

  test('deleting the Patroni leader\'s pod: a new leader, the primary Service follows, no acknowledged row lost, the old member rejoins', async () => {
    const before = (await patroniLeader())!;
    const writer = postgresWriter();
    await waitFor('acknowledged commits before the deletion', 10_000, async () => (writer.acknowledgedSince(0) > 0 ? true : undefined));
    const deleted = Date.now();
    await core().deleteNamespacedPod({ name: before.metadata!.name!, namespace: DATA });
    const after = await waitFor('a new leader labelled by Patroni', 60_000, async () => {
      const leader = await patroniLeader();
      return leader && leader.metadata?.name !== before.metadata?.name ? leader : undefined;
    });
    const took = await recovery(writer, deleted, before.metadata!.name!, 60_000);
    figures.push(`TimescaleDB: leader pod deleted to the first commit acknowledged again: ${(took / 1000).toFixed(1)} s (${before.metadata!.name} -> ${after.metadata!.name})`);

    // The primary Service (selecting the role label) has exactly the new leader as its endpoint.
    const discovery = cluster!.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
    await waitFor('the primary Service\'s endpoints on the new leader', 30_000, async () => {
      const slices = (await discovery.listNamespacedEndpointSlice({ namespace: DATA, labelSelector: 'kubernetes.io/service-name=timescaledb' })).items;
      const ready = slices.flatMap((slice) => slice.endpoints.filter((e) => e.conditions?.ready).flatMap((e) => e.addresses));
      return ready.length === 1 && ready[0] === after.status?.podIP ? ready : undefined;
    });

    const ids = await writer.stop();
    const client = await postgres(after.status!.podIP!);
    try {
      const stored = new Set((await client.query<{ id: number }>('SELECT id FROM failover_probe')).rows.map((row) => row.id));
      expect(ids.filter((id) => !stored.has(id))).toEqual([]);
      // The deleted member is back (same name and volume) and streams from the new leader, as do the others.
      await allReady('timescaledb', 180_000);
      await waitFor('two replicas streaming from the new leader', 60_000, async () => {
        const rows = (await client.query<{ application_name: string }>("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")).rows;
        return rows.length === 2 && rows.some((row) => row.application_name === before.metadata?.name) ? rows : undefined;
      });
    } finally {
      await client.end();
    }
  });

  test('draining a second store node while a member is away: the budgets make the drain wait', async () => {
    // The two nodes without cluster DNS: the harness runs one CoreDNS pod, where a real cluster runs
    // two or more; draining its node would take name resolution (which the members replicate by)
    // away for as long as its replacement takes to start, which is not what this test is about.
    const dns = (await core().listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' })).items.map((pod) => pod.spec?.nodeName);
    const [first, second] = NODE_NAMES.filter((name) => !dns.includes(name));
    const drained = await kubectl(['drain', first, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=90s']);
    expect(drained.code).toBe(0);
    // The evicted members cannot come back elsewhere: each volume is pinned to the drained node.
    await waitFor('the drained node\'s members waiting for it', 30_000, async () => {
      const pods = [...await storePods('redis'), ...await storePods('timescaledb')].filter((pod) => pod.spec?.nodeName === first || !pod.spec?.nodeName);
      return pods.length === 2 && pods.every((pod) => pod.status?.phase === 'Pending') ? pods : undefined;
    });
    const secondMembers = [...await storePods('redis'), ...await storePods('timescaledb')].filter((pod) => pod.spec?.nodeName === second);
    expect(secondMembers).toHaveLength(2);

    const refused = await kubectl(['drain', second, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=10s']);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/Cannot evict pod as it would violate the pod's disruption budget/);
    const stillThere = [...await storePods('redis'), ...await storePods('timescaledb')].filter((pod) => pod.spec?.nodeName === second);
    expect(stillThere.map((pod) => pod.metadata?.uid).sort()).toEqual(secondMembers.map((pod) => pod.metadata?.uid).sort());
    expect(stillThere.every(isReady)).toBe(true);
    // Both stores still take writes: two of three members each.
    const written = await waitFor('an acknowledged Redis write', 30_000, () => redisAcknowledgedWrite('during-drain'))
      .catch((error: Error) => { throw new Error(`${error.message}; last: ${lastRedisWriteError}`); });
    expect(written).toBeDefined();
    const leader = await waitFor('a Patroni leader', 30_000, patroniLeader);
    const client = await postgres(leader.status!.podIP!);
    await client.query('INSERT INTO failover_probe (id) VALUES (-1)');
    await client.end();
  });

  test('stopping the three nodes leaves nothing behind: forwarding off again, the machine\'s rules and links as before', async () => {
    const nodes = cluster!.nodes.map((node) => ({ workDir: node.workDir, cgroupRoot: node.cgroupRoot }));
    // While they run, the machine forwards between their links only.
    expect(machineState().sysctls).toContain('net.ipv4.ip_forward=1');
    expect(machineState().iptables).toMatch(/-A FORWARD -i nautilus-n\d+ ! -o nautilus-n\+ -j DROP/);
    await binder?.stop();
    await cluster!.stop();
    expect(nodes.flatMap((node) => leftovers(node.workDir, node.cgroupRoot))).toEqual([]);
    expect(machineState()).toEqual(machineBefore);
  });
});
