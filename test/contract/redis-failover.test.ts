/**
 * Sentinel failover, for real: prod's Redis members (redis-server and redis-sentinel from Debian,
 * each started with its container's own command from a copy of the generated ConfigMap, see
 * redis-members.ts) and an engine of the latency tier started from its prod manifest as the
 * contract test does. Then the primary is killed (-9, server and Sentinel: its pod is gone), and
 * later stopped gracefully (its preStop hook, then SIGTERM). Each time: Sentinel promotes a
 * replica; the engine's readiness goes false and comes back without a restart; writes
 * acknowledged by a replica (`WAIT 1`) before are on the new primary; the old primary, started
 * again, rejoins as a replica. The time from the kill to a writable primary is printed.
 */
import * as fs from 'fs';
import * as path from 'path';
import Redis from 'ioredis';
import { REDIS_SENTINEL } from '../../src/catalog/data-stores';
import { CREDENTIAL_SECRETS, RUNTIME_ENV } from '../../src/planning/runtime-contract';
import { compileEngines, localCommand, startEngine } from './engine-process';
import { EngineWorkload, loadEngineWorkloads, resolveEnv, resolveProbePort } from './manifests';
import { ManagedProcess, httpGet, killAll, poll } from './processes';
import { RedisMember, RedisMembers, loadRedisManifest } from './redis-members';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
const ENVIRONMENT = 'prod';
/** The engine: the latency tier's order manager reads Redis and nothing else. */
const ENGINE = 'order-manager';
const PASSWORD = 'failover-test-password';
const MASTER = REDIS_SENTINEL.masterName;

let members: RedisMembers;
let compiled = '';
let engine: ManagedProcess;
let workload: EngineWorkload;
let readinessPort = 0;
let readinessPath = '';
const measured: Record<string, number> = {};

async function ready(): Promise<boolean> {
  try {
    return (await httpGet(readinessPort, readinessPath, 1000)).status === 200;
  } catch {
    return false;
  }
}

/** Polls until `condition` holds or `ms` pass; fails naming `what`. */
async function waitFor<T>(what: string, ms: number, condition: () => Promise<T | undefined>, interval = 50): Promise<T> {
  const result = await poll(condition, Date.now() + ms, interval);
  if (result instanceof Error) throw new Error(`${what}: not within ${ms} ms (${result.message})`);
  return result;
}

/** The current primary, agreed by the Sentinels and by its own ROLE. */
async function primary(except?: RedisMember): Promise<RedisMember> {
  return waitFor('a primary known to Sentinel', 30_000, async () => {
    const found = await members.primaryPerSentinels(MASTER, except);
    if (found && found !== except && (await members.role(found)).role === 'master') return found;
    return undefined;
  }, 100);
}

/** Writes `count` keys on `member` and waits until a replica acknowledges them (`WAIT 1`). */
async function writeAcknowledged(member: RedisMember, prefix: string, count: number): Promise<Record<string, string>> {
  const client = members.client(member);
  await client.connect();
  try {
    const written: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      written[`${prefix}:${i}`] = `value-${i}`;
      await client.set(`${prefix}:${i}`, `value-${i}`);
    }
    const acknowledged = await client.call('WAIT', '1', '5000') as number;
    expect(acknowledged).toBeGreaterThanOrEqual(1);
    return written;
  } finally {
    client.disconnect();
  }
}

/** Every member up, Sentinels agreeing on `expected` (or any) primary with every replica linked. */
async function waitForHealthySet(expected?: RedisMember): Promise<RedisMember> {
  return waitFor('every replica linked to the primary, every Sentinel seeing all', 60_000, async () => {
    const current = await members.primaryPerSentinels(MASTER);
    if (!current || (expected && current !== expected)) return undefined;
    for (const member of members.members) {
      if (member === current) continue;
      const role = await members.role(member).catch(() => undefined);
      if (role?.role !== 'replica' || role.primary !== current.address || role.link !== 'connected') return undefined;
    }
    for (const member of members.members) {
      const sentinels = await members.ask(member, REDIS_SENTINEL.port, 'SENTINEL', 'sentinels', MASTER).catch(() => []) as unknown[];
      const replicas = await members.ask(member, REDIS_SENTINEL.port, 'SENTINEL', 'replicas', MASTER).catch(() => []) as unknown[];
      if (sentinels.length !== members.members.length - 1 || replicas.length !== members.members.length - 1) return undefined;
    }
    return current;
  }, 200);
}

