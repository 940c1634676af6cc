import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { StoreMonitor } from '../src/constructs/monitoring/store-monitors';
import { Redis } from '../src/constructs/redis';
import { TimescaleDb } from '../src/constructs/timescaledb';
import { environmentLabels } from '../src/constructs/labels';
import { DataStoreName } from '../src/catalog/engine-spec';
import { StorePlans } from '../src/planning/stores/store-kinds';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/** The construct that renders each kind of data store. */
const STORE_CONSTRUCTS: { readonly [K in DataStoreName]: new (scope: Construct, id: string, plan: StorePlans[K]) => Construct } = {
  timescaledb: TimescaleDb,
  redis: Redis,
};

/** A store rendered by the construct of its kind (the kind and the plan travel together, so they match). */
function renderStore<K extends DataStoreName>(scope: Construct, plan: StorePlans[K] & { readonly kind: K }): void {
  const StoreConstruct = STORE_CONSTRUCTS[plan.kind];
  new StoreConstruct(scope, plan.store.name, plan);
}

/** TimescaleDB and Redis, and how Prometheus scrapes their members. */
export class DataStoresChart extends Chart {
  constructor(scope: Construct, id: string, { environment, stores }: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(environment.name), disableResourceNameHashes: true });
    for (const plan of stores) {
      renderStore(this, plan);
      new StoreMonitor(this, `${plan.store.name}-monitoring`, plan);
    }
  }
}
