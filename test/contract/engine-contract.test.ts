/**
 * The contract between the synthesized manifests and the engine images, tested by running them.
 *
 * For every engine workload in dist/<env>/ (run `npm run synth` first), the engine's runtime is
 * started as a local Node process with the container's command (the manifest's, or the image's
 * ENTRYPOINT/CMD from the engine's Dockerfile) and exactly the container's env, as the pod's user
 * when the test runs as root. Then the manifest's own startup, liveness and readiness probes are
 * run against it on the port the probes name, its ServiceMonitor endpoint is scraped and parsed
 * strictly, and SIGTERM must end it with exit 0 within terminationGracePeriodSeconds. The data
 * stores are real: redis-server and PostgreSQL (scripts/install-test-services.sh).
 *
 * What the test changes in the manifest's env, and nothing else:
 *   - secretKeyRef / configMapKeyRef values are resolved to test values (REFERENCE_VALUES);
 *   - NAUTILUS_REDIS_SENTINELS (the Redis Service's Sentinel port) becomes a real test Sentinel
 *     monitoring the test Redis under the master name the Redis manifests use;
 *   - NAUTILUS_REDIS_HOST / NAUTILUS_POSTGRES_HOST (in-cluster Service DNS names) become 127.0.0.1,
 *     and NAUTILUS_REDIS_PORT / NAUTILUS_POSTGRES_PORT the test servers' ports.
 * Upstream URLs stay as they are: readiness does not depend on other engines.
 *
 * So a probe path, port or variable changed on one side only (catalog/contract or runtime) fails
 * a test named after the engine and the probe: the runtime serves its own engine.json and reads
 * its own copy of the variable names.
 */
import * as fs from 'fs';
import * as path from 'path';
import { WebSocket } from 'ws';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { enabledEngines } from '../../src/planning/plan';
import { CREDENTIAL_SECRETS, RUNTIME_ENV, TRADING_DATABASE } from '../../src/planning/runtime-contract';
import { REDIS_SENTINEL } from '../../src/catalog/data-stores';
import { TestPostgres, TestRedis, TestSentinel } from './data-stores';
import { LocalCommand, compileEngines, localCommand, startEngine } from './engine-process';
import { EngineWorkload, ManifestProbe, MissingSynthesisError, ReferenceValues, loadEngineWorkloads, resolveEnv, resolveProbePort } from './manifests';
import { parsePrometheusText } from './prometheus-text';
import { HttpAnswer, ManagedProcess, StopPolling, httpGet, killAll, poll, portInUse } from './processes';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const REDIS_PASSWORD = 'contract-redis-password';
const POSTGRES_USER = 'nautilus_contract';
const POSTGRES_PASSWORD = 'contract-postgres-password';
/** Engines started at once: enough to overlap their start-up, few enough for a 2-core machine. */
const START_BATCH = 4;
/** The runtime starts in well under a second; waiting longer than this only delays a failure. */
const MAX_STARTUP_WAIT_MS = 30_000;

/** Test values of every Secret key the contract references (CREDENTIAL_SECRETS). */
const REFERENCE_VALUES: ReferenceValues = {
  secrets: {
    [`${CREDENTIAL_SECRETS.redis.name}/password`]: REDIS_PASSWORD,
    [`${CREDENTIAL_SECRETS.timescaledb.name}/username`]: POSTGRES_USER,
    [`${CREDENTIAL_SECRETS.timescaledb.name}/password`]: POSTGRES_PASSWORD,
  },
  configMaps: {},
};

// Manifests are read when the tests are collected, so every test is named after its engine.
const environments = PLATFORM_ENVIRONMENTS.map((environment) => {
  try {
    return { environment, workloads: loadEngineWorkloads(ROOT, environment.name) };
  } catch (error) {
    if (error instanceof MissingSynthesisError) return { environment, workloads: [] as EngineWorkload[], missing: error.message };
    throw error;
  }
});

