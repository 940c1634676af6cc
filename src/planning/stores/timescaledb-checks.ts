import { Finding, findingsAbout } from '../../model/errors';
import { dnsLabelProblem } from '../../model/kubernetes-names';
import { StoreCheck } from './store-kind';
import { TimescaleDbPlan } from './timescaledb';

/** TimescaleDB's rules on the environment's TimescaleDB settings: members and synchronous replication, backups. */
export const TIMESCALEDB_CHECKS: ReadonlyArray<StoreCheck<TimescaleDbPlan>> = [
  {
    rule: 'timescaledb-replication',
    check: (plan) => {
      const { members, synchronousReplication } = plan.environment.timescaledb;
      const report = findingsAbout(plan.store.name, 'timescaledb.');
      const problems: Finding[] = [];
      if (!Number.isInteger(members) || members < 1) {
        problems.push(report('members', String(members), 'must be a whole number of at least 1', 'set members to 1 (no failover) or 3 (one per zone)'));
        return problems;
      }
      if (synchronousReplication && members < 2) {
        problems.push(report('synchronousReplication', `true (members ${members})`,
          'synchronous replication needs a replica to confirm each commit, and a single member has none',
          'set members to 2 or more, or synchronousReplication to false'));
      }
      const zones = plan.zones.length;
      if (members > 1 && zones < 2) {
        problems.push(report('members', String(members),
          `the ${plan.nodePool?.name ?? 'cluster'} pool the members run on spans ${zones} zone, so losing it loses every member`,
          'give the storage pool nodes in a second zone, or run 1 member'));
      }
      return problems;
    },
  },
  {
    rule: 'timescaledb-backup',
    check: (plan) => {
      const { backup } = plan.environment.timescaledb;
      if (backup.kind !== 'object-store') return [];
      const report = findingsAbout(plan.store.name, 'timescaledb.backup.');
      const problems: Finding[] = [];
      // S3's bucket naming rules (virtual-host style addressing needs them).
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(backup.bucket) || backup.bucket.includes('..')) {
        problems.push(report('bucket', JSON.stringify(backup.bucket), 'not a valid S3 bucket name',
          'use 3-63 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit'));
      }
      if (!/^[a-z0-9.-]+(:\d+)?$/i.test(backup.endpoint)) {
        problems.push(report('endpoint', JSON.stringify(backup.endpoint), 'pgBackRest expects a host name (and optional port), without a scheme or path',
          'give the host only, e.g. "s3.eu-west-1.amazonaws.com"'));
      }
      if (!Number.isInteger(backup.retainFullBackups) || backup.retainFullBackups < 1) {
        problems.push(report('retainFullBackups', String(backup.retainFullBackups), 'must be a whole number of at least 1',
          'keep at least 1 full backup (point-in-time recovery needs one)'));
      }
      const hours = backup.fullBackupEvery.toHours();
      if (!Number.isInteger(hours) || hours < 1) {
        problems.push(report('fullBackupEvery', String(backup.fullBackupEvery), 'must be a whole number of hours, at least 1 (the schedule and the backup age alert count hours)',
          'take a full backup at least every few days, e.g. Duration.hours(24)'));
      }
      const secretProblem = dnsLabelProblem(backup.credentialsSecret);
      if (secretProblem) {
        problems.push(report('credentialsSecret', JSON.stringify(backup.credentialsSecret), `not a valid Secret name: ${secretProblem}`,
          'name the Secret holding access-key-id and secret-access-key, e.g. "timescaledb-backup-credentials"'));
      }
      return problems;
    },
  },
];
