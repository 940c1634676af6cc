import Redis from 'ioredis';
import { Pool } from 'pg';
import { PostgresSettings, RedisSettings } from './config';

/** How long a new connection may take before the attempt fails (the readiness check's budget). */
const CONNECT_TIMEOUT_MS = 2000;

/** Reconnection back-off: quick at first (a failover takes seconds), capped at one second. */
const backoff = (attempt: number): number => Math.min(attempt * 100, 1000);

/**
 * An ioredis client for `settings`: through Sentinel (`SENTINEL get-master-addr-by-name`, then a
 * role check of the address it gets) where the environment runs Sentinel, directly otherwise.
 * ioredis reconnects on its own and follows a failover (`+switch-master`); commands fail at once
 * while disconnected instead of queueing, so callers see an outage as an error, not a stall
 * (wait for the client's `ready` event before the first command).
 */
export function createRedisClient(settings: RedisSettings, connectionName: string): Redis {
  const common = {
    password: settings.password,
    connectionName,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: backoff,
    lazyConnect: false,
  };
  if (settings.sentinel) {
    return new Redis({
      ...common,
      sentinels: settings.sentinel.addresses.map((address) => ({ host: address.host, port: address.port })),
      name: settings.sentinel.masterName,
      sentinelPassword: settings.password,
      sentinelRetryStrategy: backoff,
      // Subscribes to the Sentinels' +switch-master: reconnects on a failover without waiting
      // for the old connection to time out.
      failoverDetector: true,
    });
  }
  return new Redis({ ...common, host: settings.host, port: settings.port });
}

/**
 * A node-postgres pool for `settings`: one connection kept open (never closed for idleness) and
 * replaced by the pool when it breaks; every query is bounded by the readiness check's budget.
 */
export function createPostgresPool(settings: PostgresSettings, applicationName: string, size = 1): Pool {
  return new Pool({
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    password: settings.password,
    application_name: applicationName,
    max: size,
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: CONNECT_TIMEOUT_MS,
  });
}
