import { EnvironmentSpec } from '../environments/environment';
import { ConfigurationProblem } from '../model/errors';
import { ManifestObject, secretReferences } from '../model/secret-references';

/**
 * Where an environment's Secrets come from the secret manager, every Secret its rendered workloads
 * read must be produced by one of its ExternalSecrets, with every key read: the references and the
 * ExternalSecrets are derived separately (the pods from each workload's plan, the ExternalSecrets
 * from the Secrets' one definition in src/planning/secrets.ts), so a workload reading a Secret the
 * definition forgot fails synthesis here instead of a pod waiting forever in the cluster.
 */
export function secretCoverageProblems(environment: EnvironmentSpec, objects: readonly ManifestObject[]): ConfigurationProblem[] {
  if (environment.secrets.kind !== 'vault') return [];
  return secretReferences(objects).flatMap((reference): ConfigurationProblem[] => {
    const where = `Secret ${reference.namespace}/${reference.name}`;
    const base = { rule: 'secrets-produced', environment: environment.name, subject: where, field: 'readers' };
    if (!reference.producedBy) {
      return [{
        ...base, value: reference.readers.join(', '),
        problem: 'read by these workloads, but no ExternalSecret produces it, so their pods would wait for it forever',
        fix: 'add the Secret to the definitions of src/planning/secrets.ts (a store kind\'s ownSecrets, or CREDENTIAL_SECRETS) in every namespace that reads it',
      }];
    }
    const produced = new Set(reference.producedBy.keys);
    const missing = reference.keys.filter((key) => !produced.has(key));
    return missing.length === 0 ? [] : [{
      ...base, field: 'keys', value: missing.join(', '),
      problem: `read by ${reference.readers.join(', ')}, but ExternalSecret ${reference.producedBy.name} writes only ${reference.producedBy.keys.join(', ')}`,
      fix: 'add the keys to the Secret\'s definition in src/planning/secrets.ts',
    }];
  });
}
