import { DataStoreSpec } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { EnvironmentSpec } from '../environments/environment';
import { EngineSourceFiles } from '../images/engine-sources';
import { ConfigurationProblem, Finding } from '../model/errors';
import { enabledEngines } from '../planning/plan';

/** What a rule is given: the whole catalog, the data stores and one environment (and all of them, for collisions). */
export interface RuleInput {
  readonly catalog: readonly EngineSpec[];
  readonly stores: readonly DataStoreSpec[];
  readonly environment: EnvironmentSpec;
  readonly environments: readonly EnvironmentSpec[];
  /** The committed generated files of each engine, where the caller read them (synthesis does). */
  readonly sources?: ReadonlyMap<string, EngineSourceFiles>;
}

/** A validation rule: a name (its id, for docs, tests and every problem it raises) and a check that reports problems. */
export interface ValidationRule {
  readonly name: string;
  readonly check: (input: RuleInput) => ConfigurationProblem[];
}

/**
 * A rule named `name` whose findings become problems: the one place a validation problem is built,
 * so every problem carries the environment it was found in and the id of the rule that raised it.
 */
export function defineRule(name: string, find: (input: RuleInput) => Finding[]): ValidationRule {
  return {
    name,
    check: (input) => find(input).map((finding) => ({ rule: name, environment: input.environment.name, ...finding })),
  };
}

/** `check` applied to every engine the environment deploys. */
export function forEachEngine(input: RuleInput, check: (engine: EngineSpec) => Finding[]): Finding[] {
  return enabledEngines(input.catalog, input.environment).flatMap(check);
}
