import { DataStoreName } from '../../catalog/engine-spec';
import { RedisPlan, REDIS_KIND } from './redis';
import { StoreKind } from './store-kind';
import { TIMESCALEDB_KIND, TimescaleDbPlan } from './timescaledb';

/** The plan of each kind of data store, by the name of the catalog entry it describes. */
export interface StorePlans {
  readonly redis: RedisPlan;
  readonly timescaledb: TimescaleDbPlan;
}

/** One data store as it runs in one environment: the plan of its kind (`kind` tells them apart). */
export type DataStorePlan = StorePlans[DataStoreName];

/** Every kind of data store: adding a store adds one here, beside its plan above. */
export const STORE_KINDS: { readonly [K in DataStoreName]: StoreKind<StorePlans[K]> } = {
  redis: REDIS_KIND,
  timescaledb: TIMESCALEDB_KIND,
};

/** The store kinds in a fixed order: an engine's variables for the stores it depends on come in it. */
export const STORE_KIND_ORDER = Object.keys(STORE_KINDS) as DataStoreName[];

/** The kind of a store plan, typed for it: its alerts and panels take that plan. */
export function kindOf<K extends DataStoreName>(plan: StorePlans[K] & { readonly kind: K }): StoreKind<StorePlans[K]> {
  return STORE_KINDS[plan.kind];
}
