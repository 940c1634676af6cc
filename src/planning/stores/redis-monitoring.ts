import { REDIS_SENTINEL } from '../../catalog/data-stores';
import { Duration } from '../../model/duration';
import { AlertingRule } from '../monitoring';
import { FAILOVER_WINDOW, STORE_PROCESS_LABEL } from '../store-monitoring';
import { RedisPlan } from './redis';
import { StoreAlertContext, StorePanel, StoreSeries } from './store-kind';

/**
 * The series Redis's alerts and panels read, as redis_exporter 1.45 names them for a server and for
 * a Sentinel. test/contract/store-exporters.test.ts checks each against the real program.
 */
export const REDIS_METRICS = {
  redisUp: 'redis_up',
  redisInstanceInfo: 'redis_instance_info',
  redisConnectedReplicas: 'redis_connected_slaves',
  redisPrimaryOffset: 'redis_master_repl_offset',
  redisReplicaOffset: 'redis_connected_slave_offset_bytes',
  sentinelMasterStatus: 'redis_sentinel_master_status',
  sentinelOkSentinels: 'redis_sentinel_master_ok_sentinels',
  sentinelOkReplicas: 'redis_sentinel_master_ok_slaves',
  sentinelQuorumCheck: 'redis_sentinel_master_ckquorum_status',
} as const;

/** The server series of the members, as redis_exporter labels them. */
const SERVER = { [STORE_PROCESS_LABEL]: 'server' };

/** The members whose server reports the master role, to match other series `on (namespace, pod)`. */
function isPrimary(series: StoreSeries): string {
  return `on (namespace, pod) ${series(REDIS_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}`;
}

/**
 * Bytes of replication stream each replica has yet to acknowledge behind its primary's offset: the
 * lag alert's and the dashboard's. Only the primary's own offset counts (a replica reports
 * master_repl_offset as well).
 */
function replicationLag(series: StoreSeries): string {
  return `max by (namespace, pod) (${series(REDIS_METRICS.redisPrimaryOffset, SERVER)} and ${isPrimary(series)})\n- on (namespace, pod) group_right ()\n${series(REDIS_METRICS.redisReplicaOffset, SERVER)}`;
}

/** The alerts on Redis's own series, after those every store has. */
export function redisAlerts(plan: RedisPlan, context: StoreAlertContext): AlertingRule[] {
  const { series } = context;
  const name = plan.store.name;
  const members = plan.replicas;
  const replicas = members - 1;
  const alerts: AlertingRule[] = [];
  const sentinelSeries = { [STORE_PROCESS_LABEL]: 'sentinel', master_name: REDIS_SENTINEL.masterName };
  const primary = isPrimary(series);
  alerts.push({
    alert: 'NautilusDataStoreNoPrimary',
    expr: `(count by (namespace) (${series(REDIS_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}) or on () vector(0)) < 1`,
    for: Duration.minutes(1),
    labels: context.labels('critical'),
    annotations: {
      summary: `${name}: no member is the primary`,
      description: `No ${name} member reports the master role in ${plan.namespace}: writes fail until ${members > 1 ? 'Sentinel promotes a replica' : 'the server is back'}.`,
      runbook: `${context.listPods}; ${members > 1 ? `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; ` : ''}read the server logs.`,
    },
  });
  if (members > 1) {
    const lag = plan.store.replicationLagAlert;
    const sentinel = plan.sentinel!;
    alerts.push(
      context.replicationLagAlert(replicationLag(series), {
        summary: `${name}: the replica at {{ $labels.slave_ip }} is more than ${lag.bytes} behind the primary`,
        description: `The replica at {{ $labels.slave_ip }} has acknowledged {{ $value | humanize1024 }}B less of the replication stream than the primary {{ $labels.pod }} has written, for ${lag.for.toMinutes()} minutes.`,
        runbook: `redis-cli info replication on the primary {{ $labels.pod }} and on the replica; check the replica's CPU and network, and whether it is resynchronising (repl-diskless-load).`,
      }),
      {
        alert: 'NautilusDataStoreReplicaDisconnected',
        expr: `(max by (namespace) (${series(REDIS_METRICS.redisConnectedReplicas, SERVER)} and ${primary}) or on () vector(0)) < ${replicas}`,
        for: Duration.minutes(2),
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
        expr: `count by (namespace) (count by (namespace, master_address) (last_over_time(${series(REDIS_METRICS.sentinelMasterStatus, sentinelSeries)}[${FAILOVER_WINDOW}]))) > 1`,
        for: Duration.minutes(0),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: Sentinel moved the primary in the last ${FAILOVER_WINDOW}`,
          description: `Sentinels reported {{ $value }} different primaries of ${REDIS_SENTINEL.masterName} within ${FAILOVER_WINDOW}: a failover (or a hand-over before a primary pod stopped). Clients follow through Sentinel.`,
          runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; read the former primary's log and its pod's events (evicted, OOMKilled, drained).`,
        },
      },
      {
        alert: 'NautilusRedisSentinelDegraded',
        expr: `min by (namespace) (${series(REDIS_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${members}\nor\nmin by (namespace) (${series(REDIS_METRICS.sentinelOkReplicas, sentinelSeries)}) < ${replicas}`,
        for: Duration.minutes(5),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: a Sentinel sees fewer than ${members} healthy Sentinels or ${replicas} healthy replicas`,
          description: `A Sentinel reports only {{ $value }} healthy Sentinels (of ${members}) or replicas (of ${replicas}): failover still works while ${sentinel.quorum} Sentinels agree, with less margin.`,
          runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel master ${REDIS_SENTINEL.masterName} and sentinel replicas ${REDIS_SENTINEL.masterName} on each member; check the Sentinel containers and the peers network policy.`,
        },
      },
      {
        alert: 'NautilusRedisSentinelQuorumLost',
        expr: `max by (namespace) (${series(REDIS_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${sentinel.quorum}\nor\nmax by (namespace) (${series(REDIS_METRICS.sentinelQuorumCheck, sentinelSeries)}) == 0`,
        for: Duration.minutes(2),
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
}

/** The panels on Redis's own series in the data stores dashboard. */
export function redisPanels(plan: RedisPlan, series: StoreSeries): StorePanel[] {
  const name = plan.store.name;
  const sentinel = { [STORE_PROCESS_LABEL]: 'sentinel' };
  const panels: StorePanel[] = [{
    title: `${name}: primary (1) per member`, unit: 'short',
    queries: [{
      expr: `max by (pod) (${series(REDIS_METRICS.redisInstanceInfo, { ...SERVER, role: 'master' })}) or max by (pod) (0 * ${series(REDIS_METRICS.redisUp, SERVER)})`,
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
          { expr: `min(${series(REDIS_METRICS.sentinelOkSentinels, sentinel)})`, legend: 'Sentinels' },
          { expr: `min(${series(REDIS_METRICS.sentinelOkReplicas, sentinel)})`, legend: 'replicas' },
        ],
      },
    );
  }
  return panels;
}
