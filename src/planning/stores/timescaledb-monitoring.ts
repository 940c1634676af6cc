import { Duration } from '../../model/duration';
import { AlertingRule } from '../monitoring';
import { FAILOVER_WINDOW } from '../store-monitoring';
import { StoreAlertContext, StorePanel, StoreSeries } from './store-kind';
import { TimescaleDbPlan } from './timescaledb';

/**
 * The series TimescaleDB's alerts and panels read, as their exporters name them: Patroni 4.1's REST
 * API `/metrics` (labels `scope`, `name`) and pgbackrest_exporter's names (served by
 * backup-metrics.py). test/contract/store-exporters.test.ts and the failover test check them
 * against the real programs.
 */
export const TIMESCALEDB_METRICS = {
  patroniPrimary: 'patroni_primary',
  patroniReplica: 'patroni_replica',
  patroniClusterUnlocked: 'patroni_cluster_unlocked',
  patroniWalLocation: 'patroni_xlog_location',
  patroniWalReplayedLocation: 'patroni_xlog_replayed_location',
  patroniStreaming: 'patroni_postgres_streaming',
  patroniTimeline: 'patroni_postgres_timeline',
  patroniPostgresRunning: 'patroni_postgres_running',
  backupSinceLastCompletion: 'pgbackrest_backup_since_last_completion_seconds',
  backupStanzaStatus: 'pgbackrest_stanza_status',
  backupInfoStatus: 'pgbackrest_exporter_status',
} as const;

/** Members Patroni reports as replicas, to match other series `on (namespace, pod)`. */
function isReplica(series: StoreSeries): string {
  return `on (namespace, pod) (${series(TIMESCALEDB_METRICS.patroniReplica)} == 1)`;
}

/** Bytes of WAL each replica has yet to replay behind the primary's write position: the lag alert's and the dashboard's. */
function replicationLag(series: StoreSeries): string {
  return `max by (namespace) (${series(TIMESCALEDB_METRICS.patroniWalLocation)})\n- on (namespace) group_right ()\n(${series(TIMESCALEDB_METRICS.patroniWalReplayedLocation)} and ${isReplica(series)})`;
}

