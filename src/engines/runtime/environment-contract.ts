/**
 * The environment variables the runtime reads: the one definition of their names. It lives in the
 * runtime because the image's build context (src/engines) cannot reach the rest of the repository;
 * src/planning/runtime-contract.ts imports it to write the manifests. Which variables a manifest
 * sets is decided there; test/contract fails when the runtime needs one a manifest lacks.
 */
export const ENV = {
  engine: 'NAUTILUS_ENGINE',
  environment: 'NAUTILUS_ENVIRONMENT',
  tier: 'NAUTILUS_TIER',
  pinned: 'NAUTILUS_PINNED',
  shutdownTimeoutSeconds: 'NAUTILUS_SHUTDOWN_TIMEOUT_SECONDS',
  logFormat: 'NAUTILUS_LOG_FORMAT',
  redisHost: 'NAUTILUS_REDIS_HOST',
  redisPort: 'NAUTILUS_REDIS_PORT',
  redisPassword: 'NAUTILUS_REDIS_PASSWORD',
  redisSentinels: 'NAUTILUS_REDIS_SENTINELS',
  redisMasterName: 'NAUTILUS_REDIS_MASTER_NAME',
  postgresHost: 'NAUTILUS_POSTGRES_HOST',
  postgresPort: 'NAUTILUS_POSTGRES_PORT',
  postgresDatabase: 'NAUTILUS_POSTGRES_DATABASE',
  postgresUser: 'NAUTILUS_POSTGRES_USER',
  postgresPassword: 'NAUTILUS_POSTGRES_PASSWORD',
  postgresReadOnlyHost: 'NAUTILUS_POSTGRES_READ_ONLY_HOST',
} as const;

/** `NAUTILUS_UPSTREAM_<ENGINE>_URL`: the base URL of an engine this one calls. */
export function upstreamUrlVariable(engineName: string): string {
  return `NAUTILUS_UPSTREAM_${engineName.toUpperCase().replace(/-/g, '_')}_URL`;
}
