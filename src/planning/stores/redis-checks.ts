import { Finding, findingsAbout } from '../../model/errors';
import { RedisPlan } from './redis';
import { StoreCheck } from './store-kind';

/**
 * Redis's rules on the environment's Redis settings: whole members, Sentinel with replicas and
 * only then, a quorum Sentinel can reach, and a failover that outlives the loss of a zone.
 */
export const REDIS_CHECKS: ReadonlyArray<StoreCheck<RedisPlan>> = [
  {
    rule: 'redis-members',
    check: (plan) => {
      const { members, sentinel } = plan.environment.redis;
      const report = findingsAbout(plan.store.name, 'redis.');
      if (!Number.isInteger(members) || members < 1) {
        return [report('members', String(members), 'must be a whole number of at least 1', 'set members to 1 (a single server) or 3 (one primary, two replicas)')];
      }
      if (members > 1 && !sentinel) {
        return [report('sentinel', 'undefined', `${members} members without Sentinel: nothing would promote a replica when the primary is lost`,
          'add sentinel settings (quorum, downAfter, failoverTimeout, parallelSyncs), or set members to 1')];
      }
      if (members === 1 && sentinel) {
        return [report('sentinel', `{ quorum: ${sentinel.quorum} }`, 'a single member has no replica to fail over to, so Sentinel would do nothing',
          'remove the sentinel settings, or set members to 3')];
      }
      return [];
    },
  },
  {
    rule: 'redis-sentinel-quorum',
    check: (plan) => {
      const { members, sentinel } = plan.environment.redis;
      if (!sentinel || members < 2) return [];
      const report = findingsAbout(plan.store.name, 'redis.');
      const problems: Finding[] = [];
      const majority = plan.quorum;
      if (!Number.isInteger(sentinel.quorum) || sentinel.quorum < 1 || sentinel.quorum > members) {
        problems.push(report('sentinel.quorum', String(sentinel.quorum), `must be between 1 and the number of Sentinels (${members}, one per member)`,
          `set quorum to ${majority} (a majority of ${members})`));
      }
      if (members % 2 === 0) {
        problems.push(report('members', String(members),
          'an even number of Sentinels (one per member): a partition into two halves leaves neither side the majority a failover needs',
          `use ${members + 1} members (or ${members - 1})`));
      }
      const { downAfter, failoverTimeout } = sentinel;
      for (const [field, duration] of [['downAfter', downAfter], ['failoverTimeout', failoverTimeout]] as const) {
        if (!Number.isInteger(duration.milliseconds)) {
          problems.push(report(`sentinel.${field}`, String(duration), 'Sentinel reads whole milliseconds: a fraction is cut off without a word',
            `use Duration.millis(${Math.round(duration.milliseconds)})`));
        }
      }
      if (!(downAfter.milliseconds >= 100)) {
        problems.push(report('sentinel.downAfter', String(downAfter), 'too short: a busy but healthy primary would be failed over',
          'use at least Duration.millis(100); Duration.seconds(2) is a sound default'));
      }
      if (!(failoverTimeout.milliseconds > downAfter.milliseconds)) {
        problems.push(report('sentinel.failoverTimeout', String(failoverTimeout),
          `must exceed downAfter (${downAfter}): a failover would be abandoned before the primary is even declared down`,
          `use several times downAfter, e.g. Duration.millis(${downAfter.milliseconds * 5})`));
      }
      if (!Number.isInteger(sentinel.parallelSyncs) || sentinel.parallelSyncs < 1 || sentinel.parallelSyncs > members - 1) {
        problems.push(report('sentinel.parallelSyncs', String(sentinel.parallelSyncs), `must be between 1 and the number of replicas (${members - 1})`,
          'use 1: the other replicas keep serving while one resynchronises'));
      }
      return problems;
    },
  },
  {
    rule: 'redis-survives-zone-loss',
    check: (plan) => {
      const { members, sentinel } = plan.environment.redis;
      if (!sentinel || members < 2) return [];
      const zones = plan.zones.length;
      // Spread with maxSkew 1: the fullest zone holds ceil(members / zones).
      const left = members - Math.ceil(members / Math.max(1, zones));
      if (left > members / 2) {
        // A majority can elect a leader, but the primary is only declared down once `quorum` Sentinels agree.
        return left >= sentinel.quorum ? [] : [{
          subject: plan.store.name, field: 'redis.sentinel.quorum', value: `${sentinel.quorum} (${members} members over ${zones} zone(s))`,
          problem: `losing the fullest zone leaves ${left} Sentinels, fewer than the quorum that must agree the primary is down: a primary lost with that zone would never be failed over`,
          fix: `set quorum to ${plan.quorum} (a majority of ${members}) or at most ${left}`,
        }];
      }
      return [{
        subject: plan.store.name, field: 'redis.members', value: String(members),
        problem: `the ${plan.pool?.name ?? 'cluster'} pool the members run on spans ${zones} zone(s); losing the fullest zone leaves ${left} of ${members} Sentinels, not the majority a failover needs`,
        fix: `give the ${plan.pool?.name ?? 'cluster'} pool at least ${members} zones, or change members`,
      }];
    },
  },
];
