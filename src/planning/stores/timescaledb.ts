import { TIMESCALEDB_BACKUP_METRICS, TIMESCALEDB_BACKUP_SCHEDULE, TIMESCALEDB_PATRONI } from '../../catalog/data-stores';
import { EnvironmentSpec } from '../../environments/environment';
import { ENV } from '../../engines/runtime/environment-contract';
import { serviceHost } from '../namespaces';
import { TIMESCALEDB_SECRETS, TRADING_DATABASE, credentialRef } from '../store-access';
import { FAILOVER_WINDOW, STORE_METRICS, StoreScrapeEndpoint, backupAgeLimitHours } from '../store-monitoring';
import { AlertingRule } from '../monitoring';
import { StoreKind, StorePanel, StorePlanBase, StoreSeries } from './store-kind';

/** TimescaleDB as it runs in one environment. */
export interface TimescaleDbPlan extends StorePlanBase {
  readonly kind: 'timescaledb';
}

/** Members Patroni reports as replicas, to match other series `on (namespace, pod)`. */
function isReplica(series: StoreSeries): string {
  return `on (namespace, pod) (${series(STORE_METRICS.patroniReplica)} == 1)`;
}

/** Bytes of WAL each replica has yet to replay behind the primary's write position: the lag alert's and the dashboard's. */
function replicationLag(series: StoreSeries): string {
  return `max by (namespace) (${series(STORE_METRICS.patroniWalLocation)})\n- on (namespace) group_right ()\n(${series(STORE_METRICS.patroniWalReplayedLocation)} and ${isReplica(series)})`;
}

/**
 * TimescaleDB under Patroni: the environment's `timescaledb` settings give the members and whether
 * commits wait for a replica; Patroni's REST API serves its metrics; where the environment backs
 * up, the backup schedule and its metrics run beside every member. Its alerts and panels read
 * Patroni's series (role, WAL positions, timeline) and the backup ages.
 */
