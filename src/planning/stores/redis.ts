import { REDIS_EXPORTER, REDIS_SENTINEL } from '../../catalog/data-stores';
import { EnvironmentSpec, SentinelSettings } from '../../environments/environment';
import { ENV } from '../../engines/runtime/environment-contract';
import { serviceHost } from '../namespaces';
import { credentialRef } from '../store-access';
import { FAILOVER_WINDOW, REDIS_EXPORTER_TARGETS, STORE_METRICS, STORE_PROCESS_LABEL } from '../store-monitoring';
import { AlertingRule } from '../monitoring';
import { StoreKind, StorePanel, StorePlanBase, StoreSeries } from './store-kind';

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

/** The server series of the members, as redis_exporter labels them. */
const SERVER = { [STORE_PROCESS_LABEL]: 'server' };

/** The members whose server reports the master role, to match other series `on (namespace, pod)`. */
function isPrimary(series: StoreSeries): string {
  return `on (namespace, pod) ${series(STORE_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}`;
}

/**
 * Bytes of replication stream each replica has yet to acknowledge behind its primary's offset: the
 * lag alert's and the dashboard's. Only the primary's own offset counts (a replica reports
 * master_repl_offset as well).
 */
function replicationLag(series: StoreSeries): string {
  return `max by (namespace, pod) (${series(STORE_METRICS.redisPrimaryOffset, SERVER)} and ${isPrimary(series)})\n- on (namespace, pod) group_right ()\n${series(STORE_METRICS.redisReplicaOffset, SERVER)}`;
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
      { name: ENV.redisPassword, valueFrom: credentialRef(plan.store.name, 'password') },
    ];
  },
  summary: () => [],
  alerts: (plan, context) => {
    const { series } = context;
    const name = plan.store.name;
    const members = plan.replicas;
    const replicas = members - 1;
    const alerts: AlertingRule[] = [];
    const sentinelSeries = { [STORE_PROCESS_LABEL]: 'sentinel', master_name: REDIS_SENTINEL.masterName };
    const primary = isPrimary(series);
    alerts.push({
      alert: 'NautilusDataStoreNoPrimary',
      expr: `(count by (namespace) (${series(STORE_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}) or on () vector(0)) < 1`,
      for: '1m',
      labels: context.labels('critical'),
      annotations: {
        summary: `${name}: no member is the primary`,
        description: `No ${name} member reports the master role in ${plan.namespace}: writes fail until ${members > 1 ? 'Sentinel promotes a replica' : 'the server is back'}.`,
        runbook: `${context.listPods}; ${members > 1 ? `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; ` : ''}read the server logs.`,
      },
    });
    if (members > 1) {
      const lag = plan.store.replicationLagAlert;
      const lagBytes = lag.bytes.mebibytes * 1024 * 1024;
      const sentinel = plan.sentinel!;
      alerts.push(
        {
          alert: 'NautilusDataStoreReplicationLag',
          expr: `${replicationLag(series)}\n> ${lagBytes}`,
          for: `${lag.forMinutes}m`,
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: the replica at {{ $labels.slave_ip }} is more than ${lag.bytes} behind the primary`,
            description: `The replica at {{ $labels.slave_ip }} has acknowledged {{ $value | humanize1024 }}B less of the replication stream than the primary {{ $labels.pod }} has written, for ${lag.forMinutes} minutes.`,
            runbook: `redis-cli info replication on the primary {{ $labels.pod }} and on the replica; check the replica's CPU and network, and whether it is resynchronising (repl-diskless-load).`,
          },
        },
        {
          alert: 'NautilusDataStoreReplicaDisconnected',
          expr: `(max by (namespace) (${series(STORE_METRICS.redisConnectedReplicas, SERVER)} and ${primary}) or on () vector(0)) < ${replicas}`,
          for: '2m',
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: fewer than ${replicas} replicas are connected to the primary`,
            description: `The ${name} primary has {{ $value }} connected replicas of ${replicas}; it stops taking writes when none is left (min-replicas-to-write).`,
            runbook: `${context.listPods}; redis-cli info replication on each member (master_link_status); read the replica's log.`,
          },
        },
        {
          alert: 'NautilusDataStoreFailover',
          // Sentinel names the primary by address: two addresses within the window mean it moved.
          expr: `count by (namespace) (count by (namespace, master_address) (last_over_time(${series(STORE_METRICS.sentinelMasterStatus, sentinelSeries)}[${FAILOVER_WINDOW}]))) > 1`,
          for: '0m',
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: Sentinel moved the primary in the last ${FAILOVER_WINDOW}`,
            description: `Sentinels reported {{ $value }} different primaries of ${REDIS_SENTINEL.masterName} within ${FAILOVER_WINDOW}: a failover (or a hand-over before a primary pod stopped). Clients follow through Sentinel.`,
            runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; read the former primary's log and its pod's events (evicted, OOMKilled, drained).`,
          },
        },
        {
          alert: 'NautilusRedisSentinelDegraded',
          expr: `min by (namespace) (${series(STORE_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${members}\nor\nmin by (namespace) (${series(STORE_METRICS.sentinelOkReplicas, sentinelSeries)}) < ${replicas}`,
          for: '5m',
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: a Sentinel sees fewer than ${members} healthy Sentinels or ${replicas} healthy replicas`,
            description: `A Sentinel reports only {{ $value }} healthy Sentinels (of ${members}) or replicas (of ${replicas}): failover still works while ${sentinel.quorum} Sentinels agree, with less margin.`,
            runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel master ${REDIS_SENTINEL.masterName} and sentinel replicas ${REDIS_SENTINEL.masterName} on each member; check the Sentinel containers and the peers network policy.`,
          },
        },
        {
          alert: 'NautilusRedisSentinelQuorumLost',
          expr: `max by (namespace) (${series(STORE_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${sentinel.quorum}\nor\nmax by (namespace) (${series(STORE_METRICS.sentinelQuorumCheck, sentinelSeries)}) == 0`,
          for: '2m',
          labels: context.labels('critical'),
          annotations: {
            summary: `${name}: Sentinel could not fail the primary over (fewer than ${sentinel.quorum} healthy Sentinels)`,
            description: `The best-connected Sentinel sees {{ $value }} healthy Sentinels, or SENTINEL CKQUORUM fails: losing the primary now would leave ${name} without one.`,
            runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel ckquorum ${REDIS_SENTINEL.masterName} on each member; ${context.listPods}; bring the Sentinel containers back before any maintenance on the primary.`,
          },
        },
      );
    }
    return alerts;
  },
  panels: (plan, series) => {
    const name = plan.store.name;
    const sentinel = { [STORE_PROCESS_LABEL]: 'sentinel' };
    const panels: StorePanel[] = [{
      title: `${name}: primary (1) per member`, unit: 'short',
      queries: [{
        expr: `max by (pod) (${series(STORE_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}) or max by (pod) (0 * ${series(STORE_METRICS.redisUp, SERVER)})`,
        legend: '{{pod}}',
      }],
    }];
    if (plan.replicas > 1) {
      panels.push(
        {
          title: `${name}: replication lag`, unit: 'bytes',
          queries: [{
            expr: replicationLag(series),
            legend: '{{slave_ip}}',
          }],
        },
        {
          title: `${name}: healthy Sentinels and replicas (Sentinel's view)`, unit: 'short',
          queries: [
            { expr: `min(${series(STORE_METRICS.sentinelOkSentinels, sentinel)})`, legend: 'Sentinels' },
            { expr: `min(${series(STORE_METRICS.sentinelOkReplicas, sentinel)})`, legend: 'replicas' },
          ],
        },
      );
    }
    return panels;
  },
};
