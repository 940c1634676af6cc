import { KubernetesObject } from '@kubernetes/client-node';

/** An object as `dist/<env>/` holds it or the API server returns it: typed header, untyped body. */
export interface KubeObject extends KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  [field: string]: unknown;
}

/** An object read from `dist/<env>/` with the file it came from (files are numbered in apply order). */
export interface ManifestEntry {
  readonly object: KubeObject;
  /** File name within `dist/<env>/`, e.g. `0004-engines.yaml`. */
  readonly file: string;
}

/** The API group of an `apiVersion`: `apps` for `apps/v1`, `` for `v1`. */
export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

/** `Kind.group` as ApplySet annotations spell group-kinds (`Deployment.apps`, `Service`). */
export function groupKind(object: Pick<KubeObject, 'apiVersion' | 'kind'>): string {
  const group = groupOf(object.apiVersion);
  return group ? `${object.kind}.${group}` : object.kind;
}

/** Identity of an object across API versions: `Deployment.apps nautilus-engines/risk-engine`. */
export function objectKey(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const namespace = object.metadata?.namespace;
  return `${groupKind(object)} ${namespace ? `${namespace}/` : ''}${object.metadata?.name}`;
}

/** How messages name an object: `Deployment nautilus-engines/risk-engine`. */
export function describeObject(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const namespace = object.metadata?.namespace;
  return `${object.kind} ${namespace ? `${namespace}/` : ''}${object.metadata?.name}`;
}

/**
 * Kinds that must exist before anything that lives in them or uses them, applied first whatever
 * file they are in (as kubectl and kapp do); everything else keeps the order of `dist/`, whose
 * files are numbered cluster → secrets → network policies → data stores → engines → edge → monitoring.
 */
const APPLY_FIRST = ['CustomResourceDefinition', 'Namespace'];

/** Kinds that act on a workload (scale it, scrape it): applied after the workloads. */
const APPLY_AFTER_WORKLOADS = ['HorizontalPodAutoscaler', 'ServiceMonitor', 'PodMonitor'];

/**
 * Objects in apply order grouped into waves whose members may be applied side by side: the CRDs,
 * the namespaces, every other object the workloads may need (ServiceAccounts, ConfigMaps, the
 * NetworkPolicies that confine them, PriorityClasses, Services, budgets), the workloads, and last
 * what acts on workloads (autoscalers, monitors). Within a wave the apply order is kept.
 */
export function applyWaves<T extends { readonly object: Pick<KubeObject, 'kind'> }>(ordered: readonly T[]): T[][] {
  const stage = (item: T) => {
    const first = APPLY_FIRST.indexOf(item.object.kind);
    if (first >= 0) return first;
    if (isWorkload(item.object)) return APPLY_FIRST.length + 1;
    return APPLY_AFTER_WORKLOADS.includes(item.object.kind) ? APPLY_FIRST.length + 2 : APPLY_FIRST.length;
  };
  const waves: T[][] = Array.from({ length: APPLY_FIRST.length + 3 }, () => []);
  for (const item of ordered) waves[stage(item)].push(item);
  return waves.filter((wave) => wave.length > 0);
}

/** The manifests in apply order: CRDs and namespaces first, then file order, then order within a file. */
export function applyOrder(entries: readonly ManifestEntry[]): ManifestEntry[] {
  const rank = (entry: ManifestEntry) => {
    const first = APPLY_FIRST.indexOf(entry.object.kind);
    return first >= 0 ? first : APPLY_FIRST.length;
  };
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => rank(a.entry) - rank(b.entry) || a.entry.file.localeCompare(b.entry.file) || a.index - b.index)
    .map(({ entry }) => entry);
}

/**
 * Kinds whose objects are workloads a deploy waits for and status reports (a CronJob is waited
 * for only until it is applied and not suspended; an Argo Rollout until it is Healthy or paused
 * for a person; see `rolloutState`).
 */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Rollout'] as const;

/** True for a Deployment, StatefulSet, DaemonSet, Job, CronJob or Argo Rollout. */
export function isWorkload(object: Pick<KubeObject, 'kind'>): boolean {
  return (WORKLOAD_KINDS as readonly string[]).includes(object.kind);
}

/** The container images `manifests` run. */
export function imagesOf(manifests: readonly KubeObject[]): string[] {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === 'image' && typeof child === 'string') found.add(child);
        else visit(child);
      }
    }
  };
  manifests.forEach(visit);
  return [...found].sort();
}
