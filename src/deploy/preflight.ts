import { Cluster, mapConcurrently, requestError } from './cluster';
import { ProducingExternalSecret, secretReferences } from '../model/secret-references';
import { describeObject, groupOf, KubeObject } from './objects';

/**
 * The oldest API server the manifests work on: CronJob `timeZone` and PodDisruptionBudget
 * `unhealthyPodEvictionPolicy` (both used) and the Pod Security levels pinned to v1.27.
 */
export const MINIMUM_SERVER_MINOR = 27;

/** What to install when a kind is not served, by API group. */
const PROVIDERS: Readonly<Record<string, string>> = {
  'monitoring.coreos.com': "install the Prometheus operator's CRDs (kube-prometheus-stack or prometheus-operator)",
  'karpenter.sh': 'install Karpenter (this environment emits NodePools for its node pools)',
  'argoproj.io': 'install Argo Rollouts v1.10 or later, its CRDs and its controller in namespace argo-rollouts (this environment releases engines as Rollouts)',
  'cert-manager.io': 'install cert-manager v1.21 or later (its CRDs and its controller): it issues the edge\'s certificates',
  'gateway.networking.k8s.io': 'install the Gateway API\'s standard CRDs (v1.6) and a controller serving the environment\'s GatewayClass',
  'external-secrets.io': 'install the External Secrets Operator (v0.16 or later, its CRDs and its controller): it syncs the Secrets from the secret manager',
};

/**
 * What to install when a namespace the manifests use but do not create is missing: the
 * monitoring stack where the PrometheusRules go (the environment's `monitoringNamespace`).
 */
function namespaceOwner(objects: readonly KubeObject[]): string {
  return objects.some((object) => object.kind === 'PrometheusRule')
    ? 'install the monitoring stack there first (kube-prometheus-stack, prometheus-adapter, Grafana)'
    : 'create it, or install what owns it';
}

/**
 * Checks, without changing anything, that the cluster can take the manifests: the API server
 * answers and is new enough; every kind they use is served (the Prometheus operator's and
 * Karpenter's CRDs); every Secret they read exists with the keys they read (names and keys
 * only, values are never looked at). Returns one message per problem, all of them.
 */
