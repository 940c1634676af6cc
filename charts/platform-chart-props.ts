import { DataStorePlan, EnginePlan } from '../src/planning/plan';
import { EnvironmentSpec } from '../src/environments/environment';

/** What every chart of an environment is built from: the environment and its resolved plans. */
export interface PlatformChartProps {
  readonly environment: EnvironmentSpec;
  readonly engines: readonly EnginePlan[];
  readonly stores: readonly DataStorePlan[];
  /** Full image reference of each enabled engine. */
  readonly images: ReadonlyMap<string, string>;
}
