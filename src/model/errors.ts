/**
 * Where in the model an invalid value was found.
 */
export interface ErrorLocation {
  /** The environment being synthesized, or `catalog` for rules that do not depend on one. */
  readonly environment: string;
  /** The engine, data store or node pool the value belongs to. */
  readonly subject: string;
  /** The field path within that subject, e.g. `resources.cpu`. */
  readonly field: string;
}

/**
 * One invalid value in the catalog or an environment, with how to fix it.
 */
export interface ConfigurationProblem extends ErrorLocation {
  /** The value received, rendered for a human. */
  readonly value: string;
  /** What is wrong with it. */
  readonly problem: string;
  /** What to change so that synthesis succeeds. */
  readonly fix: string;
}

/** Renders one problem as a single line naming environment, subject, field, value and fix. */
export function formatProblem(p: ConfigurationProblem): string {
  return `[${p.environment}] ${p.subject}: ${p.field} = ${p.value}: ${p.problem}. Fix: ${p.fix}`;
}

/**
 * Thrown when the catalog or an environment is invalid. Carries every problem found, so a user
 * fixes them in one round rather than one per run.
 */
export class ConfigurationError extends Error {
  /** Every problem found, in a stable order. */
  public readonly problems: readonly ConfigurationProblem[];

  constructor(problems: readonly ConfigurationProblem[]) {
    super(
      `${problems.length} configuration problem${problems.length === 1 ? '' : 's'}; nothing was written:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigurationError';
    this.problems = problems;
  }
}
