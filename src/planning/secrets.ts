import { EnvironmentSpec } from '../environments/environment';
import { EdgePlan } from './edge';
import { DataStorePlan, EnginePlan } from './plan';
import { NAMESPACE_NAMES } from './namespaces';
import { CREDENTIAL_SECRETS, SecretDefinition } from './store-access';
import { kindOf } from './stores/store-kinds';

/**
 * One Secret the workloads read, where they read it, and where the secret manager keeps it: the
 * one definition both the workloads' references and the ExternalSecrets that produce them come from.
 */
export interface PlatformSecret extends SecretDefinition {
  /** Every namespace a workload reads it in, sorted: each gets its own copy. */
  readonly namespaces: readonly string[];
  /**
   * Its path below the environment's folder of the secret manager (Vault: `<mount>/<pathPrefix>/<path>`,
   * a KV entry whose properties are the keys): the Secret's name unless the environment moves it.
   */
  readonly path: string;
}

/**
 * The service account the secret manager is read as (Vault's role is bound to it): in the data
 * namespace, beside the most sensitive Secrets.
 */
export const SECRETS_READER = { name: 'secrets-reader', namespace: NAMESPACE_NAMES.data } as const;

/** The Secret of the company CA's certificate and key, where the edge's issuer signs with it. */
function edgeSecrets(edge: EdgePlan | undefined): Array<{ definition: SecretDefinition; namespace: string }> {
  if (edge?.access.issuer.kind !== 'company-ca') return [];
  return [{ definition: { name: edge.access.issuer.secretName, keys: ['tls.crt', 'tls.key'], type: 'kubernetes.io/tls' }, namespace: edge.namespace }];
}

/** Where the environment keeps the Secret `name`, below its folder. */
export function secretPath(environment: EnvironmentSpec, name: string): string {
  return (environment.secrets.kind === 'vault' ? environment.secrets.paths?.[name] : undefined) ?? name;
}

/**
 * Every Secret the environment's workloads read, sorted by name: each store's credentials where
 * the store and the engines depending on it run, what the stores' own pods read, the edge's CA.
 */
export function planSecrets(
  environment: EnvironmentSpec, engines: readonly EnginePlan[], stores: readonly DataStorePlan[], edge: EdgePlan | undefined,
): PlatformSecret[] {
  const wanted = [
    ...stores.flatMap((plan) => {
      const clients = engines.filter((e) => e.engine.dependencies.stores.includes(plan.store.name)).map((e) => e.namespace);
      return [plan.namespace, ...clients].map((namespace) => ({ definition: CREDENTIAL_SECRETS[plan.store.name], namespace }));
    }),
    ...stores.flatMap((plan) => kindOf(plan).ownSecrets(plan).map((definition) => ({ definition, namespace: plan.namespace }))),
    ...edgeSecrets(edge),
  ];
  const byName = new Map<string, { definition: SecretDefinition; namespaces: Set<string> }>();
  for (const { definition, namespace } of wanted) {
    const entry = byName.get(definition.name) ?? { definition, namespaces: new Set<string>() };
    entry.namespaces.add(namespace);
    byName.set(definition.name, entry);
  }
  return [...byName.values()]
    .map(({ definition, namespaces }) => ({ ...definition, namespaces: [...namespaces].sort(), path: secretPath(environment, definition.name) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
