import { Finding } from '../../model/errors';
import { DataStorePlan, planDataStore } from '../../planning/plan';
import { StoreKind } from '../../planning/stores/store-kind';
import { STORE_KINDS, STORE_KIND_ORDER } from '../../planning/stores/store-kinds';
import { ValidationRule, defineRule } from '../rule';

/**
 * Each store kind's rules on its own settings (Redis's members and Sentinel, TimescaleDB's
 * replication and backups), each run on the plan of every store of that kind the environment deploys.
 */
const STORE_KIND_RULES: readonly ValidationRule[] = STORE_KIND_ORDER.flatMap((name) => {
  const kind: StoreKind<DataStorePlan> = STORE_KINDS[name];
  return kind.checks.map(({ rule, check }) => defineRule(rule, ({ stores, environment }) =>
    stores.filter((store) => store.name === name).flatMap((store) => check(planDataStore(store, environment)))));
});

/** Data stores: each kind's rules on its settings, and whether every store outlives a zone. */
export const STORE_TOPOLOGY_RULES: readonly ValidationRule[] = [
  ...STORE_KIND_RULES,
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
