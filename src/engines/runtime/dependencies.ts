import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { createPostgresPool, createRedisClient } from './clients';
import { PostgresSettings, RedisSettings } from './config';
import { Logger } from './logger';
import { RUNTIME_METRICS } from './metric-names';
import { Gauge, MetricsRegistry } from './metrics';

/** One dependency readiness waits for. Keeps its connection between checks. */
export interface DependencyCheck {
  /** The name in logs, metrics and the readiness body. */
  readonly name: string;
  /** Resolves when the dependency answers before `deadline`; rejects otherwise. */
  check(deadline: number): Promise<void>;
  /** Drops the connection. */
  close(): void;
}

/** Rejects when `deadline` passes first; the library keeps the late reply matched to its command. */
function beforeDeadline<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.max(0, deadline - Date.now())} ms`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Redis answers `PING` with `PONG`, authenticated with the engine's password, on the primary
 * (found through Sentinel where the environment runs it). The ioredis client is created once and
 * reconnects by itself, following failovers.
 */
export class RedisCheck implements DependencyCheck {
  public readonly name = 'redis';
  private client?: Redis;
  private lastError?: Error;

  constructor(private readonly settings: RedisSettings, private readonly connectionName: string) {}

  public async check(deadline: number): Promise<void> {
    if (!this.client) {
      this.client = createRedisClient(this.settings, this.connectionName);
      // Without a listener ioredis logs every reconnection error to stderr; the check reports it.
      this.client.on('error', (error: Error) => { this.lastError = error; });
    }
    if (this.client.status !== 'ready') {
      // Connecting (or reconnecting): wait for the client to be ready, or fail with the reason
      // ioredis reports (refused, WRONGPASS, no primary known to Sentinel...).
      const client = this.client;
      let onReady: () => void = () => undefined;
      let onError: (error: Error) => void = () => undefined;
      const settled = new Promise<void>((resolve, reject) => {
        onReady = resolve;
        onError = reject;
        client.once('ready', onReady);
        client.once('error', onError);
      });
      try {
        await beforeDeadline(settled, deadline, `redis (${client.status}${this.lastError ? `, last error: ${this.lastError.message}` : ''})`);
      } finally {
        client.off('ready', onReady);
        client.off('error', onError);
      }
    }
    const reply = await beforeDeadline(this.client.ping(), deadline, 'redis PING');
    if (reply !== 'PONG') throw new Error(`PING answered ${JSON.stringify(reply)}, expected "PONG"`);
  }

  public close(): void {
    this.client?.disconnect();
    this.client = undefined;
  }
}

/** PostgreSQL accepts the engine's credentials for its database and answers `SELECT 1`. */
export class PostgresCheck implements DependencyCheck {
  public readonly name = 'timescaledb';
  private pool?: Pool;

  constructor(private readonly settings: PostgresSettings, private readonly applicationName: string) {}

  public async check(deadline: number): Promise<void> {
    if (!this.pool) {
      this.pool = createPostgresPool(this.settings, this.applicationName);
      // An idle connection that breaks is dropped by the pool; the next check opens another.
      this.pool.on('error', () => undefined);
    }
    const result = await beforeDeadline(this.pool.query<{ one: number }>('SELECT 1 AS one'), deadline, 'PostgreSQL SELECT 1')
      .catch((error: Error & { code?: string }) => {
        // The SQLSTATE says what kind of failure it is (28P01: wrong password, 3D000: no database).
        throw new Error(error.code ? `${error.message} (SQLSTATE ${error.code})` : error.message);
      });
    if (result.rows.length !== 1 || result.rows[0].one !== 1) throw new Error(`SELECT 1 returned ${JSON.stringify(result.rows)}`);
  }

  public close(): void {
    void this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }
}

/** The last result of one dependency's check. */
export interface DependencyState {
  readonly up: boolean;
  readonly error?: string;
}

/**
 * Checks every dependency in the background, once per interval, and keeps the latest result so
 * readiness answers at once (a probe never waits on a database). Logs each change of state.
 */
export class DependencyMonitor {
  private readonly states = new Map<string, DependencyState>();
  private readonly upGauge: Gauge;
  private readonly durationGauge: Gauge;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private firstRound?: Promise<void>;

  constructor(
    private readonly checks: readonly DependencyCheck[],
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly intervalMs = 1000,
    private readonly timeoutMs = 2000,
  ) {
    this.upGauge = metrics.gauge(RUNTIME_METRICS.dependencyUp, 'Whether a dependency answered its last check (1) or not (0).', ['dependency']);
    this.durationGauge = metrics.gauge(RUNTIME_METRICS.dependencyCheckDuration, 'How long the last check of a dependency took.', ['dependency']);
    for (const check of checks) this.upGauge.set({ dependency: check.name }, 0);
  }

  /** Starts checking; resolves after the first round. */
  public start(): Promise<void> {
    this.firstRound ??= this.round();
    return this.firstRound;
  }

  /** Whether every dependency answered its last check (true when there are none). */
  public get allUp(): boolean {
    return this.checks.every((check) => this.states.get(check.name)?.up === true);
  }

  /** Each dependency's latest state, for the readiness body. */
  public snapshot(): Record<string, DependencyState> {
    return Object.fromEntries(this.checks.map((check) => [check.name, this.states.get(check.name) ?? { up: false, error: 'not checked yet' }]));
  }

  /** Checks every dependency round after round (not in the background) until all answer or `deadline` passes. */
  public async waitUntilUp(deadline: number): Promise<boolean> {
    await this.start();
    while (!this.allUp && !this.stopped && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.intervalMs, Math.max(0, deadline - Date.now()))));
      await this.round();
    }
    return this.allUp;
  }

  /** Stops checking and closes every connection. */
  public stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const check of this.checks) check.close();
  }

  /** One round of checks, scheduling the next when running in the background. */
  private async round(): Promise<void> {
    await Promise.all(this.checks.map(async (check) => {
      const started = process.hrtime.bigint();
      let state: DependencyState;
      try {
        await check.check(Date.now() + this.timeoutMs);
        state = { up: true };
      } catch (error) {
        state = { up: false, error: (error as Error).message };
      }
      if (this.stopped) return;
      this.durationGauge.set({ dependency: check.name }, Number(process.hrtime.bigint() - started) / 1e9);
      this.upGauge.set({ dependency: check.name }, state.up ? 1 : 0);
      const previous = this.states.get(check.name);
      this.states.set(check.name, state);
      if (previous?.up !== state.up) {
        if (state.up) this.logger.info('dependency up', { dependency: check.name });
        else this.logger.warn('dependency down', { dependency: check.name, error: state.error });
      }
    }));
  }

  /** Starts the background loop: a round, then the next one an interval after it ends. */
  public runInBackground(): void {
    const loop = async () => {
      await this.start();
      const next = () => {
        if (this.stopped) return;
        this.timer = setTimeout(() => { this.round().then(next, next); }, this.intervalMs);
      };
      next();
    };
    void loop();
  }
}
