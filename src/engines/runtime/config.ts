import { EngineDefinition } from './definition';
import { ENV, upstreamUrlVariable } from './environment-contract';

export { ENV, upstreamUrlVariable } from './environment-contract';

/** How log lines are written. */
export type LogFormat = 'json' | 'text';

/** A `host:port` address. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** Where and as whom to reach Redis: one server, or the primary Sentinel names. */
export interface RedisSettings {
  /** The server, when the environment runs a single Redis (unused with Sentinel). */
  readonly host: string;
  readonly port: number;
  readonly password: string;
  /** Present where the environment runs Sentinel: ask it for the primary. */
  readonly sentinel?: {
    readonly addresses: readonly Address[];
    readonly masterName: string;
  };
}

/** Where and as whom to reach PostgreSQL (TimescaleDB). */
export interface PostgresSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /**
   * A Service routing to replicas only, for read-only queries that tolerate replication lag;
   * absent where the engine reads from the primary.
   */
  readonly readOnlyHost?: string;
}

/** The engine's configuration, read once from the environment at start. */
export interface RuntimeConfig {
  readonly engine: string;
  readonly environment: string;
  readonly tier: string;
  readonly pinned: boolean;
  readonly shutdownTimeoutSeconds: number;
  readonly logFormat: LogFormat;
  /** Present when the engine declares the `redis` store. */
  readonly redis?: RedisSettings;
  /** Present when the engine declares the `timescaledb` store. */
  readonly postgres?: PostgresSettings;
  /** Base URL of every declared upstream engine, by engine name. */
  readonly upstreams: ReadonlyMap<string, URL>;
  /** `NAUTILUS_*` variables set but unknown to this runtime (logged as a warning: likely drift). */
  readonly unknownVariables: readonly string[];
}

/** Every problem with the environment, reported together so one restart shows them all. */
export class ConfigurationError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid engine configuration: ${problems.join('; ')}`);
  }
}

/** Reads and validates the configuration of `definition` from `env`. */
export function readConfig(definition: EngineDefinition, env: NodeJS.ProcessEnv): RuntimeConfig {
  const problems: string[] = [];
  const known = new Set<string>(Object.values(ENV));

  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push(`${name} is not set (required by engine ${definition.name})`);
      return '';
    }
    return value;
  };
  const port = (name: string): number => {
    const raw = required(name);
    if (raw === '') return 0;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > 65535) problems.push(`${name} is ${JSON.stringify(raw)}; expected a TCP port`);
    return value;
  };

  const engine = required(ENV.engine);
  if (engine !== '' && engine !== definition.name) {
    problems.push(`${ENV.engine} is ${JSON.stringify(engine)} but this image runs engine ${JSON.stringify(definition.name)}; the manifest points at the wrong image`);
  }
  const environment = required(ENV.environment);
  const tier = required(ENV.tier);

  const pinnedRaw = required(ENV.pinned);
  if (pinnedRaw !== '' && pinnedRaw !== 'true' && pinnedRaw !== 'false') {
    problems.push(`${ENV.pinned} is ${JSON.stringify(pinnedRaw)}; expected "true" or "false"`);
  }

  const timeoutRaw = required(ENV.shutdownTimeoutSeconds);
  const shutdownTimeoutSeconds = Number(timeoutRaw);
  if (timeoutRaw !== '' && (!/^\d+$/.test(timeoutRaw) || shutdownTimeoutSeconds < 1)) {
    problems.push(`${ENV.shutdownTimeoutSeconds} is ${JSON.stringify(timeoutRaw)}; expected a whole number of seconds >= 1`);
  }

  const logFormatRaw = required(ENV.logFormat);
  if (logFormatRaw !== '' && logFormatRaw !== 'json' && logFormatRaw !== 'text') {
    problems.push(`${ENV.logFormat} is ${JSON.stringify(logFormatRaw)}; expected "json" or "text"`);
  }

  const addresses = (name: string): Address[] => {
    const raw = required(name);
    if (raw === '') return [];
    const list = raw.split(',').map((entry) => {
      const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(entry.trim());
      const value = match ? Number(match[2]) : 0;
      if (!match || value < 1 || value > 65535) return undefined;
      return { host: match[1].replace(/^\[|\]$/g, ''), port: value };
    });
    if (list.some((a) => a === undefined)) {
      problems.push(`${name} is ${JSON.stringify(raw)}; expected comma-separated host:port addresses`);
      return [];
    }
    return list as Address[];
  };

  let redis: RedisSettings | undefined;
  if (definition.stores.includes('redis')) {
    // With Sentinel the primary moves: the engine is given the Sentinels and the master name,
    // never a fixed server.
    if (env[ENV.redisSentinels] !== undefined) {
      redis = {
        host: '',
        port: 0,
        password: required(ENV.redisPassword),
        sentinel: { addresses: addresses(ENV.redisSentinels), masterName: required(ENV.redisMasterName) },
      };
    } else {
      redis = { host: required(ENV.redisHost), port: port(ENV.redisPort), password: required(ENV.redisPassword) };
    }
  }
  let postgres: PostgresSettings | undefined;
  if (definition.stores.includes('timescaledb')) {
    postgres = {
      host: required(ENV.postgresHost),
      port: port(ENV.postgresPort),
      database: required(ENV.postgresDatabase),
      user: required(ENV.postgresUser),
      password: required(ENV.postgresPassword),
      readOnlyHost: env[ENV.postgresReadOnlyHost] || undefined,
    };
  }

  const upstreams = new Map<string, URL>();
  for (const upstream of definition.upstreams) {
    const name = upstreamUrlVariable(upstream);
    known.add(name);
    const raw = required(name);
    if (raw === '') continue;
    try {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      upstreams.set(upstream, url);
    } catch {
      problems.push(`${name} is ${JSON.stringify(raw)}; expected an http:// or https:// URL`);
    }
  }

  const unknownVariables = Object.keys(env).filter((name) => name.startsWith('NAUTILUS_') && !known.has(name)).sort();
  if (problems.length > 0) {
    if (unknownVariables.length > 0) problems.push(`set but unknown to this runtime: ${unknownVariables.join(', ')} (renamed in the manifests?)`);
    throw new ConfigurationError(problems);
  }
  return {
    engine,
    environment,
    tier,
    pinned: pinnedRaw === 'true',
    shutdownTimeoutSeconds,
    logFormat: logFormatRaw as LogFormat,
    redis,
    postgres,
    upstreams,
    unknownVariables,
  };
}