let compiled = '';
let redis: TestRedis | undefined;
let sentinel: TestSentinel | undefined;
let postgres: TestPostgres | undefined;

function stores(): { redis: TestRedis; sentinel: TestSentinel; postgres: TestPostgres } {
  if (!redis || !sentinel || !postgres) throw new Error('the test data stores did not start (see the beforeAll error above)');
  return { redis, sentinel, postgres };
}

/** The container env with references resolved and the data stores' addresses swapped for the test servers'. */
function testEnv(workload: EngineWorkload): Record<string, string> {
  const env = resolveEnv(workload.container, REFERENCE_VALUES);
  const { redis: r, sentinel: s, postgres: p } = stores();
  const swap = (name: string, value: string) => {
    if (name in env) env[name] = value;
  };
  swap(RUNTIME_ENV.redisHost, '127.0.0.1');
  swap(RUNTIME_ENV.redisPort, String(r.port));
  // Where the environment runs Sentinel, the engine finds the test Redis through a real Sentinel.
  swap(RUNTIME_ENV.redisSentinels, `127.0.0.1:${s.port}`);
  swap(RUNTIME_ENV.postgresHost, '127.0.0.1');
  swap(RUNTIME_ENV.postgresPort, String(p.port));
  return env;
}

function podUser(workload: EngineWorkload): { uid?: number; gid?: number } {
  return { uid: workload.pod.securityContext?.runAsUser, gid: workload.pod.securityContext?.runAsGroup };
}

/** 200–399, as the kubelet counts an HTTP probe a success. */
function probeSucceeded(answer: HttpAnswer): boolean {
  return answer.status >= 200 && answer.status < 400;
}

function describeProbe(workload: EngineWorkload, kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe'): { probe: ManifestProbe; port: number; path: string; text: string } {
  const probe = workload.container[kind];
  if (!probe?.httpGet) throw new Error(`${workload.file}: ${workload.kind} ${workload.name} has no HTTP ${kind}`);
  const port = resolveProbePort(workload.container, probe.httpGet.port);
  return { probe, port, path: probe.httpGet.path, text: `GET ${probe.httpGet.path} on port ${JSON.stringify(probe.httpGet.port)} (${port})` };
}

/** One running service engine, or why it is not running. */
interface RunningEngine {
  readonly process?: ManagedProcess;
  readonly command?: LocalCommand;
  readonly error?: string;
}

/** The port the runtime logged it listens on, to fail fast on a port mismatch. */
function loggedPort(log: string): number | undefined {
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'listening') return entry.port;
    } catch {
      // not a JSON log line
    }
  }
  return undefined;
}

/** Starts a service engine and runs its startupProbe until it passes, the budget ends or the engine dies. */
async function startService(workload: EngineWorkload, envOverride?: (env: Record<string, string>) => void): Promise<RunningEngine> {
  const label = `${workload.environment}/${workload.name}`;
  let startup: ReturnType<typeof describeProbe>;
  let command: LocalCommand;
  let env: Record<string, string>;
  try {
    startup = describeProbe(workload, 'startupProbe');
    command = localCommand(ROOT, compiled, workload.container);
    env = testEnv(workload);
    envOverride?.(env);
  } catch (error) {
    return { error: `${label}: ${(error as Error).message}` };
  }
  if (await portInUse(startup.port)) {
    return { error: `${label}: port ${startup.port} is already in use on this machine; the contract test runs each engine on its manifest's own port, so free it first` };
  }
  const process = startEngine(label, command, env, podUser(workload));
  const { probe } = startup;
  const budgetMs = ((probe.initialDelaySeconds ?? 0) + (probe.failureThreshold ?? 3) * (probe.periodSeconds ?? 10)) * 1000;
  const result = await poll(async () => {
    if (!process.running) throw new StopPolling('the engine exited');
    const listening = loggedPort(process.log);
    if (listening !== undefined && listening !== startup.port) {
      throw new StopPolling(`the engine listens on port ${listening} but the manifest's startupProbe uses ${startup.port}`);
    }
    const answer = await httpGet(startup.port, startup.path, (probe.timeoutSeconds ?? 1) * 1000);
    // The runtime routes before it listens: a 404 now is a 404 forever.
    if (answer.status === 404) throw new StopPolling(`the engine does not serve ${startup.path} (404): its probe paths differ from the manifest's`);
    return probeSucceeded(answer) ? answer : undefined;
  }, Date.now() + Math.min(budgetMs, MAX_STARTUP_WAIT_MS));
  if (result instanceof Error) {
    const exit = process.running ? '' : ` (exit code ${(await process.exited).code})`;
    if (process.running) await process.stop(2000);
    return {
      process,
      command,
      error: `${label}: startupProbe ${startup.text} did not pass${exit}: ${result.message}\n` +
        `container argv: ${JSON.stringify(command.containerArgv)}\nengine output:\n${process.log}`,
    };
  }
  return { process, command };
}

