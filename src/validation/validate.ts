import { DataStoreSpec } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { EnvironmentSpec } from '../environments/environment';
import { EngineSourceFiles } from '../images/engine-sources';
import { ConfigurationError } from '../model/errors';
import { ValidationRule } from './rule';
import { CAPACITY_RULES } from './rules/capacity';
import { EDGE_RULES } from './rules/edge';
import { ENGINE_SHAPE_RULES } from './rules/engine-shape';
import { ENVIRONMENT_RULES } from './rules/environment';
import { IMAGE_RULES } from './rules/images';
import { NAMING_RULES } from './rules/naming';
import { NODE_POOL_RULES } from './rules/node-pools';
import { RELEASE_RULES } from './rules/releases';
import { SECRET_RULES } from './rules/secrets';
import { STORE_TOPOLOGY_RULES } from './rules/store-topology';

/**
 * Every rule synthesis enforces, by domain, in the order problems are reported; the capacity
 * simulation last, as it assumes the shapes the others check. Each has a failing-case test in
 * test/validation.test.ts.
 */
export const VALIDATION_RULES: readonly ValidationRule[] = [
  ...NAMING_RULES,
  ...ENGINE_SHAPE_RULES,
  ...ENVIRONMENT_RULES,
  ...RELEASE_RULES,
  ...EDGE_RULES,
  ...SECRET_RULES,
  ...NODE_POOL_RULES,
  ...STORE_TOPOLOGY_RULES,
  ...IMAGE_RULES,
  ...CAPACITY_RULES,
];

/** What validation checks besides the catalog and the environments. */
export interface ValidationOptions {
  /** The committed generated files of each engine; without them the generator-staleness rules are skipped. */
  readonly sources?: ReadonlyMap<string, EngineSourceFiles>;
}

/**
 * Checks the catalog and the data stores against every environment; throws one error listing every
 * problem found. A mistake found in several environments is one entry naming them all.
 */
export function validatePlatform(
  catalog: readonly EngineSpec[], stores: readonly DataStoreSpec[], environments: readonly EnvironmentSpec[], options: ValidationOptions = {},
): void {
  const problems = environments.flatMap((environment) =>
    VALIDATION_RULES.flatMap((rule) => rule.check({ catalog, stores, environment, environments, sources: options.sources })),
  );
  if (problems.length > 0) throw new ConfigurationError(problems);
}
