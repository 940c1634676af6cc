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
  /** The id of the check that raised it: a validation rule's name, or the step that found it (`engine-image-tag`). */
  readonly rule: string;
  /** The value received, rendered for a human. */
  readonly value: string;
  /** What is wrong with it. */
  readonly problem: string;
  /** What to change so that synthesis succeeds. */
  readonly fix: string;
}

/** What a check finds: a problem before it is stamped with the environment checked and the id of the rule that raised it. */
export type Finding = Omit<ConfigurationProblem, 'environment' | 'rule'>;

/** Findings about one subject, their fields under `fieldPrefix` (e.g. `redis.` for the environment's Redis settings). */
export function findingsAbout(subject: string, fieldPrefix = ''): (field: string, value: string, problem: string, fix: string) => Finding {
  return (field, value, problem, fix) => ({ subject, field: `${fieldPrefix}${field}`, value, problem, fix });
}

/**
 * One mistake as reported: a problem found identically in several environments (a catalog typo
 * breaks every environment) is one entry listing them all.
 */
export interface ReportedProblem extends Omit<ConfigurationProblem, 'environment'> {
  /** Every environment the mistake affects, in the order they were checked. */
  readonly environments: readonly string[];
}

/** Renders one problem as a single line naming environment, subject, field, value and fix. */
export function formatProblem(p: ConfigurationProblem | ReportedProblem): string {
  const where = 'environments' in p ? p.environments.join(', ') : p.environment;
  return `[${where}] ${p.subject}: ${p.field} = ${p.value}: ${p.problem}. Fix: ${p.fix}`;
}

/** Merges problems that differ only in their environment into one entry each, keeping first-seen order. */
export function mergeProblems(problems: readonly ConfigurationProblem[]): ReportedProblem[] {
  const byMistake = new Map<string, { entry: Omit<ConfigurationProblem, 'environment'>; environments: string[] }>();
  for (const { environment, ...entry } of problems) {
    const key = JSON.stringify([entry.rule, entry.subject, entry.field, entry.value, entry.problem, entry.fix]);
    const seen = byMistake.get(key);
    if (!seen) byMistake.set(key, { entry, environments: [environment] });
    else if (!seen.environments.includes(environment)) seen.environments.push(environment);
  }
  return [...byMistake.values()].map(({ entry, environments }) => ({ ...entry, environments }));
}

/**
 * Thrown when the catalog or an environment is invalid. Carries every problem found, so a user
 * fixes them in one round rather than one per run.
 */
export class ConfigurationError extends Error {
  /** Every problem found, one per environment it was found in, in a stable order. */
  public readonly problems: readonly ConfigurationProblem[];
  /** The same problems as reported: one entry per mistake, listing the environments it affects. */
  public readonly entries: readonly ReportedProblem[];

  constructor(problems: readonly ConfigurationProblem[]) {
    const entries = mergeProblems(problems);
    super(
      `${entries.length} configuration problem${entries.length === 1 ? '' : 's'}; nothing was written:\n` +
        entries.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'ConfigurationError';
    this.problems = problems;
    this.entries = entries;
  }
}