/** A WebSocket client connected to a local engine, or the error its upgrade ended with. */
function connectWebSocket(port: number, urlPath: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`, { handshakeTimeout: 2000 });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`upgrade answered ${response.statusCode}`));
    });
    socket.once('error', reject);
  });
}

/** Resolves with the close code and reason the peer sent, and when it came. */
function closeOf(socket: WebSocket): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })));
}

/** A gauge's or counter's value on the engine's /metrics, 0 when the series is absent. */
async function metricValue(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const families = parsePrometheusText((await httpGet(port, '/metrics', 2000)).body);
  const family = families.get(name.replace(/_total$/, '')) ?? families.get(name);
  const sample = family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value ?? 0;
}

function running(engine: RunningEngine | undefined): ManagedProcess {
  if (!engine) throw new Error('the engine was never started');
  if (engine.error) throw new Error(engine.error);
  if (!engine.process?.running) throw new Error(`the engine is not running; its output:\n${engine.process?.log}`);
  return engine.process;
}

beforeAll(async () => {
  compiled = compileEngines(ROOT);
  const databases = new Set<string>();
  for (const { workloads } of environments) {
    for (const workload of workloads) {
      const database = workload.container.env?.find((v) => v.name === RUNTIME_ENV.postgresDatabase)?.value;
      if (database) databases.add(database);
    }
  }
  if (databases.size === 0) databases.add(TRADING_DATABASE);
  [redis, postgres] = await Promise.all([
    TestRedis.start(REDIS_PASSWORD),
    TestPostgres.start(POSTGRES_USER, POSTGRES_PASSWORD, [...databases].sort()),
  ]);
  sentinel = await TestSentinel.start(redis, REDIS_SENTINEL.masterName);
}, 120_000);

afterAll(async () => {
  await Promise.all([sentinel?.dispose(), redis?.dispose(), postgres?.dispose()]);
  killAll();
  if (compiled) fs.rmSync(compiled, { recursive: true, force: true });
});

for (const { environment, workloads, missing } of environments) {
  describe(`${environment.name}`, () => {
    const services = workloads.filter((w) => w.kind === 'Deployment');
    const batches = workloads.filter((w) => w.kind === 'CronJob');
    const started = new Map<string, RunningEngine>();

    beforeAll(async () => {
      if (missing) return;
      for (let i = 0; i < services.length; i += START_BATCH) {
        const batch = services.slice(i, i + START_BATCH);
        const results = await Promise.all(batch.map((w) => startService(w)));
        batch.forEach((w, j) => started.set(w.name, results[j]));
      }
    }, 240_000);

    afterAll(async () => {
      await Promise.all([...started.values()].map((e) => e.process?.stop(2000)));
    });

    test('dist/ holds a workload for every engine the environment deploys, each built from src/engines', () => {
      if (missing) throw new Error(missing);
      const expected = enabledEngines(PLATFORM_ENGINES, environment).map((e) => e.name).sort();
      expect(workloads.map((w) => w.name).sort()).toEqual(expected);
      for (const workload of workloads) {
        expect(fs.existsSync(path.join(ROOT, 'src', 'engines', workload.name, 'engine.json'))).toBe(true);
      }
    });

    for (const workload of services) {
      describe(workload.name, () => {
        const startup = describeProbe(workload, 'startupProbe');
        const liveness = describeProbe(workload, 'livenessProbe');
        const readiness = describeProbe(workload, 'readinessProbe');
        const grace = workload.pod.terminationGracePeriodSeconds ?? 30;

        test(`starts with the container's command and env; startupProbe ${startup.text} passes`, () => {
          running(started.get(workload.name));
          const declared = workload.container.ports?.find((p) => p.name === workload.container.startupProbe?.httpGet?.port);
          expect(declared?.containerPort).toBe(startup.port);
        });

        test(`livenessProbe ${liveness.text} passes`, async () => {
          running(started.get(workload.name));
          const answer = await httpGet(liveness.port, liveness.path, (liveness.probe.timeoutSeconds ?? 1) * 1000);
          expect({ status: answer.status, ok: probeSucceeded(answer) }).toEqual({ status: 200, ok: true });
        });

        test(`readinessProbe ${readiness.text} passes with the data stores up`, async () => {
          running(started.get(workload.name));
          const { probe } = readiness;
          const windowMs = ((probe.failureThreshold ?? 3) * (probe.periodSeconds ?? 10) + 5) * 1000;
          const answer = await poll(async () => {
            const a = await httpGet(readiness.port, readiness.path, (probe.timeoutSeconds ?? 1) * 1000);
            return probeSucceeded(a) ? a : undefined;
          }, Date.now() + windowMs);
          if (answer instanceof Error) {
            const last = await httpGet(readiness.port, readiness.path, 2000).catch((e: Error) => ({ status: 0, body: e.message }));
            throw new Error(`readiness did not pass: ${last.status} ${last.body}`);
          }
          expect(answer.status).toBe(200);
        });

        test('its ServiceMonitor endpoint serves strict Prometheus text', async () => {
          running(started.get(workload.name));
          const endpoint = workload.metrics;
          if (!endpoint) throw new Error(`${workload.file}: no ServiceMonitor for ${workload.name}`);
          const port = resolveProbePort(workload.container, endpoint.port);
          const answer = await httpGet(port, endpoint.path, 2000);
          expect(answer.status).toBe(200);
          expect(String(answer.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
          const families = parsePrometheusText(answer.body);
          const requests = families.get('nautilus_http_requests_total');
          expect(requests?.type).toBe('counter');
          expect(requests?.samples).toContainEqual({ name: 'nautilus_http_requests_total', labels: { path: liveness.path, status: '200' }, value: expect.any(Number) });
          expect(families.get('nautilus_http_request_duration_seconds')?.type).toBe('histogram');
          expect(families.get('nautilus_ready')?.samples[0]?.value).toBe(1);
          const pinned = testEnv(workload)[RUNTIME_ENV.pinned] === 'true';
          expect(families.has('nautilus_cpu_set_size')).toBe(pinned);
        });

        const catalogEntry = PLATFORM_ENGINES.find((e) => e.name === workload.name);
        const webSocketPath = catalogEntry?.publicRoute?.websocket ? catalogEntry.publicRoute.pathPrefix : undefined;
        test(webSocketPath
          ? `accepts a WebSocket connection under its public route's ${webSocketPath}: pings answered, counted on /metrics`
          : 'refuses WebSocket upgrades: its public route, if any, carries plain requests', async () => {
          running(started.get(workload.name));
          const port = startup.port;
          if (!webSocketPath) {
            await expect(connectWebSocket(port, '/')).rejects.toThrow(/socket hang up|ECONNRESET|upgrade answered/);
            return;
          }
          const socket = await connectWebSocket(port, webSocketPath);
          try {
            const pong = new Promise<string>((resolve) => socket.once('pong', (data) => resolve(data.toString())));
            socket.ping('contract');
            expect(await pong).toBe('contract');
            expect(await metricValue(port, 'nautilus_websocket_connections')).toBe(1);
          } finally {
            const closed = closeOf(socket);
            socket.close(1000, 'done');
            await closed;
          }
          // The server's side ends with the client's close.
          const gone = await poll(async () => ((await metricValue(port, 'nautilus_websocket_connections')) === 0 ? true : undefined), Date.now() + 3000);
          expect(gone).toBe(true);
          expect(await metricValue(port, 'nautilus_websocket_closed_total', { reason: 'client' })).toBe(1);
        });

        test(`SIGTERM: exits 0 within terminationGracePeriodSeconds (${grace}s)`, async () => {
          const process = running(started.get(workload.name));
          process.signal('SIGTERM');
          const exit = await process.waitForExit(grace * 1000);
          expect({ exit, log: exit?.code === 0 ? '' : process.log }).toEqual({ exit: { code: 0, signal: null }, log: '' });
        });
      });
    }

    for (const workload of batches) {
      test(`${workload.name}: the CronJob's container runs its job and exits 0`, async () => {
        const command = localCommand(ROOT, compiled, workload.container);
        const process = startEngine(`${environment.name}/${workload.name}`, command, testEnv(workload), podUser(workload));
        const limitMs = Math.min((workload.activeDeadlineSeconds ?? 60) * 1000, 60_000);
        const exit = await process.waitForExit(limitMs);
        if (!exit) await process.stop(1000);
        expect({ exit, log: exit?.code === 0 ? '' : process.log }).toEqual({ exit: { code: 0, signal: null }, log: '' });
      });
    }
  });
}

