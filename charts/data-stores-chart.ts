import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { StoreMonitor } from '../src/constructs/monitoring/store-monitors';
import { Redis } from '../src/constructs/redis';
import { TimescaleDb } from '../src/constructs/timescaledb';
import { environmentLabels } from '../src/constructs/labels';
import { DataStoreName } from '../src/catalog/engine-spec';
import { DataStorePlan } from '../src/planning/plan';
import { EnvironmentPlan } from '../src/planning/environment-plan';

/** The construct that renders each data store. */
const STORE_CONSTRUCTS: Readonly<Record<DataStoreName, new (scope: Construct, id: string, plan: DataStorePlan) => Construct>> = {
  timescaledb: TimescaleDb,
  redis: Redis,
};

/** TimescaleDB and Redis, and how Prometheus scrapes their members. */
export class DataStoresChart extends Chart {
  constructor(scope: Construct, id: string, { environment, stores }: EnvironmentPlan) {
    super(scope, id, { labels: environmentLabels(environment.name), disableResourceNameHashes: true });
    for (const plan of stores) {
      const StoreConstruct = STORE_CONSTRUCTS[plan.store.name];
      new StoreConstruct(this, plan.store.name, plan);
      new StoreMonitor(this, `${plan.store.name}-monitoring`, plan);
    }
  }
}
