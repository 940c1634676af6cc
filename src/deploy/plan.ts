import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { APPLYSET_PART_OF_LABEL, applySetId, asMember, readParent, recordFor, unionRecord, PARENT_API_VERSION, PARENT_KIND, parentName } from './applyset';
import { Cluster, ConflictError, mapConcurrently } from './cluster';
import { describeObject, groupKind, KubeObject, ManifestEntry, objectKey } from './objects';
import { withControllerFields } from './release';

/** What applying an object would do. */
export type Change = 'create' | 'change' | 'unchanged' | 'prune';

/** One object of the plan. */
export interface PlannedChange {
  readonly change: Change;
  /** The object as it will be applied (a member of the set), or the live object to prune. */
  readonly object: KubeObject;
  /** Unified diff from the live object to the server's dry-run result; empty when unchanged. */
  readonly diff: string;
  /** The live object it changes or leaves unchanged (none for a create; a prune's object is the live one). */
  readonly live?: KubeObject;
}

/** What a deploy would do to an environment. */
export interface Plan {
  readonly environment: string;
  /** Every object of `dist/<env>/`, in apply order, then the objects to prune. */
  readonly changes: readonly PlannedChange[];
  /** Objects whose apply would take fields from another field manager (not with `force`). */
  readonly conflicts: readonly ConflictError[];
}

/** Options of {@link makePlan}. */
export interface PlanOptions {
  readonly fieldManager: string;
  /** Plan as if conflicts will be forced (`--force-conflicts`). */
  readonly force: boolean;
}

/**
 * Works out what a deploy would change: for each object, a server-side apply in dry-run compared
 * with the live object (managed fields, status and bookkeeping metadata stripped from both, so
 * server defaults present on both cancel out); for the set's members that `dist/` no longer has,
 * a prune. Objects that do not exist yet are shown as the manifest itself. A Service whose
 * selector, DestinationRule subsets and VirtualService weights the Argo Rollouts controller sets keep the controller's values ({@link withControllerFields}).
 */
export async function makePlan(cluster: Cluster, environment: string, ordered: readonly ManifestEntry[], options: PlanOptions): Promise<Plan> {
  const objects = ordered.map(({ object }) => asMember(object, environment));
  // The set's members, read in one list per kind, are most of the live objects (all of them once
  // an environment is deployed); only the others are looked for, in one list per kind and namespace.
  const members = await liveMembers(cluster, environment, ordered.map((entry) => entry.object));
  const live = new Map(members.map((member) => [objectKey(member), member]));
  const others = objects.filter((object) => !live.has(objectKey(object)));
  if (others.length > 0) for (const [key, object] of await cluster.readAll(others)) live.set(key, object);
  // Each object's dry run is independent of the others': they are issued side by side.
  const planned = await mapConcurrently(objects, async (manifest): Promise<PlannedChange | { conflict: ConflictError; live: KubeObject }> => {
    const before = live.get(objectKey(manifest));
    // What a controller owns on the live object (a Rollout's hash in its Services' selectors) is kept.
    const object = withControllerFields(manifest, before);
    if (!before) return { change: 'create', object, diff: unifiedDiff(object, undefined, comparable(object)) };
    let result: KubeObject;
    try {
      result = await cluster.apply(object, { fieldManager: options.fieldManager, force: options.force, dryRun: true });
    } catch (error) {
      if (error instanceof ConflictError) return { conflict: error, live: before };
      throw error;
    }
    const [was, will] = [comparable(before), comparable(result)];
    // Both come from the API server, which writes an object's fields in one order: JSON compares them (YAML only shows a difference).
    const same = JSON.stringify(was) === JSON.stringify(will);
    return { change: same ? 'unchanged' : 'change', object, diff: same ? '' : unifiedDiff(object, was, will), live: before };
  });
  const conflicts = planned.flatMap((p) => ('conflict' in p ? [p.conflict] : []));
  const changes = planned.map((p, i): PlannedChange => ('conflict' in p ? { change: 'change', object: withControllerFields(objects[i], p.live), diff: '', live: p.live } : p));
  const desired = new Set(objects.map(objectKey));
  for (const orphan of pruneOrder(members.filter((member) => !desired.has(objectKey(member))))) {
    changes.push({ change: 'prune', object: orphan, diff: unifiedDiff(orphan, comparable(orphan), undefined) });
  }
  return { environment, changes, conflicts };
}

