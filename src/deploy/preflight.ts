import { Cluster, mapConcurrently, requestError } from './cluster';
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

/** A Secret the manifests read, and the keys they read from it. */
export interface SecretReference {
  readonly namespace: string;
  readonly name: string;
  readonly keys: readonly string[];
  /** Objects that read it, for the message. */
  readonly readers: readonly string[];
}

/**
 * Every Secret the manifests reference (`secretKeyRef`, `envFrom.secretRef`, `secret` volumes),
 * per namespace, with the keys read: derived from `dist/`, so it follows whatever the
 * manifests say.
 */
export function secretReferences(manifests: readonly KubeObject[]): SecretReference[] {
  const found = new Map<string, { namespace: string; name: string; keys: Set<string>; readers: Set<string> }>();
  const note = (object: KubeObject, name: string, key?: string) => {
    const namespace = object.metadata.namespace ?? 'default';
    const id = `${namespace}/${name}`;
    const entry = found.get(id) ?? { namespace, name, keys: new Set<string>(), readers: new Set<string>() };
    if (key) entry.keys.add(key);
    entry.readers.add(describeObject(object));
    found.set(id, entry);
  };
  const walk = (object: KubeObject, value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) walk(object, item);
    } else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const keyRef = record.secretKeyRef as { name?: string; key?: string } | undefined;
      if (keyRef?.name) note(object, keyRef.name, keyRef.key);
      const envFrom = record.secretRef as { name?: string } | undefined;
      if (envFrom?.name) note(object, envFrom.name);
      const volume = record.secret as { secretName?: string } | undefined;
      if (volume?.secretName) note(object, volume.secretName);
      for (const [field, child] of Object.entries(record)) {
        if (field !== 'metadata') walk(object, child);
      }
    }
  };
  for (const manifest of manifests) {
    if (manifest.kind !== 'Secret') walk(manifest, manifest);
  }
  const provided = new Set(manifests.filter((m) => m.kind === 'Secret').map((m) => `${m.metadata.namespace}/${m.metadata.name}`));
  return [...found.entries()]
    .filter(([id]) => !provided.has(id))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, entry]) => ({ namespace: entry.namespace, name: entry.name, keys: [...entry.keys].sort(), readers: [...entry.readers].sort() }));
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
 * What to create for a missing Secret: its keys where the manifests name them; a Secret mounted
 * whole as a volume names none, so there is no key list to give.
 */
function keysToCreate(keys: readonly string[]): string {
  return keys.length > 0 ? ` with keys ${keys.join(', ')}` : ' (mounted whole: every key it holds is read)';
}