export async function preflight(cluster: Cluster, manifests: readonly KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  // A server that cannot be reached or refuses the credentials throws: the caller names the
  // cause once for every command (clusterFailure).
  const version = await cluster.version();
  if (version.major < 1 || (version.major === 1 && version.minor < MINIMUM_SERVER_MINOR)) {
    problems.push(`API server ${cluster.server} runs ${version.gitVersion}; the manifests need Kubernetes 1.${MINIMUM_SERVER_MINOR} or newer. Fix: upgrade the cluster`);
  }

  const kinds = new Map<string, { apiVersion: string; kind: string; count: number }>();
  for (const manifest of manifests) {
    const id = `${manifest.apiVersion} ${manifest.kind}`;
    const entry = kinds.get(id) ?? { apiVersion: manifest.apiVersion, kind: manifest.kind, count: 0 };
    entry.count += 1;
    kinds.set(id, entry);
  }
  const definedHere = new Set(manifests.filter((m) => m.kind === 'CustomResourceDefinition').map((m) => (m.spec as { group?: string } | undefined)?.group));
  // Every check's requests are issued side by side; the problems keep the checks' order.
  const served = await mapConcurrently([...kinds.values()], ({ apiVersion, kind }) =>
    (definedHere.has(groupOf(apiVersion)) ? Promise.resolve(true) : cluster.served(apiVersion, kind).then((resource) => resource !== undefined)));
  for (const [index, { apiVersion, kind, count }] of [...kinds.values()].entries()) {
    if (served[index]) continue;
    const group = groupOf(apiVersion);
    const fix = PROVIDERS[group] ?? (group.includes('.') && !group.endsWith('.k8s.io') ? `install the CustomResourceDefinition of ${kind}.${group}` : 'use a newer cluster');
    problems.push(`the cluster does not serve ${kind} (${apiVersion}), which ${count} object(s) use. Fix: ${fix}`);
  }

  // Namespaces the manifests put objects in without creating them (the monitoring stack's).
  const created = new Set(manifests.filter((m) => m.kind === 'Namespace').map((m) => m.metadata.name));
  const external = new Map<string, KubeObject[]>();
  for (const manifest of manifests) {
    const namespace = manifest.metadata.namespace;
    if (namespace && !created.has(namespace)) external.set(namespace, [...(external.get(namespace) ?? []), manifest]);
  }
  const namespaces = [...new Set([...external.keys(), ...secretReferences(manifests).map((r) => r.namespace)])];
  const existing = await mapConcurrently(namespaces, (name) => cluster.core.readNamespace({ name }).then(() => true, () => false));
  const namespaceExists = (name: string) => existing[namespaces.indexOf(name)];
  for (const [namespace, objects] of [...external.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (!namespaceExists(namespace)) {
      const fix = namespaceOwner(objects);
      problems.push(`namespace ${namespace} does not exist and dist/ does not create it (${objects.length} object(s) go there, e.g. ${describeObject(objects[0])}). Fix: ${fix}`);
    }
  }

  const secretProblems = await mapConcurrently(secretReferences(manifests), async (reference): Promise<string | undefined> => {
    const label = `Secret ${reference.namespace}/${reference.name}`;
    const readers = `read by ${reference.readers.length} object(s), e.g. ${reference.readers[0]}`;
    try {
      if (!namespaceExists(reference.namespace)) {
        return `${label} is missing (${readers}), and namespace ${reference.namespace} does not exist yet. ` +
          `Fix: create the namespace (kubectl create namespace ${reference.namespace}; deploy then takes it over) and the Secret${keysToCreate(reference.keys)} from your secret manager`;
      }
      const secret = await cluster.read({ apiVersion: 'v1', kind: 'Secret', metadata: { name: reference.name, namespace: reference.namespace } });
      const produced = reference.producedBy;
      if (!secret && produced) return await notSyncedYet(cluster, reference.namespace, produced, label);
      if (!secret) return `${label} is missing (${readers}). Fix: create it${keysToCreate(reference.keys)} from your secret manager`;
      const present = new Set(Object.keys({ ...(secret.data as object | undefined), ...(secret.stringData as object | undefined) }));
      const absent = reference.keys.filter((key) => !present.has(key));
      return absent.length > 0 ? `${label} lacks key(s) ${absent.join(', ')} (${readers}). Fix: add them in your secret manager` : undefined;
    } catch (error) {
      return requestError(`checking ${label}`, error).message;
    }
  });
  problems.push(...secretProblems.filter((problem): problem is string => problem !== undefined));
  return problems;
}

/**
 * Why a Secret an ExternalSecret of the manifests produces is not there: nothing, before the first
 * deploy (the operator syncs it once the ExternalSecret is applied, and the pods reading it wait
 * for it); otherwise the operator's own reason, with the secret manager's entries to provision.
 */
async function notSyncedYet(cluster: Cluster, namespace: string, produced: ProducingExternalSecret, label: string): Promise<string | undefined> {
  const live = await cluster.read({ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: produced.name, namespace } }).catch(() => undefined);
  if (!live) return undefined;
  const conditions = ((live.status as { conditions?: Array<{ type?: string; status?: string; message?: string }> } | undefined)?.conditions) ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  return `${label} is not synced from the secret manager: ExternalSecret ${namespace}/${produced.name} ${ready ? `says "${ready.message ?? ready.status}"` : 'has not reported yet'}. ` +
    `Fix: provision ${produced.entries.join('; ')} in the secret manager (the summary lists every entry)`;
}

/**
 * What to create for a missing Secret: its keys where the manifests name them; a Secret mounted
 * whole as a volume names none, so there is no key list to give.
 */
function keysToCreate(keys: readonly string[]): string {
  return keys.length > 0 ? ` with keys ${keys.join(', ')}` : ' (mounted whole: every key it holds is read)';
}
