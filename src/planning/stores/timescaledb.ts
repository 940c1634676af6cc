import { TIMESCALEDB_BACKUP_METRICS, TIMESCALEDB_BACKUP_SCHEDULE, TIMESCALEDB_PATRONI } from '../../catalog/data-stores';
import { EnvironmentSpec, ObjectStoreBackup } from '../../environments/environment';
import { ENV } from '../../engines/runtime/environment-contract';
import { imageVersion } from '../../model/domains';
import { Duration } from '../../model/duration';
import { serviceHost } from '../namespaces';
import { OBJECT_STORE_CREDENTIAL_KEYS, TIMESCALEDB_SECRETS, TRADING_DATABASE, credentialRef } from '../store-access';
import { StoreScrapeEndpoint } from '../store-monitoring';
import { TIMESCALEDB_CHECKS } from './timescaledb-checks';
import { StoreKind, StorePlanBase } from './store-kind';
import { TIMESCALEDB_METRICS, timescaledbAlerts, timescaledbPanels } from './timescaledb-monitoring';

/**
 * How old the newest full backup may get: the schedule's interval plus a quarter of it (at least
 * two hours) for the backup itself to run, so one late or failed run is noticed before the next
 * one is due.
 */
export function backupAgeLimit(backup: ObjectStoreBackup): Duration {
  const every = backup.fullBackupEvery.toHours();
  return Duration.hours(every + Math.max(2, Math.ceil(every / 4)));
}

/** TimescaleDB as it runs in one environment. */
export interface TimescaleDbPlan extends StorePlanBase {
  readonly kind: 'timescaledb';
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
        backupAgeLimit: backupAgeLimit(backup),
      },
    };
  },
  // timescaledb-ha tags name both: `pg16.6-ts2.17.2` is PostgreSQL 16, TimescaleDB 2.17.
  dataFormat: (image) => {
    const match = /^pg(\d+)(?:\.\d+)*-ts(\d+)\.(\d+)/.exec(imageVersion(image) ?? '');
    return match ? [['postgresql', match[1]], ['timescaledb', `${match[2]}.${match[3]}`]] : undefined;
  },
  complete: (common) => ({
    ...common,
    kind: 'timescaledb',
    synchronousReplication: common.environment.timescaledb.synchronousReplication,
  }),
  checks: TIMESCALEDB_CHECKS,
  engineEnv: (plan, engine) => [
    { name: ENV.postgresHost, value: serviceHost(plan.store.name, plan.namespace) },
    { name: ENV.postgresPort, value: String(plan.store.port) },
    { name: ENV.postgresDatabase, value: TRADING_DATABASE },
    { name: ENV.postgresUser, secretKey: credentialRef(plan.store.name, 'username') },
    { name: ENV.postgresPassword, secretKey: credentialRef(plan.store.name, 'password') },
    // A single member has no replica to read from: the runtime then reads from the primary.
    ...(engine.engine.dependencies.timescaledbReplicaReads && plan.replicas > 1
      ? [{ name: ENV.postgresReadOnlyHost, value: serviceHost(TIMESCALEDB_PATRONI.replicaService, plan.namespace) }]
      : []),
  ],
  ownSecrets: (plan) => {
    const { backup } = plan.environment.timescaledb;
    return [
      TIMESCALEDB_SECRETS.superuser, TIMESCALEDB_SECRETS.replication,
      ...(backup.kind === 'object-store' ? [{ name: backup.credentialsSecret, keys: OBJECT_STORE_CREDENTIAL_KEYS }] : []),
    ];
  },
  summary: (plan) => {
    const { backup } = plan.environment.timescaledb;
    return [
      `  TimescaleDB backups: ${backup.kind === 'object-store'
        ? `s3://${backup.bucket} (${backup.region}), ${backup.retainFullBackups} full backups kept, one every ${backup.fullBackupEvery.toHours()} h, WAL archived continuously`
        : `disabled (${backup.reason})`}`,
    ];
  },
  alerts: timescaledbAlerts,
  panels: timescaledbPanels,
  metrics: TIMESCALEDB_METRICS,
};