/** A service workload with both data stores, for the tests that stop them. */
function workloadWithBothStores(): EngineWorkload | undefined {
  for (const { workloads } of environments) {
    const found = workloads.find((w) => w.kind === 'Deployment'
      && w.container.env?.some((v) => v.name === RUNTIME_ENV.redisHost)
      && w.container.env?.some((v) => v.name === RUNTIME_ENV.postgresHost));
    if (found) return found;
  }
  return undefined;
}

describe('readiness follows the data stores', () => {
  const workload = workloadWithBothStores();
  let engine: RunningEngine | undefined;
  const readiness = workload ? describeProbe(workload, 'readinessProbe') : undefined;

  /** Waits until readiness answers `status` (within the probe's failure window plus the check interval). */
  async function expectReadiness(status: number): Promise<{ dependencies: Record<string, { up: boolean; error?: string }> }> {
    if (!workload || !readiness) throw new Error('no engine in dist/ uses both Redis and PostgreSQL');
    running(engine);
    const windowMs = ((readiness.probe.failureThreshold ?? 3) * (readiness.probe.periodSeconds ?? 10) + 5) * 1000;
    const answer = await poll(async () => {
      const a = await httpGet(readiness.port, readiness.path, 2000);
      return a.status === status ? a : undefined;
    }, Date.now() + windowMs);
    if (answer instanceof Error) {
      const last = await httpGet(readiness.port, readiness.path, 2000).catch((e: Error) => ({ status: 0, body: e.message }));
      throw new Error(`${workload.name}: readiness did not become ${status}; it answers ${last.status} ${last.body}`);
    }
    return JSON.parse(answer.body) as { dependencies: Record<string, { up: boolean; error?: string }> };
  }

  beforeAll(async () => {
    if (workload) engine = await startService(workload);
  }, 60_000);
  afterAll(async () => {
    await engine?.process?.stop(2000);
  });

  test(`${workload?.name ?? '(none)'} is ready while Redis and PostgreSQL answer`, async () => {
    await expectReadiness(200);
  });

  test('stopping Redis makes it unready; restarting Redis makes it ready again', async () => {
    await stores().redis.stopServer();
    const down = await expectReadiness(503);
    expect(down.dependencies.redis.up).toBe(false);
    expect(down.dependencies.timescaledb.up).toBe(true);
    await stores().redis.startServer();
    await expectReadiness(200);
  });

  test('stopping PostgreSQL makes it unready; restarting PostgreSQL makes it ready again', async () => {
    await stores().postgres.stopServer();
    const down = await expectReadiness(503);
    expect(down.dependencies.timescaledb.up).toBe(false);
    expect(down.dependencies.redis.up).toBe(true);
    await stores().postgres.startServer();
    await expectReadiness(200);
  });

  test('it stays alive throughout: liveness does not depend on the data stores', async () => {
    if (!workload) throw new Error('no engine in dist/ uses both Redis and PostgreSQL');
    const liveness = describeProbe(workload, 'livenessProbe');
    expect((await httpGet(liveness.port, liveness.path, 2000)).status).toBe(200);
  });
});