export const TIMESCALEDB_KIND: StoreKind<TimescaleDbPlan> = {
  membersSetting: 'timescaledb.members',
  basics: (environment: EnvironmentSpec) => {
    const { members, backup } = environment.timescaledb;
    const patroni: StoreScrapeEndpoint = {
      portName: TIMESCALEDB_PATRONI.restApiPortName, port: TIMESCALEDB_PATRONI.restApiPort, path: '/metrics', process: 'patroni',
    };
    if (backup.kind !== 'object-store') return { members, monitoring: { sidecars: [], exporters: [], scrapeEndpoints: [patroni] } };
    const metrics = TIMESCALEDB_BACKUP_METRICS;
    return {
      members,
      monitoring: {
        sidecars: [TIMESCALEDB_BACKUP_SCHEDULE, metrics],
        exporters: [],
        scrapeEndpoints: [patroni, { portName: metrics.portName, port: metrics.port, path: '/metrics', process: 'backup' }],
        backupAgeLimitHours: backupAgeLimitHours(backup),
      },
    };
  },
  complete: (common) => ({
    ...common,
    kind: 'timescaledb',
    synchronousReplication: common.environment.timescaledb.synchronousReplication,
  }),
  engineEnv: (plan, engine) => [
    { name: ENV.postgresHost, value: serviceHost(plan.store.name, plan.namespace) },
    { name: ENV.postgresPort, value: String(plan.store.port) },
    { name: ENV.postgresDatabase, value: TRADING_DATABASE },
    { name: ENV.postgresUser, valueFrom: credentialRef(plan.store.name, 'username') },
    { name: ENV.postgresPassword, valueFrom: credentialRef(plan.store.name, 'password') },
    // A single member has no replica to read from: the runtime then reads from the primary.
    ...(engine.engine.dependencies.timescaledbReplicaReads && plan.replicas > 1
      ? [{ name: ENV.postgresReadOnlyHost, value: serviceHost(TIMESCALEDB_PATRONI.replicaService, plan.namespace) }]
      : []),
  ],
  summary: (plan) => {
    const { backup } = plan.environment.timescaledb;
    const secrets = Object.values(TIMESCALEDB_SECRETS).map((s) => `${s.name} [${s.keys.join(', ')}]`);
    if (backup.kind === 'object-store') secrets.push(`${backup.credentialsSecret} [access-key-id, secret-access-key]`);
    return [
      `  secrets to provision in ${plan.namespace} for TimescaleDB: ${secrets.join(', ')}`,
      `  TimescaleDB backups: ${backup.kind === 'object-store'
        ? `s3://${backup.bucket} (${backup.region}), ${backup.retainFullBackups} full backups kept, one every ${backup.fullBackupEveryHours} h, WAL archived continuously`
        : `disabled (${backup.reason})`}`,
    ];
  },
  alerts: (plan, context) => {
    const { series } = context;
    const name = plan.store.name;
    const members = plan.replicas;
    const replicas = members - 1;
    const alerts: AlertingRule[] = [];
    const primaries = `sum by (namespace) (${series(STORE_METRICS.patroniPrimary)})`;
    const unlocked = `max by (namespace) (${series(STORE_METRICS.patroniClusterUnlocked)})`;
    const replicated = isReplica(series);
    alerts.push({
      alert: 'NautilusDataStoreNoPrimary',
      // Absent series (no member scraped) count as no primary.
      expr: `(${primaries} or on () vector(0)) < 1\nor\n${unlocked} == 1`,
      for: '1m',
      labels: context.labels('critical'),
      annotations: {
        summary: `${name}: no member is the primary, or no member holds Patroni's leader lock`,
        description: `No ${name} member reports itself primary (or the leader lock is free) in ${plan.namespace}: writes fail until Patroni elects one.`,
        runbook: `${context.listPods}; kubectl -n ${plan.namespace} exec ${name}-0 -c ${name} -- patronictl -c /etc/timescaledb/patroni.yaml list; read the Patroni logs of every member and check the API server is reachable (the leader lock lives there).`,
      },
    });
    if (members > 1) {
      const lag = plan.store.replicationLagAlert;
      const lagBytes = lag.bytes.mebibytes * 1024 * 1024;
      alerts.push(
        {
          alert: 'NautilusDataStoreReplicationLag',
          expr: `${replicationLag(series)}\n> ${lagBytes}`,
          for: `${lag.forMinutes}m`,
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: {{ $labels.pod }} has replayed more than ${lag.bytes} less WAL than the primary wrote`,
            description: `{{ $labels.pod }} is {{ $value | humanize1024 }}B of WAL behind the primary for ${lag.forMinutes} minutes: a failover to it would wait for the replay, and reads from the replica Service are stale.`,
            runbook: `kubectl -n ${plan.namespace} logs {{ $labels.pod }} -c ${name}; check its disk and CPU, and on the primary SELECT * FROM pg_stat_replication (write_lag, replay_lag).`,
          },
        },
        {
          alert: 'NautilusDataStoreReplicaDisconnected',
          expr: `(count by (namespace) (${series(STORE_METRICS.patroniStreaming)} == 1 and ${replicated}) or on () vector(0)) < ${replicas}`,
          for: '2m',
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
          expr: `max by (namespace) (${series(STORE_METRICS.patroniTimeline)})\n> max by (namespace) (${series(STORE_METRICS.patroniTimeline)} offset ${FAILOVER_WINDOW})`,
          for: '0m',
          labels: context.labels('warning'),
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
          expr: `min by (namespace, stanza) (${series(STORE_METRICS.backupSinceLastCompletion, { backup_type: 'full' })}) > ${limitHours * 3600}`,
          for: '15m',
          labels: context.labels('warning'),
          annotations: {
            summary: `${name}: the newest full backup is older than ${limitHours} hours`,
            description: `The last full backup of stanza {{ $labels.stanza }} completed {{ $value | humanizeDuration }} ago; the schedule takes one every ${every} hours.`,
            runbook: `kubectl -n ${plan.namespace} logs <primary pod> -c backup-schedule; pgbackrest --stanza={{ $labels.stanza }} info; check the bucket credentials and that the primary's backup-schedule container runs.`,
          },
        },
        {
          alert: 'NautilusDataStoreBackupUnhealthy',
          expr: `max by (namespace, stanza) (${series(STORE_METRICS.backupInfoStatus)}) == 0\nor\nmin by (namespace, stanza) (${series(STORE_METRICS.backupStanzaStatus)}) > 0`,
          for: '30m',
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
  },
  panels: (plan, series) => {
    const name = plan.store.name;
    const panels: StorePanel[] = [
      { title: `${name}: primary (1) per member`, unit: 'short', queries: [{ expr: `max by (pod) (${series(STORE_METRICS.patroniPrimary)})`, legend: '{{pod}}' }] },
    ];
    if (plan.replicas > 1) {
      panels.push(
        { title: `${name}: replication lag`, unit: 'bytes', queries: [{ expr: replicationLag(series), legend: '{{pod}}' }] },
        { title: `${name}: timeline`, unit: 'short', queries: [{ expr: `max by (pod) (${series(STORE_METRICS.patroniTimeline)})`, legend: '{{pod}}' }] },
      );
    }
    const limitHours = plan.monitoring.backupAgeLimitHours;
    if (limitHours !== undefined) {
      panels.push({
        title: `${name}: newest full backup age`, unit: 's',
        queries: [{ expr: `min by (stanza) (${series(STORE_METRICS.backupSinceLastCompletion, { backup_type: 'full' })})`, legend: '{{stanza}}' }],
        objective: limitHours * 3600,
      });
    }
    return panels;
  },
};