beforeAll(async () => {
  const manifest = loadRedisManifest(ROOT, ENVIRONMENT);
  expect(manifest.replicas).toBe(3);
  expect(manifest.sentinel).toBeDefined();
  members = await RedisMembers.create(manifest, PASSWORD);
  // In StatefulSet order (OrderedReady): each member starts once the one before answers.
  for (const member of members.members) {
    members.start(member);
    await members.waitForServer(member, Date.now() + 20_000);
  }
  await waitForHealthySet(members.members[0]);

  compiled = compileEngines(ROOT);
  const found = loadEngineWorkloads(ROOT, ENVIRONMENT).find((w) => w.name === ENGINE);
  if (!found) throw new Error(`dist/${ENVIRONMENT} has no ${ENGINE} workload`);
  workload = found;
  const env = resolveEnv(workload.container, { secrets: { [`${CREDENTIAL_SECRETS.redis.name}/password`]: PASSWORD }, configMaps: {} });
  // The manifest names the Redis Service's Sentinel port; on this machine the Service's endpoints
  // are the three members' Sentinels.
  expect(env[RUNTIME_ENV.redisSentinels]).toMatch(new RegExp(`:${REDIS_SENTINEL.port}$`));
  expect(env[RUNTIME_ENV.redisMasterName]).toBe(MASTER);
  env[RUNTIME_ENV.redisSentinels] = members.members.map((m) => `${m.address}:${REDIS_SENTINEL.port}`).join(',');
  const probe = workload.container.readinessProbe?.httpGet;
  if (!probe) throw new Error(`${workload.file}: ${ENGINE} has no HTTP readiness probe`);
  readinessPort = resolveProbePort(workload.container, probe.port);
  readinessPath = probe.path;
  engine = startEngine(ENGINE, localCommand(ROOT, compiled, workload.container), env,
    { uid: workload.pod.securityContext?.runAsUser, gid: workload.pod.securityContext?.runAsGroup });
  await waitFor(`${ENGINE} ready`, 30_000, async () => ((await ready()) ? true : undefined), 100);
}, 180_000);

afterAll(async () => {
  await engine?.stop(5000);
  await members?.dispose();
  killAll();
  if (compiled) fs.rmSync(compiled, { recursive: true, force: true });
  if (Object.keys(measured).length > 0) {
    // eslint-disable-next-line no-console
    console.log(`redis failover timings (ms): ${JSON.stringify(measured)}`);
  }
});

/** Stops the primary by `stop`, then checks the failover and the rejoin; returns ms to a writable primary. */
async function failover(label: string, stop: (old: RedisMember) => Promise<void>): Promise<void> {
  const old = await waitForHealthySet();
  const written = await writeAcknowledged(old, label, 100);
  const engineStarts = engine.log.split('\n').filter((line) => line.includes('"msg":"listening"')).length;

  const started = Date.now();
  let sawUnready = false;
  let watching = true;
  const watch = (async () => {
    while (watching && Date.now() - started < 60_000) {
      if (!(await ready())) { sawUnready = true; break; }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const stopping = stop(old);

  // A replica is promoted, and it takes writes.
  const promoted = await waitFor('a writable new primary', 30_000, async () => {
    for (const member of members.members) {
      if (member === old) continue;
      const client = members.client(member);
      try {
        await client.connect();
        await client.set(`${label}:after`, 'written');
        return member;
      } catch {
        // not a primary (READONLY) yet
      } finally {
        client.disconnect();
      }
    }
    return undefined;
  }, 20);
  measured[`${label}: stop to writable primary`] = Date.now() - started;
  await stopping;
  expect(await primary(old)).toBe(promoted);

  // What was acknowledged by a replica before is on the new primary.
  const client: Redis = members.client(promoted);
  await client.connect();
  try {
    const keys = Object.keys(written);
    expect(await client.mget(keys)).toEqual(keys.map((key) => written[key]));
  } finally {
    client.disconnect();
  }

  // The engine noticed, and is ready again on its own: same process, no restart.
  await waitFor(`${ENGINE} ready again`, 30_000, async () => ((await ready()) ? true : undefined), 50);
  measured[`${label}: stop to engine ready`] = Date.now() - started;
  watching = false;
  await watch;
  // Killed, the primary is gone until Sentinel acts: the engine must say so. Handed over, the
  // gap can be shorter than the engine's check interval, so either is right.
  if (label === 'kill -9') expect(sawUnready).toBe(true);
  measured[`${label}: engine seen unready (1) or not (0)`] = sawUnready ? 1 : 0;
  expect(engine.running).toBe(true);
  expect(engine.log.split('\n').filter((line) => line.includes('"msg":"listening"')).length).toBe(engineStarts);

  // The old primary, started again by its own start script, rejoins as a replica of the new one.
  members.start(old);
  await members.waitForServer(old, Date.now() + 20_000);
  await waitForHealthySet(promoted);
  const role = await members.role(old);
  expect(role).toEqual({ role: 'replica', primary: promoted.address, link: 'connected' });
}

test('kill -9 of the primary pod: Sentinel promotes a replica, the engine recovers, the old primary rejoins as a replica', async () => {
  await failover('kill -9', async (old) => {
    old.server?.signal('SIGKILL');
    old.sentinel?.signal('SIGKILL');
    await Promise.all([old.server?.exited, old.sentinel?.exited]);
  });
});

test('graceful stop of the primary pod: preStop hands the role over before SIGTERM', async () => {
  await failover('graceful', async (old) => {
    const log = await members.preStop(old);
    expect(log).toContain('handed the primary role over');
    expect((await members.role(old)).role).toBe('replica');
    await Promise.all([old.server?.stop(10_000), old.sentinel?.stop(10_000)]);
  });
});