describe('the runtime authenticates for real and names what is wrong', () => {
  const workload = workloadWithBothStores();

  test('with wrong Redis and PostgreSQL passwords the engine stays unready, saying why', async () => {
    if (!workload) throw new Error('no engine in dist/ uses both Redis and PostgreSQL');
    const engine = await startService(workload, (env) => {
      env[RUNTIME_ENV.redisPassword] = 'not-the-password';
      env[RUNTIME_ENV.postgresPassword] = 'not-the-password';
    });
    try {
      const readiness = describeProbe(workload, 'readinessProbe');
      running(engine);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const answer = await httpGet(readiness.port, readiness.path, 2000);
      expect(answer.status).toBe(503);
      const body = JSON.parse(answer.body) as { dependencies: Record<string, { up: boolean; error?: string }> };
      expect(body.dependencies.redis.error).toMatch(/WRONGPASS|invalid password/);
      expect(body.dependencies.timescaledb.error).toMatch(/password authentication failed.*28P01/);
    } finally {
      await engine.process?.stop(2000);
    }
  });

  test('a contract variable renamed on one side only stops the engine, naming the variable', async () => {
    if (!workload) throw new Error('no engine in dist/ uses both Redis and PostgreSQL');
    const engine = await startService(workload, (env) => {
      env.NAUTILUS_REDIS_HOSTNAME = env[RUNTIME_ENV.redisHost];
      delete env[RUNTIME_ENV.redisHost];
    });
    await engine.process?.exited;
    expect(engine.error).toMatch(/exit code 78/);
    expect(engine.process?.log).toContain('NAUTILUS_REDIS_HOST is not set');
    expect(engine.process?.log).toContain('NAUTILUS_REDIS_HOSTNAME');
  });
});

