import { PostgresSettings, RedisSettings } from './config';
import { Logger } from './logger';
import { Gauge, MetricsRegistry } from './metrics';
import { PostgresConnection } from './postgres-client';
import { RedisConnection } from './redis-client';

/** One dependency readiness waits for. Keeps its connection between checks. */
export interface DependencyCheck {
  /** The name in logs, metrics and the readiness body. */
  readonly name: string;
  /** Resolves when the dependency answers before `deadline`; rejects otherwise. */
  check(deadline: number): Promise<void>;
  /** Drops the connection. */
  close(): void;
}

/** A connection a check keeps open between rounds. */
interface KeptConnection {
  readonly closed: boolean;
  close(): void;
}

/**
 * A check over one kept connection: reopened when it was dropped, dropped when a check fails, so
 * a broken connection never makes a healthy dependency look down twice.
 */
abstract class ConnectionCheck<C extends KeptConnection> implements DependencyCheck {
  public abstract readonly name: string;
  private connection?: C;

  public async check(deadline: number): Promise<void> {
    try {
      if (!this.connection || this.connection.closed) this.connection = await this.open(deadline);
      await this.probe(this.connection, deadline);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  public close(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  /** Opens and authenticates a new connection. */
  protected abstract open(deadline: number): Promise<C>;

  /** Resolves when the dependency answers on `connection`. */
  protected abstract probe(connection: C, deadline: number): Promise<void>;
}

/** Redis answers `PING` with `PONG`, authenticated with the engine's password. */
export class RedisCheck extends ConnectionCheck<RedisConnection> {
  public readonly name = 'redis';

  constructor(private readonly settings: RedisSettings) {
    super();
  }

  protected open(deadline: number): Promise<RedisConnection> {
    return RedisConnection.open(this.settings, deadline);
  }

  protected async probe(connection: RedisConnection, deadline: number): Promise<void> {
    await connection.ping(deadline);
  }
}

/** PostgreSQL accepts the engine's credentials for its database and answers `SELECT 1`. */
export class PostgresCheck extends ConnectionCheck<PostgresConnection> {
  public readonly name = 'timescaledb';

  constructor(private readonly settings: PostgresSettings, private readonly applicationName: string) {
    super();
  }

  protected open(deadline: number): Promise<PostgresConnection> {
    return PostgresConnection.open(this.settings, this.applicationName, deadline);
  }

  protected async probe(connection: PostgresConnection, deadline: number): Promise<void> {
    const rows = await connection.query('SELECT 1', deadline);
    if (rows.length !== 1 || rows[0][0] !== '1') throw new Error(`SELECT 1 returned ${JSON.stringify(rows)}`);
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
    this.upGauge = metrics.gauge('nautilus_dependency_up', 'Whether a dependency answered its last check (1) or not (0).', ['dependency']);
    this.durationGauge = metrics.gauge('nautilus_dependency_check_duration_seconds', 'How long the last check of a dependency took.', ['dependency']);
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
