import { REDIS_EXPORTER, REDIS_SENTINEL } from '../../catalog/data-stores';
import { EnvironmentSpec, SentinelSettings } from '../../environments/environment';
import { ENV } from '../../engines/runtime/environment-contract';
import { imageVersion } from '../../model/domains';
import { serviceHost } from '../namespaces';
import { credentialRef } from '../store-access';
import { REDIS_METRICS, redisAlerts, redisPanels } from './redis-monitoring';
import { REDIS_CHECKS } from './redis-checks';
import { StoreKind, StorePlanBase } from './store-kind';

/** Where redis_exporter reaches its own pod's Redis and Sentinel (the pod's loopback). */
export const REDIS_EXPORTER_TARGETS = {
  server: (port: number) => `redis://127.0.0.1:${port}`,
  sentinel: `redis://127.0.0.1:${REDIS_SENTINEL.port}`,
} as const;

/** Redis as it runs in one environment. */
export interface RedisPlan extends StorePlanBase {
  readonly kind: 'redis';
  /** Sentinel's settings, where the environment replicates Redis (absent for a single server). */
  readonly sentinel?: SentinelSettings;
}

/** Sentinel's settings where the environment replicates Redis; undefined for a single server. */
export function redisSentinel(environment: EnvironmentSpec): SentinelSettings | undefined {
  return environment.redis.members > 1 ? environment.redis.sentinel : undefined;
}

/**
 * Redis: the environment's `redis` settings give the members; with more than one, Sentinel runs
 * beside each (clients ask it for the primary on its own port); redis_exporter beside every member
 * serves the server's metrics and, through `/scrape`, its Sentinel's. Its alerts and panels read
 * the servers' roles and replication offsets and Sentinel's view.
 */
export const REDIS_KIND: StoreKind<RedisPlan> = {
  membersSetting: 'redis.members',
  basics: (environment: EnvironmentSpec) => {
    const members = environment.redis.members;
    const sentinel = members > 1;
    return {
      members,
      monitoring: {
        sidecars: [
          ...(sentinel ? [{ name: 'sentinel', cpu: REDIS_SENTINEL.cpu, memory: REDIS_SENTINEL.memory }] : []),
          REDIS_EXPORTER,
        ],
        exporters: [REDIS_EXPORTER],
        scrapeEndpoints: [
          { portName: REDIS_EXPORTER.portName, port: REDIS_EXPORTER.port, path: '/metrics', process: 'server' },
          ...(sentinel
            ? [{
              portName: REDIS_EXPORTER.portName, port: REDIS_EXPORTER.port, path: '/scrape',
              params: { target: [REDIS_EXPORTER_TARGETS.sentinel] }, process: 'sentinel',
            }]
            : []),
        ],
      },
    };
  },
  // Each minor release may raise the RDB version, which older servers refuse to load: `7.4.1-alpine` is 7.4.
  dataFormat: (image) => {
    const match = /^(\d+)\.(\d+)/.exec(imageVersion(image) ?? '');
    return match ? [['redis', `${match[1]}.${match[2]}`]] : undefined;
  },
  complete: (common) => {
    const sentinel = redisSentinel(common.environment);
    return {
      ...common,
      kind: 'redis',
      synchronousReplication: false,
      clientPorts: [...common.clientPorts, ...(sentinel ? [{ name: REDIS_SENTINEL.portName, port: REDIS_SENTINEL.port }] : [])],
      sentinel,
    };
  },
  checks: REDIS_CHECKS,
  engineEnv: (plan) => {
    const service = serviceHost(plan.store.name, plan.namespace);
    return [
      ...(plan.sentinel
        // The primary moves on failover: the engine asks Sentinel (the client Service's Sentinel
        // port reaches every member's) where it is, by the master name Sentinel monitors.
        ? [
          { name: ENV.redisSentinels, value: `${service}:${REDIS_SENTINEL.port}` },
          { name: ENV.redisMasterName, value: REDIS_SENTINEL.masterName },
        ]
        : [
          { name: ENV.redisHost, value: service },
          { name: ENV.redisPort, value: String(plan.store.port) },
        ]),
      { name: ENV.redisPassword, secretKey: credentialRef(plan.store.name, 'password') },
    ];
  },
  ownSecrets: () => [],
  summary: () => [],
  alerts: redisAlerts,
  panels: redisPanels,
  metrics: REDIS_METRICS,
};
