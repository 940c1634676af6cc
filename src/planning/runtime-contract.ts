import { EnvVar } from '../../imports/k8s';
import { ENV, upstreamUrlVariable } from '../engines/runtime/environment-contract';
import { REDIS_SENTINEL, TIMESCALEDB_PATRONI } from '../catalog/data-stores';
import { DataStoreName } from '../catalog/engine-spec';
import { DataStorePlan, EnginePlan, isService } from './plan';
import { StorePlans } from './stores/store-kinds';
import { serviceHost } from './namespaces';

/**
 * The names of the environment variables an engine's container gets: the contract between the
 * manifests and the engine runtime, defined once in the runtime. Port and probe paths are
 * deliberately absent: the runtime knows its own, and test/contract checks the two agree.
 */
export const RUNTIME_ENV = ENV;

export { upstreamUrlVariable };

/** The database engines connect to on TimescaleDB. */
export const TRADING_DATABASE = 'nautilus';

/**
 * Secrets the manifests reference but never contain. They are provisioned per namespace by the
 * cluster's secret manager (a Secret cannot be read across namespaces).
 */
export const CREDENTIAL_SECRETS: Readonly<Record<DataStoreName, { readonly name: string; readonly keys: readonly string[] }>> = {
  timescaledb: { name: 'timescaledb-credentials', keys: ['username', 'password'] },
  redis: { name: 'redis-credentials', keys: ['password'] },
};

/**
 * Secrets only TimescaleDB's own pods read, in the data namespace: the PostgreSQL superuser's
 * password (the superuser is `postgres`) and the streaming-replication role. The backup bucket's
 * credentials are named by each environment's backup settings.
 */
export const TIMESCALEDB_SECRETS = {
  superuser: { name: 'timescaledb-superuser', keys: ['password'] },
  replication: { name: 'timescaledb-replication', keys: ['username', 'password'] },
} as const;

/** Seconds between the start of termination and SIGKILL for an engine pod. */
export const ENGINE_TERMINATION_GRACE_SECONDS = 30;

/**
 * Seconds an engine keeps serving after termination starts, before it is sent SIGTERM: Service
 * endpoints are removed asynchronously, and without the pause clients would still be sent to a
 * listener that has just closed.
 */
export const ENGINE_PRE_STOP_SECONDS = 5;

function secretRef(store: DataStoreName, key: string): EnvVar['valueFrom'] {
  return { secretKeyRef: { name: CREDENTIAL_SECRETS[store].name, key } };
}

/**
 * The container environment of one engine in one environment. `stores` are the environment's data
 * store plans (from the input, not the global catalog): hosts and ports come from them.
 */
export function engineContainerEnv(plan: EnginePlan, upstreams: readonly EnginePlan[], stores: readonly DataStorePlan[]): EnvVar[] {
  const env: EnvVar[] = [
    { name: RUNTIME_ENV.engine, value: plan.engine.name },
    { name: RUNTIME_ENV.environment, value: plan.environment.name },
    { name: RUNTIME_ENV.tier, value: plan.engine.tier.name },
    { name: RUNTIME_ENV.pinned, value: String(plan.pinned) },
    // The grace period also covers the pre-stop pause; leave the runtime a margin to exit on its
    // own before the kubelet's SIGKILL.
    { name: RUNTIME_ENV.shutdownTimeoutSeconds, value: String(ENGINE_TERMINATION_GRACE_SECONDS - ENGINE_PRE_STOP_SECONDS - 5) },
    { name: RUNTIME_ENV.logFormat, value: 'json' },
  ];
  const dependsOn = new Set(plan.engine.dependencies.stores);
  const storePlan = <K extends DataStoreName>(name: K): StorePlans[K] => {
    const found = stores.find((s): s is StorePlans[K] => s.kind === name);
    if (!found) throw new Error(`${plan.engine.name} depends on ${name}, which is not among the data stores of ${plan.environment.name}`);
    return found;
  };
  if (dependsOn.has('redis')) {
    const redis = storePlan('redis');
    const redisService = serviceHost(redis.store.name, redis.namespace);
    if (redis.sentinel) {
      // The primary moves on failover: the engine asks Sentinel (the client Service's Sentinel
      // port reaches every member's) where it is, by the master name Sentinel monitors.
      env.push(
        { name: RUNTIME_ENV.redisSentinels, value: `${redisService}:${REDIS_SENTINEL.port}` },
        { name: RUNTIME_ENV.redisMasterName, value: REDIS_SENTINEL.masterName },
      );
    } else {
      env.push(
        { name: RUNTIME_ENV.redisHost, value: redisService },
        { name: RUNTIME_ENV.redisPort, value: String(redis.store.port) },
      );
    }
    env.push({ name: RUNTIME_ENV.redisPassword, valueFrom: secretRef('redis', 'password') });
  }
  if (dependsOn.has('timescaledb')) {
    const timescaledb = storePlan('timescaledb');
    env.push(
      { name: RUNTIME_ENV.postgresHost, value: serviceHost(timescaledb.store.name, timescaledb.namespace) },
      { name: RUNTIME_ENV.postgresPort, value: String(timescaledb.store.port) },
      { name: RUNTIME_ENV.postgresDatabase, value: TRADING_DATABASE },
      { name: RUNTIME_ENV.postgresUser, valueFrom: secretRef('timescaledb', 'username') },
      { name: RUNTIME_ENV.postgresPassword, valueFrom: secretRef('timescaledb', 'password') },
    );
    // A single member has no replica to read from: the runtime then reads from the primary.
    if (plan.engine.dependencies.timescaledbReplicaReads && timescaledb.replicas > 1) {
      env.push({ name: RUNTIME_ENV.postgresReadOnlyHost, value: serviceHost(TIMESCALEDB_PATRONI.replicaService, timescaledb.namespace) });
    }
  }
  for (const upstream of upstreams) {
    if (!isService(upstream.engine)) continue;
    env.push({
      name: upstreamUrlVariable(upstream.engine.name),
      value: `http://${serviceHost(upstream.engine.name, upstream.namespace)}:${upstream.engine.workload.port}`,
    });
  }
  return env;
}
