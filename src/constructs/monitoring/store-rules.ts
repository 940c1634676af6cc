import { REDIS_SENTINEL } from '../../catalog/data-stores';
import { RUNTIME_METRICS } from '../../engines/runtime/metric-names';
import { EnvironmentSpec } from '../../environments/environment';
import { DataStorePlan, majorityOf } from '../../planning/plan';
import { STORE_METRICS, STORE_PROCESS_LABEL } from '../../planning/store-monitoring';
import { storeMetricsServiceName } from './store-monitors';

/** An alerting rule (the shape of prometheus-rules.ts's AlertingRule, which re-exports these alerts). */
interface StoreAlert {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook: string };
}

/** The kube-state-metrics series of a StatefulSet's ready replicas. */
const STATEFULSET_READY = 'kube_statefulset_status_replicas_ready';

/** How long after a failover its alert keeps firing (and the window that detects it). */
export const FAILOVER_WINDOW = '10m';


/** `name{a="x",...}` with values quoted for PromQL. */
function selector(name: string, matchers: Readonly<Record<string, string>>): string {
  return `${name}{${Object.entries(matchers).map(([label, value]) => `${label}=${JSON.stringify(value)}`).join(',')}}`;
}

/**
 * The alerts on one environment's data stores, derived from their plans: members down (a warning
 * while a majority is up, critical below it), unreachable from the engines, no primary, replicas
 * disconnected or lagging, a failover, Sentinel short of replicas or quorum, and the newest full
 * backup older than the schedule allows. Replication alerts exist only where the store has
 * replicas, backup alerts only where the environment backs up.
 */
