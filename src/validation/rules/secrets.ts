import { Duration, wholeSecondsProblem } from '../../model/duration';
import { Finding, findingsAbout } from '../../model/errors';
import { planEdge } from '../../planning/edge';
import { enabledEngines, planDataStore, planEngine } from '../../planning/plan';
import { planSecrets } from '../../planning/secrets';
import { ValidationRule, defineRule } from '../rule';

/** Why `path` cannot be a Vault path (segments separated by single "/"), or undefined. */
function vaultPathProblem(path: string): string | undefined {
  return /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path)
    ? undefined
    : 'must be segments of letters, digits, ".", "_" and "-" separated by single "/", without a leading or trailing "/"';
}

/**
 * The secret manager: a reachable Vault address, valid paths, a refresh interval, and key paths
 * that name Secrets the workloads read, one Secret per path.
 */
export const SECRET_RULES: readonly ValidationRule[] = [
  defineRule('secret-manager', ({ catalog, stores, environment }) => {
    const source = environment.secrets;
    if (source.kind !== 'vault') return [];
    const about = findingsAbout('environment', 'secrets.');
    const findings: Finding[] = [];
    if (!/^https?:\/\/[^\s/]+$/.test(source.server)) {
      findings.push(about('server', JSON.stringify(source.server), 'not a Vault address: a scheme and a host (and port), nothing after them', 'give the address, e.g. "https://vault.example.internal:8200"'));
    }
    if (!/^[^\s,]+$/.test(source.auth.audience)) {
      findings.push(about('auth.audience', JSON.stringify(source.auth.audience), 'not a token audience: one word, no spaces or commas', 'give the audience the Vault role is bound to, e.g. "vault"'));
    }
    for (const [field, value] of [['mount', source.mount], ['pathPrefix', source.pathPrefix], ['auth.mountPath', source.auth.mountPath], ['auth.role', source.auth.role]] as const) {
      const problem = vaultPathProblem(value);
      if (problem) findings.push(about(field, JSON.stringify(value), problem, 'e.g. "secret" for the mount, "nautilus/prod" for the prefix'));
    }
    const refresh = wholeSecondsProblem(source.refreshInterval, Duration.minutes(1));
    if (refresh) findings.push(about('refreshInterval', source.refreshInterval.toString(), `${refresh}: every Secret is read from Vault this often`, 'e.g. Duration.hours(1)'));

    const engines = enabledEngines(catalog, environment).map((e) => planEngine(e, environment));
    const secrets = planSecrets(environment, engines, stores.map((s) => planDataStore(s, environment)), planEdge(environment, engines));
    const known = new Set(secrets.map((s) => s.name));
    for (const [name, path] of Object.entries(source.paths ?? {})) {
      if (!known.has(name)) {
        findings.push(about(`paths.${name}`, JSON.stringify(path), `no workload here reads a Secret named ${name}`, `name one of ${[...known].join(', ')}, or remove the entry`));
      }
      const problem = vaultPathProblem(path);
      if (problem) findings.push(about(`paths.${name}`, JSON.stringify(path), problem, 'give the path below pathPrefix, e.g. "timescaledb/app"'));
    }
    const byPath = new Map<string, string>();
    for (const secret of secrets) {
      const other = byPath.get(secret.path);
      if (other) {
        findings.push(about(`paths.${secret.name}`, JSON.stringify(secret.path),
          `${other} is kept at the same path: both Secrets would be synced from one entry, so one would get the other's keys or values`,
          `give ${secret.name} a path of its own`));
      } else {
        byPath.set(secret.path, secret.name);
      }
    }
    return findings;
  }),
];