describe('graceful shutdown drains in-flight requests', () => {
  test('SIGTERM stops accepting, answers the request in flight, then exits 0', async () => {
    // A fixture engine on the real runtime with one slow route standing in for trading logic.
    const dir = path.join(compiled, 'contract-fixture');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const port = 18_000 + Math.floor(Math.random() * 2000);
    fs.writeFileSync(path.join(dir, 'main.js'), `
      const { runService } = require('../runtime');
      runService({ name: 'contract-fixture', kind: 'service', port: ${port},
        health: { liveness: '/health/live', readiness: '/health/ready' }, stores: [], upstreams: [] }, {
        routes: { 'GET /slow': async (_req, res) => { await new Promise((r) => setTimeout(r, 1500)); res.end('done'); } },
      });
    `, { mode: 0o644 });
    const env = {
      NAUTILUS_ENGINE: 'contract-fixture', NAUTILUS_ENVIRONMENT: 'test', NAUTILUS_TIER: 'edge', NAUTILUS_PINNED: 'false',
      NAUTILUS_SHUTDOWN_TIMEOUT_SECONDS: '10', NAUTILUS_LOG_FORMAT: 'json',
    };
    const process = new ManagedProcess('fixture', globalThis.process.execPath, [path.join(dir, 'main.js')], { env });
    try {
      const up = await poll(async () => ((await httpGet(port, '/health/ready', 1000)).status === 200 ? true : undefined), Date.now() + 10_000);
      expect(up).toBe(true);
      const slow = httpGet(port, '/slow', 5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.signal('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await expect(httpGet(port, '/health/live', 1000)).rejects.toThrow(/ECONNREFUSED/);
      expect(process.running).toBe(true);
      const answer = await slow;
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: 'done' });
      expect(await process.waitForExit(5000)).toEqual({ code: 0, signal: null });
    } finally {
      await process.stop(1000);
    }
  });
});