/**
 * The live members of the environment's set: objects labelled `part-of` its id, of the kinds the
 * parent records or `dist/` has. Kinds the server no longer serves are skipped.
 */
export async function liveMembers(cluster: Cluster, environment: string, manifests: readonly KubeObject[]): Promise<KubeObject[]> {
  const parent = await cluster.read({ apiVersion: PARENT_API_VERSION, kind: PARENT_KIND, metadata: { name: parentName(environment) } }).catch(() => undefined);
  const record = unionRecord(recordFor('', manifests), readParent(parent));
  const versions = new Map(manifests.map((object) => [groupKind(object), object.apiVersion]));
  const lists = await mapConcurrently(record.groupKinds, async (gk) => {
    const apiVersion = versions.get(gk) ?? (await preferredVersion(cluster, gk));
    if (!apiVersion) return [];
    const kind = gk.split('.')[0];
    if (!(await cluster.served(apiVersion, kind))) return [];
    return cluster.list(apiVersion, kind, `${APPLYSET_PART_OF_LABEL}=${applySetId(environment)}`);
  });
  return lists.flat();
}

/** The preferred `group/version` for a group-kind that `dist/` no longer has. */
async function preferredVersion(cluster: Cluster, gk: string): Promise<string | undefined> {
  const group = gk.split('.').slice(1).join('.');
  if (!group) return 'v1';
  const groups = await cluster.apiGroups();
  return groups.get(group);
}

/** Prune order: the reverse of apply order (namespaced objects before their namespaces). */
export function pruneOrder(objects: readonly KubeObject[]): KubeObject[] {
  const rank = (object: KubeObject) => (object.kind === 'Namespace' ? 2 : object.kind === 'CustomResourceDefinition' ? 3 : object.metadata.namespace ? 0 : 1);
  return [...objects].sort((a, b) => rank(a) - rank(b) || objectKey(a).localeCompare(objectKey(b)));
}

/** Metadata the server maintains itself; it differs between any two reads and means nothing to a reader. */
const BOOKKEEPING = ['managedFields', 'resourceVersion', 'generation', 'uid', 'creationTimestamp', 'selfLink'];

/** The object without status and bookkeeping metadata, for comparison and display. */
export function comparable(object: KubeObject): Record<string, unknown> {
  const { status: _status, apiVersion, kind, metadata, ...rest } = object;
  const kept: Record<string, unknown> = { ...metadata };
  for (const field of BOOKKEEPING) delete kept[field];
  return { apiVersion, kind, metadata: kept, ...rest };
}

function unifiedDiff(object: KubeObject, before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): string {
  const name = describeObject(object);
  return createTwoFilesPatch(
    before ? `live/${name}` : '/dev/null',
    after ? `dist/${name}` : '/dev/null',
    before ? stringify(before) : '',
    after ? stringify(after) : '',
    undefined,
    undefined,
    { context: 3 },
  ).replace(/^=+\n/, '');
}

/** Counts per change, for the summary line. */
export function summarize(plan: Plan): Record<Change, number> {
  const counts: Record<Change, number> = { create: 0, change: 0, prune: 0, unchanged: 0 };
  for (const change of plan.changes) counts[change.change] += 1;
  return counts;
}

/** `dev: 2 to create, 1 to change, 3 to prune, 150 unchanged` (plus conflicts, when there are any). */
export function summaryLine(plan: Plan): string {
  const counts = summarize(plan);
  const conflicts = plan.conflicts.length > 0 ? `, ${plan.conflicts.length} with conflicts` : '';
  return `${plan.environment}: ${counts.create} to create, ${counts.change} to change, ${counts.prune} to prune, ${counts.unchanged} unchanged${conflicts}`;
}

/** The plan as `kubectl diff`-like text: each changed object's unified diff, then the summary. */
export function renderPlan(plan: Plan): string {
  const parts = plan.changes.filter((change) => change.change !== 'unchanged' && change.diff !== '').map((change) => change.diff);
  for (const conflict of plan.conflicts) {
    parts.push(`conflict: ${conflict.object}:\n${conflict.conflicts.map((c) => `  ${c.field ? `${c.field}: ` : ''}${c.message}`).join('\n')}\n`);
  }
  parts.push(`${summaryLine(plan)}\n`);
  return parts.join('\n');
}