/** The alerts on TimescaleDB's own series, after those every store has. */
export function timescaledbAlerts(plan: TimescaleDbPlan, context: StoreAlertContext): AlertingRule[] {
  const { series } = context;
  const name = plan.store.name;
  const members = plan.replicas;
  const replicas = members - 1;
  const alerts: AlertingRule[] = [];
  const primaries = `sum by (namespace) (${series(TIMESCALEDB_METRICS.patroniPrimary)})`;
  const unlocked = `max by (namespace) (${series(TIMESCALEDB_METRICS.patroniClusterUnlocked)})`;
  const replicated = isReplica(series);
  alerts.push({
    alert: 'NautilusDataStoreNoPrimary',
    // Absent series (no member scraped) count as no primary.
    expr: `(${primaries} or on () vector(0)) < 1\nor\n${unlocked} == 1`,
    for: Duration.minutes(1),
    labels: context.labels('critical'),
    annotations: {
      summary: `${name}: no member is the primary, or no member holds Patroni's leader lock`,
      description: `No ${name} member reports itself primary (or the leader lock is free) in ${plan.namespace}: writes fail until Patroni elects one.`,
      runbook: `${context.listPods}; kubectl -n ${plan.namespace} exec ${name}-0 -c ${name} -- patronictl -c /etc/timescaledb/patroni.yaml list; read the Patroni logs of every member and check the API server is reachable (the leader lock lives there).`,
    },
  });
  if (members > 1) {
    const lag = plan.store.replicationLagAlert;
    alerts.push(
      context.replicationLagAlert(replicationLag(series), {
        summary: `${name}: {{ $labels.pod }} has replayed more than ${lag.bytes} less WAL than the primary wrote`,
        description: `{{ $labels.pod }} is {{ $value | humanize1024 }}B of WAL behind the primary for ${lag.for.toMinutes()} minutes: a failover to it would wait for the replay, and reads from the replica Service are stale.`,
        runbook: `kubectl -n ${plan.namespace} logs {{ $labels.pod }} -c ${name}; check its disk and CPU, and on the primary SELECT * FROM pg_stat_replication (write_lag, replay_lag).`,
      }),
      {
        alert: 'NautilusDataStoreReplicaDisconnected',
        expr: `(count by (namespace) (${series(TIMESCALEDB_METRICS.patroniStreaming)} == 1 and ${replicated}) or on () vector(0)) < ${replicas}`,
        for: Duration.minutes(2),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: fewer than ${replicas} replicas stream from the primary`,
          description: `{{ $value }} of ${name}'s ${replicas} replicas stream WAL from the primary${plan.synchronousReplication ? '; with synchronous replication, commits wait while none does' : ''}.`,
          runbook: `${context.listPods}; on a replica that does not stream, read its Patroni log (pg_rewind, a missing WAL segment it must fetch from the backup repository, a wrong replication password).`,
        },
      },
      {
        alert: 'NautilusDataStoreFailover',
        // The timeline goes up by one at every promotion.
        expr: `max by (namespace) (${series(TIMESCALEDB_METRICS.patroniTimeline)})\n> max by (namespace) (${series(TIMESCALEDB_METRICS.patroniTimeline)} offset ${FAILOVER_WINDOW})`,
        for: Duration.minutes(0),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: a replica was promoted in the last ${FAILOVER_WINDOW} (timeline {{ $value }})`,
          description: `${name} moved to timeline {{ $value }}: Patroni failed over or switched over to another member. Clients reconnect through the ${name} Service.`,
          runbook: `kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name} -L role; read the former primary's logs for why it lost the lock; check it rejoined as a replica.`,
        },
      },
    );
  }
  const limit = plan.monitoring.backupAgeLimit;
  if (limit !== undefined) {
    const backup = plan.environment.timescaledb.backup;
    const every = (backup.kind === 'object-store' ? backup.fullBackupEvery : limit).toHours();
    alerts.push(
      {
        alert: 'NautilusDataStoreBackupTooOld',
        expr: `min by (namespace, stanza) (${series(TIMESCALEDB_METRICS.backupSinceLastCompletion, { backup_type: 'full' })}) > ${limit.toSeconds()}`,
        for: Duration.minutes(15),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: the newest full backup is older than ${limit.toHours()} hours`,
          description: `The last full backup of stanza {{ $labels.stanza }} completed {{ $value | humanizeDuration }} ago; the schedule takes one every ${every} hours.`,
          runbook: `kubectl -n ${plan.namespace} logs <primary pod> -c backup-schedule; pgbackrest --stanza={{ $labels.stanza }} info; check the bucket credentials and that the primary's backup-schedule container runs.`,
        },
      },
      {
        alert: 'NautilusDataStoreBackupUnhealthy',
        expr: `max by (namespace, stanza) (${series(TIMESCALEDB_METRICS.backupInfoStatus)}) == 0\nor\nmin by (namespace, stanza) (${series(TIMESCALEDB_METRICS.backupStanzaStatus)}) > 0`,
        for: Duration.minutes(30),
        labels: context.labels('warning'),
        annotations: {
          summary: `${name}: pgBackRest cannot read the backup repository, or reports the stanza unhealthy`,
          description: `pgbackrest info fails for stanza {{ $labels.stanza }}, or reports status {{ $value }} (1 missing stanza path, 2 no valid backups, 3 missing stanza data, 99 other): backup ages are unknown.`,
          runbook: `kubectl -n ${plan.namespace} logs <any member> -c backup-metrics; pgbackrest --stanza={{ $labels.stanza }} info; check the bucket, its credentials Secret and the HTTPS egress policy.`,
        },
      },
    );
  }
  return alerts;
}

/** The panels on TimescaleDB's own series in the data stores dashboard. */
export function timescaledbPanels(plan: TimescaleDbPlan, series: StoreSeries): StorePanel[] {
  const name = plan.store.name;
  const panels: StorePanel[] = [
    { title: `${name}: primary (1) per member`, unit: 'short', queries: [{ expr: `max by (pod) (${series(TIMESCALEDB_METRICS.patroniPrimary)})`, legend: '{{pod}}' }] },
  ];
  if (plan.replicas > 1) {
    panels.push(
      { title: `${name}: replication lag`, unit: 'bytes', queries: [{ expr: replicationLag(series), legend: '{{pod}}' }] },
      { title: `${name}: timeline`, unit: 'short', queries: [{ expr: `max by (pod) (${series(TIMESCALEDB_METRICS.patroniTimeline)})`, legend: '{{pod}}' }] },
    );
  }
  const limit = plan.monitoring.backupAgeLimit;
  if (limit !== undefined) {
    panels.push({
      title: `${name}: newest full backup age`, unit: 's',
      queries: [{ expr: `min by (stanza) (${series(TIMESCALEDB_METRICS.backupSinceLastCompletion, { backup_type: 'full' })})`, legend: '{{stanza}}' }],
      objective: limit.toSeconds(),
    });
  }
  return panels;
}