export function dataStoreAlerts(environment: EnvironmentSpec, stores: readonly DataStorePlan[]): StoreAlert[] {
  return stores.flatMap((plan) => {
    const name = plan.store.name;
    const members = plan.replicas;
    const quorum = majorityOf(members);
    const labels = (severity: 'critical' | 'warning') => ({ environment: environment.name, severity, store: name, namespace: plan.namespace });
    const ready = `sum by (namespace, statefulset) (${selector(STATEFULSET_READY, { namespace: plan.namespace, statefulset: name })})`;
    const scraped = { namespace: plan.namespace, service: storeMetricsServiceName(name) };
    const m = (metric: string, extra: Readonly<Record<string, string>> = {}) => selector(metric, { ...scraped, ...extra });
    const pods = `kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name} -o wide`;

    const alerts: StoreAlert[] = [
      {
        alert: 'NautilusDataStoreDown',
        expr: `${ready} < ${quorum}`,
        for: '2m',
        labels: labels('critical'),
        annotations: {
          summary: members > 1 ? `${name}: fewer than ${quorum} of its ${members} members are ready (quorum lost)` : `${name}: its only member is not ready`,
          description: `${name} has {{ $value }} ready members of ${members} in ${plan.namespace}; it needs ${quorum} to serve${members > 1 ? ' and fail over' : ''}.`,
          runbook: `${pods}; describe the pods that are not ready, read their logs; check their PersistentVolumeClaims are Bound and the nodes of the storage pool.`,
        },
      },
      {
        alert: 'NautilusDataStoreUnreachable',
        // Every engine checks its stores continuously: when none reaches the store, it is down for them.
        expr: `max by (dependency) (${selector(RUNTIME_METRICS.dependencyUp, { dependency: name })}) == 0`,
        for: '2m',
        labels: labels('critical'),
        annotations: {
          summary: `${name}: no engine reaches it`,
          description: `Every engine that depends on ${name} fails its check: engines report not ready and leave their Services.`,
          runbook: `Check the ${name} pod and Service in ${plan.namespace}, the credentials Secret, and the network policies admitting the engines.`,
        },
      },
    ];
    if (members > 1) {
      alerts.push({
        alert: 'NautilusDataStoreMemberDown',
        expr: `${ready} < ${members}\nand\n${ready} >= ${quorum}`,
        for: '2m',
        labels: labels('warning'),
        annotations: {
          summary: `${name}: a member is not ready (quorum kept)`,
          description: `${name} has {{ $value }} ready members of ${members} in ${plan.namespace}: it still serves and can fail over, with less margin.`,
          runbook: `${pods}; describe the member that is not ready and read its logs; a drain takes one member at a time (PodDisruptionBudget).`,
        },
      });
    }

    const replicas = members - 1;
    if (plan.kind === 'timescaledb') {
      const primaries = `sum by (namespace) (${m(STORE_METRICS.patroniPrimary)})`;
      const unlocked = `max by (namespace) (${m(STORE_METRICS.patroniClusterUnlocked)})`;
      const isReplica = `on (namespace, pod) (${m(STORE_METRICS.patroniReplica)} == 1)`;
      alerts.push({
        alert: 'NautilusDataStoreNoPrimary',
        // Absent series (no member scraped) count as no primary.
        expr: `(${primaries} or on () vector(0)) < 1\nor\n${unlocked} == 1`,
        for: '1m',
        labels: labels('critical'),
        annotations: {
          summary: `${name}: no member is the primary, or no member holds Patroni's leader lock`,
          description: `No ${name} member reports itself primary (or the leader lock is free) in ${plan.namespace}: writes fail until Patroni elects one.`,
          runbook: `${pods}; kubectl -n ${plan.namespace} exec ${name}-0 -c ${name} -- patronictl -c /etc/timescaledb/patroni.yaml list; read the Patroni logs of every member and check the API server is reachable (the leader lock lives there).`,
        },
      });
      if (members > 1) {
        const lag = plan.store.replicationLagAlert;
        const lagBytes = lag.bytes.mebibytes * 1024 * 1024;
        alerts.push(
          {
            alert: 'NautilusDataStoreReplicationLag',
            expr: `max by (namespace) (${m(STORE_METRICS.patroniWalLocation)})\n- on (namespace) group_right ()\n(${m(STORE_METRICS.patroniWalReplayedLocation)} and ${isReplica})\n> ${lagBytes}`,
            for: `${lag.forMinutes}m`,
            labels: labels('warning'),
            annotations: {
              summary: `${name}: {{ $labels.pod }} has replayed more than ${lag.bytes} less WAL than the primary wrote`,
              description: `{{ $labels.pod }} is {{ $value | humanize1024 }}B of WAL behind the primary for ${lag.forMinutes} minutes: a failover to it would wait for the replay, and reads from the replica Service are stale.`,
              runbook: `kubectl -n ${plan.namespace} logs {{ $labels.pod }} -c ${name}; check its disk and CPU, and on the primary SELECT * FROM pg_stat_replication (write_lag, replay_lag).`,
            },
          },
          {
            alert: 'NautilusDataStoreReplicaDisconnected',
            expr: `(count by (namespace) (${m(STORE_METRICS.patroniStreaming)} == 1 and ${isReplica}) or on () vector(0)) < ${replicas}`,
            for: '2m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: fewer than ${replicas} replicas stream from the primary`,
              description: `{{ $value }} of ${name}'s ${replicas} replicas stream WAL from the primary${plan.environment.timescaledb.synchronousReplication ? '; with synchronous replication, commits wait while none does' : ''}.`,
              runbook: `${pods}; on a replica that does not stream, read its Patroni log (pg_rewind, a missing WAL segment it must fetch from the backup repository, a wrong replication password).`,
            },
          },
          {
            alert: 'NautilusDataStoreFailover',
            // The timeline goes up by one at every promotion.
            expr: `max by (namespace) (${m(STORE_METRICS.patroniTimeline)})\n> max by (namespace) (${m(STORE_METRICS.patroniTimeline)} offset ${FAILOVER_WINDOW})`,
            for: '0m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: a replica was promoted in the last ${FAILOVER_WINDOW} (timeline {{ $value }})`,
              description: `${name} moved to timeline {{ $value }}: Patroni failed over or switched over to another member. Clients reconnect through the ${name} Service.`,
              runbook: `kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name} -L role; read the former primary's logs for why it lost the lock; check it rejoined as a replica.`,
            },
          },
        );
      }
      const limitHours = plan.monitoring.backupAgeLimitHours;
      if (limitHours !== undefined) {
        const backup = plan.environment.timescaledb.backup;
        const every = backup.kind === 'object-store' ? backup.fullBackupEveryHours : limitHours;
        alerts.push(
          {
            alert: 'NautilusDataStoreBackupTooOld',
            expr: `min by (namespace, stanza) (${m(STORE_METRICS.backupSinceLastCompletion, { backup_type: 'full' })}) > ${limitHours * 3600}`,
            for: '15m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: the newest full backup is older than ${limitHours} hours`,
              description: `The last full backup of stanza {{ $labels.stanza }} completed {{ $value | humanizeDuration }} ago; the schedule takes one every ${every} hours.`,
              runbook: `kubectl -n ${plan.namespace} logs <primary pod> -c backup-schedule; pgbackrest --stanza={{ $labels.stanza }} info; check the bucket credentials and that the primary's backup-schedule container runs.`,
            },
          },
          {
            alert: 'NautilusDataStoreBackupUnhealthy',
            expr: `max by (namespace, stanza) (${m(STORE_METRICS.backupInfoStatus)}) == 0\nor\nmin by (namespace, stanza) (${m(STORE_METRICS.backupStanzaStatus)}) > 0`,
            for: '30m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: pgBackRest cannot read the backup repository, or reports the stanza unhealthy`,
              description: `pgbackrest info fails for stanza {{ $labels.stanza }}, or reports status {{ $value }} (1 missing stanza path, 2 no valid backups, 3 missing stanza data, 99 other): backup ages are unknown.`,
              runbook: `kubectl -n ${plan.namespace} logs <any member> -c backup-metrics; pgbackrest --stanza={{ $labels.stanza }} info; check the bucket, its credentials Secret and the HTTPS egress policy.`,
            },
          },
        );
      }
    }

    if (plan.kind === 'redis') {
      const server = { [STORE_PROCESS_LABEL]: 'server' };
      const sentinelSeries = { [STORE_PROCESS_LABEL]: 'sentinel', master_name: REDIS_SENTINEL.masterName };
      const isPrimary = `on (namespace, pod) ${m(STORE_METRICS.redisInstanceInfo, { ...server, role: 'master' })}`;
      alerts.push({
        alert: 'NautilusDataStoreNoPrimary',
        expr: `(count by (namespace) (${m(STORE_METRICS.redisInstanceInfo, { ...server, role: 'master' })}) or on () vector(0)) < 1`,
        for: '1m',
        labels: labels('critical'),
        annotations: {
          summary: `${name}: no member is the primary`,
          description: `No ${name} member reports the master role in ${plan.namespace}: writes fail until ${members > 1 ? 'Sentinel promotes a replica' : 'the server is back'}.`,
          runbook: `${pods}; ${members > 1 ? `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; ` : ''}read the server logs.`,
        },
      });
      if (members > 1) {
        const lag = plan.store.replicationLagAlert;
        const lagBytes = lag.bytes.mebibytes * 1024 * 1024;
        const sentinel = plan.sentinel!;
        alerts.push(
          {
            alert: 'NautilusDataStoreReplicationLag',
            expr: `max by (namespace, pod) (${m(STORE_METRICS.redisPrimaryOffset, server)} and ${isPrimary})\n- on (namespace, pod) group_right ()\n${m(STORE_METRICS.redisReplicaOffset, server)}\n> ${lagBytes}`,
            for: `${lag.forMinutes}m`,
            labels: labels('warning'),
            annotations: {
              summary: `${name}: the replica at {{ $labels.slave_ip }} is more than ${lag.bytes} behind the primary`,
              description: `The replica at {{ $labels.slave_ip }} has acknowledged {{ $value | humanize1024 }}B less of the replication stream than the primary {{ $labels.pod }} has written, for ${lag.forMinutes} minutes.`,
              runbook: `redis-cli info replication on the primary {{ $labels.pod }} and on the replica; check the replica's CPU and network, and whether it is resynchronising (repl-diskless-load).`,
            },
          },
          {
            alert: 'NautilusDataStoreReplicaDisconnected',
            expr: `(max by (namespace) (${m(STORE_METRICS.redisConnectedReplicas, server)} and ${isPrimary}) or on () vector(0)) < ${replicas}`,
            for: '2m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: fewer than ${replicas} replicas are connected to the primary`,
              description: `The ${name} primary has {{ $value }} connected replicas of ${replicas}; it stops taking writes when none is left (min-replicas-to-write).`,
              runbook: `${pods}; redis-cli info replication on each member (master_link_status); read the replica's log.`,
            },
          },
          {
            alert: 'NautilusDataStoreFailover',
            // Sentinel names the primary by address: two addresses within the window mean it moved.
            expr: `count by (namespace) (count by (namespace, master_address) (last_over_time(${m(STORE_METRICS.sentinelMasterStatus, sentinelSeries)}[${FAILOVER_WINDOW}]))) > 1`,
            for: '0m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: Sentinel moved the primary in the last ${FAILOVER_WINDOW}`,
              description: `Sentinels reported {{ $value }} different primaries of ${REDIS_SENTINEL.masterName} within ${FAILOVER_WINDOW}: a failover (or a hand-over before a primary pod stopped). Clients follow through Sentinel.`,
              runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel masters on any member; read the former primary's log and its pod's events (evicted, OOMKilled, drained).`,
            },
          },
          {
            alert: 'NautilusRedisSentinelDegraded',
            expr: `min by (namespace) (${m(STORE_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${members}\nor\nmin by (namespace) (${m(STORE_METRICS.sentinelOkReplicas, sentinelSeries)}) < ${replicas}`,
            for: '5m',
            labels: labels('warning'),
            annotations: {
              summary: `${name}: a Sentinel sees fewer than ${members} healthy Sentinels or ${replicas} healthy replicas`,
              description: `A Sentinel reports only {{ $value }} healthy Sentinels (of ${members}) or replicas (of ${replicas}): failover still works while ${sentinel.quorum} Sentinels agree, with less margin.`,
              runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel master ${REDIS_SENTINEL.masterName} and sentinel replicas ${REDIS_SENTINEL.masterName} on each member; check the Sentinel containers and the peers network policy.`,
            },
          },
          {
            alert: 'NautilusRedisSentinelQuorumLost',
            expr: `max by (namespace) (${m(STORE_METRICS.sentinelOkSentinels, sentinelSeries)}) < ${sentinel.quorum}\nor\nmax by (namespace) (${m(STORE_METRICS.sentinelQuorumCheck, sentinelSeries)}) == 0`,
            for: '2m',
            labels: labels('critical'),
            annotations: {
              summary: `${name}: Sentinel could not fail the primary over (fewer than ${sentinel.quorum} healthy Sentinels)`,
              description: `The best-connected Sentinel sees {{ $value }} healthy Sentinels, or SENTINEL CKQUORUM fails: losing the primary now would leave ${name} without one.`,
              runbook: `redis-cli -p ${REDIS_SENTINEL.port} sentinel ckquorum ${REDIS_SENTINEL.masterName} on each member; ${pods}; bring the Sentinel containers back before any maintenance on the primary.`,
            },
          },
        );
      }
    }
    return alerts;
  });
}
