import { poolForRole } from '../../environments/environment';
import { dnsLabelProblem } from '../../model/kubernetes-names';
import { majorityOf, planDataStore } from '../../planning/plan';
import { Finding, ValidationRule, defineRule, findingsAbout } from '../rule';

/** Data stores: members, Sentinel quorum, replication and backups, and whether they outlive a zone. */
export const STORE_TOPOLOGY_RULES: readonly ValidationRule[] = [
  defineRule('redis-members', ({ environment }) => {
    const { members, sentinel } = environment.redis;
    const report = findingsAbout('redis', 'redis.');
    if (!Number.isInteger(members) || members < 1) {
      return [report('members', String(members), 'must be a whole number of at least 1', 'set members to 1 (a single server) or 3 (one primary, two replicas)')];
    }
    if (members > 1 && !sentinel) {
      return [report('sentinel', 'undefined', `${members} members without Sentinel: nothing would promote a replica when the primary is lost`,
        'add sentinel settings (quorum, downAfterMilliseconds, failoverTimeoutMilliseconds, parallelSyncs), or set members to 1')];
    }
    if (members === 1 && sentinel) {
      return [report('sentinel', `{ quorum: ${sentinel.quorum} }`, 'a single member has no replica to fail over to, so Sentinel would do nothing',
        'remove the sentinel settings, or set members to 3')];
    }
    return [];
  }),
  defineRule('redis-sentinel-quorum', ({ environment }) => {
    const { members, sentinel } = environment.redis;
    if (!sentinel || members < 2) return [];
    const report = findingsAbout('redis', 'redis.');
    const problems: Finding[] = [];
    const majority = majorityOf(members);
    if (!Number.isInteger(sentinel.quorum) || sentinel.quorum < 1 || sentinel.quorum > members) {
      problems.push(report('sentinel.quorum', String(sentinel.quorum), `must be between 1 and the number of Sentinels (${members}, one per member)`,
        `set quorum to ${majority} (a majority of ${members})`));
    }
    if (members % 2 === 0) {
      problems.push(report('members', String(members),
        'an even number of Sentinels (one per member): a partition into two halves leaves neither side the majority a failover needs',
        `use ${members + 1} members (or ${members - 1})`));
    }
    for (const field of ['downAfterMilliseconds', 'failoverTimeoutMilliseconds'] as const) {
      if (!Number.isInteger(sentinel[field])) {
        problems.push(report(`sentinel.${field}`, String(sentinel[field]), 'Sentinel reads whole milliseconds: a fraction is cut off without a word', `use ${Math.round(sentinel[field])}`));
      }
    }
    if (!(sentinel.downAfterMilliseconds >= 100)) {
      problems.push(report('sentinel.downAfterMilliseconds', String(sentinel.downAfterMilliseconds), 'too short: a busy but healthy primary would be failed over',
        'use at least 100 ms; 2000 is a sound default'));
    }
    if (!(sentinel.failoverTimeoutMilliseconds > sentinel.downAfterMilliseconds)) {
      problems.push(report('sentinel.failoverTimeoutMilliseconds', String(sentinel.failoverTimeoutMilliseconds),
        `must exceed downAfterMilliseconds (${sentinel.downAfterMilliseconds}): a failover would be abandoned before the primary is even declared down`,
        `use several times downAfterMilliseconds, e.g. ${sentinel.downAfterMilliseconds * 5}`));
    }
    if (!Number.isInteger(sentinel.parallelSyncs) || sentinel.parallelSyncs < 1 || sentinel.parallelSyncs > members - 1) {
      problems.push(report('sentinel.parallelSyncs', String(sentinel.parallelSyncs), `must be between 1 and the number of replicas (${members - 1})`,
        'use 1: the other replicas keep serving while one resynchronises'));
    }
    return problems;
  }),
  defineRule('redis-survives-zone-loss', ({ environment, stores }) => {
    const { members, sentinel } = environment.redis;
    if (!sentinel || members < 2) return [];
    const redis = stores.find((store) => store.name === 'redis');
    if (!redis) return [];
    const plan = planDataStore(redis, environment);
    const zones = plan.zones.length;
    // Spread with maxSkew 1: the fullest zone holds ceil(members / zones).
    const left = members - Math.ceil(members / Math.max(1, zones));
    if (left > members / 2) {
      // A majority can elect a leader, but the primary is only declared down once `quorum` Sentinels agree.
      return left >= sentinel.quorum ? [] : [{
        subject: 'redis', field: 'redis.sentinel.quorum', value: `${sentinel.quorum} (${members} members over ${zones} zone(s))`,
        problem: `losing the fullest zone leaves ${left} Sentinels, fewer than the quorum that must agree the primary is down: a primary lost with that zone would never be failed over`,
        fix: `set quorum to ${majorityOf(members)} (a majority of ${members}) or at most ${left}`,
      }];
    }
    return [{
      subject: 'redis', field: 'redis.members', value: String(members),
      problem: `the ${plan.pool?.name ?? 'cluster'} pool the members run on spans ${zones} zone(s); losing the fullest zone leaves ${left} of ${members} Sentinels, not the majority a failover needs`,
      fix: `give the ${plan.pool?.name ?? 'cluster'} pool at least ${members} zones, or change members`,
    }];
  }),
  defineRule('timescaledb-replication', ({ environment, stores }) => {
    const { members, synchronousReplication } = environment.timescaledb;
    const report = findingsAbout('timescaledb', 'timescaledb.');
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
    const timescaledb = stores.find((store) => store.name === 'timescaledb');
    const plan = timescaledb ? planDataStore(timescaledb, environment) : undefined;
    const zones = plan?.zones.length ?? environment.zones.length;
    if (members > 1 && zones < 2) {
      problems.push(report('members', String(members),
        `the ${(plan ? plan.nodePool : poolForRole(environment, 'general'))?.name ?? 'cluster'} pool the members run on spans ${zones} zone, so losing it loses every member`,
        'give the storage pool nodes in a second zone, or run 1 member'));
    }
    return problems;
  }),
  defineRule('timescaledb-backup', ({ environment }) => {
    const { backup } = environment.timescaledb;
    if (backup.kind !== 'object-store') return [];
    const report = findingsAbout('timescaledb', 'timescaledb.backup.');
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
    for (const field of ['retainFullBackups', 'fullBackupEveryHours'] as const) {
      const value = backup[field];
      if (!Number.isInteger(value) || value < 1) {
        problems.push(report(field, String(value), 'must be a whole number of at least 1',
          field === 'retainFullBackups' ? 'keep at least 1 full backup (point-in-time recovery needs one)' : 'take a full backup at least every few days, e.g. 24'));
      }
    }
    const secretProblem = dnsLabelProblem(backup.credentialsSecret);
    if (secretProblem) {
      problems.push(report('credentialsSecret', JSON.stringify(backup.credentialsSecret), `not a valid Secret name: ${secretProblem}`,
        'name the Secret holding access-key-id and secret-access-key, e.g. "timescaledb-backup-credentials"'));
    }
    return problems;
  }),
  defineRule('stores-survive-zone-loss', ({ stores, environment }) => {
    if (!environment.survivesZoneLoss) return [];
    const problems: Finding[] = [];
    for (const store of stores) {
      const plan = planDataStore(store, environment);
      const zones = plan.zones.length;
      // Spread with maxSkew 1: the fullest zone holds ceil(members / zones), and their volumes with them.
      const lost = Math.ceil(plan.replicas / Math.max(1, zones));
      const left = plan.replicas - lost;
      const field = plan.membersSetting;
      const where = `${plan.replicas} member(s) over the ${zones} zone(s) of pool ${plan.nodePool?.name ?? 'general'}`;
      if (left < 1) {
        problems.push({
          subject: store.name, field, value: where,
          problem: 'the environment must survive a zone loss, and losing the zone holding the member (its volume is zonal) leaves no member at all',
          fix: `run a member per zone (${zones > 1 ? zones : 3}, on a pool spanning that many zones)`,
        });
      } else if (plan.synchronousReplication && left < 2) {
        problems.push({
          subject: store.name, field, value: where,
          problem: `the environment must survive a zone loss and replicates synchronously: losing the fullest zone (its ${lost} member(s) and their volumes) leaves ${left}, a primary with no replica to confirm commits, so acknowledged writes would again be lost with the next failure`,
          fix: `run at least ${lost + 2} members over ${Math.max(zones, 3)} zones, or set synchronousReplication to false`,
        });
      }
    }
    return problems;
  }),
];
