import { TIMESCALEDB_BACKUP_METRICS, TIMESCALEDB_BACKUP_SCHEDULE, TIMESCALEDB_PATRONI } from '../../catalog/data-stores';
import { EnvironmentSpec } from '../../environments/environment';
import { StoreScrapeEndpoint, backupAgeLimitHours } from '../store-monitoring';
import { StoreKind, StorePlanBase } from './store-kind';

/** TimescaleDB as it runs in one environment. */
export interface TimescaleDbPlan extends StorePlanBase {
  readonly kind: 'timescaledb';
}

/**
 * TimescaleDB under Patroni: the environment's `timescaledb` settings give the members and whether
 * commits wait for a replica; Patroni's REST API serves its metrics; where the environment backs
 * up, the backup schedule and its metrics run beside every member.
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
};