describe('WebSocket connections on the real runtime', () => {
  // A fixture engine on the real runtime, its connections closed after 1 s without traffic; its
  // hook streams to clients that ask for it, standing in for trading logic.
  const port = 20_000 + Math.floor(Math.random() * 2000);
  let process: ManagedProcess;

  beforeAll(async () => {
    const dir = path.join(compiled, 'websocket-fixture');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'main.js'), `
      const { runService } = require('../runtime');
      runService({ name: 'websocket-fixture', kind: 'service', port: ${port},
        health: { liveness: '/health/live', readiness: '/health/ready' }, stores: [], upstreams: [],
        websocket: { path: '/stream', idleTimeoutSeconds: 1 } }, {
        onWebSocket: (socket) => socket.on('message', (data) => {
          if (data.toString() !== 'subscribe') return;
          const timer = setInterval(() => socket.send('tick'), 300);
          socket.once('close', () => clearInterval(timer));
        }),
      });
    `, { mode: 0o644 });
    process = new ManagedProcess('websocket-fixture', globalThis.process.execPath, [path.join(dir, 'main.js')], {
      env: {
        NAUTILUS_ENGINE: 'websocket-fixture', NAUTILUS_ENVIRONMENT: 'test', NAUTILUS_TIER: 'edge', NAUTILUS_PINNED: 'false',
        NAUTILUS_SHUTDOWN_TIMEOUT_SECONDS: '10', NAUTILUS_LOG_FORMAT: 'json',
      },
    });
    const up = await poll(async () => ((await httpGet(port, '/health/ready', 1000)).status === 200 ? true : undefined), Date.now() + 10_000);
    if (up !== true) throw new Error(`the fixture engine did not become ready:\n${process.log}`);
  });
  afterAll(async () => {
    await process?.stop(1000);
  });

  test('an upgrade outside the route\'s path is answered 404', async () => {
    await expect(connectWebSocket(port, '/other')).rejects.toThrow('upgrade answered 404');
    await expect(connectWebSocket(port, '/streaming')).rejects.toThrow('upgrade answered 404');
  });

  test('a connection without traffic either way is closed after the idle timeout, with 1000 "idle timeout"', async () => {
    const socket = await connectWebSocket(port, '/stream/prices');
    const opened = Date.now();
    const closed = await closeOf(socket);
    expect({ code: closed.code, reason: closed.reason }).toEqual({ code: 1000, reason: 'idle timeout' });
    expect(closed.at - opened).toBeGreaterThanOrEqual(900);
    expect(closed.at - opened).toBeLessThan(3000);
    expect(await metricValue(port, 'nautilus_websocket_closed_total', { reason: 'idle' })).toBe(1);
  });

  test('a stream the engine keeps sending on stays open however quiet its client is', async () => {
    const socket = await connectWebSocket(port, '/stream');
    const ticks: string[] = [];
    socket.on('message', (data) => ticks.push(data.toString()));
    socket.send('subscribe');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    socket.close(1000);
    await closeOf(socket);
  });

  test('SIGTERM closes open connections with 1001 "going away", refuses new ones, and exits 0', async () => {
    const socket = await connectWebSocket(port, '/stream');
    socket.send('subscribe');
    const closed = closeOf(socket);
    process.signal('SIGTERM');
    expect(await closed).toEqual({ code: 1001, reason: 'going away', at: expect.any(Number) });
    await expect(connectWebSocket(port, '/stream')).rejects.toThrow(/ECONNREFUSED|upgrade answered 503/);
    expect(await process.waitForExit(5000)).toEqual({ code: 0, signal: null });
  });
});
