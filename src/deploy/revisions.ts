/**
 * Deploy history: every deploy that changes an environment is recorded in the cluster as a
 * revision, with the manifests it applied (so a rollback needs no checkout and no synthesis), who
 * applied them from which commit, and how it ended.
 *
 * A revision is an `ApplySetRevision` (nautilus.io, cluster-scoped like the ApplySet parent, since
 * an environment spans namespaces) named `nautilus-<env>-r<N>`, labelled with its environment and
 * number. The manifests are stored as gzip-compressed JSON, base64-encoded: prod's fit in a few
 * tens of kilobytes, far under the API server's 1.5 MiB request limit. The newest `keep` revisions
 * of an environment are kept (the one just recorded always among them).
 */
import { gunzipSync, gzipSync } from 'zlib';
import { PARENT_API_VERSION, TOOLING_NAME } from './applyset';
import { Cluster } from './cluster';
import { describeObject, imagesOf, KubeObject } from './objects';

/** Kind of a revision record. */
export const REVISION_KIND = 'ApplySetRevision';
/** Label on a revision: its environment. */
export const REVISION_ENVIRONMENT_LABEL = 'nautilus.io/environment';
/** Label on a revision: its number. */
export const REVISION_NUMBER_LABEL = 'nautilus.io/revision';
/** The record format this tool writes and reads. */
export const REVISION_FORMAT = 1;
/** Revisions kept per environment unless `--history-limit` says otherwise. */
export const DEFAULT_HISTORY_LIMIT = 10;

/** The CRD of revision records: the tool reads and writes their fields itself. */
export const REVISION_CRD: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'applysetrevisions.nautilus.io', labels: { 'app.kubernetes.io/managed-by': TOOLING_NAME } },
  spec: {
    group: PARENT_API_VERSION.split('/')[0],
    scope: 'Cluster',
    names: { plural: 'applysetrevisions', singular: 'applysetrevision', kind: REVISION_KIND, listKind: `${REVISION_KIND}List` },
    versions: [{
      name: PARENT_API_VERSION.split('/')[1],
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: 'object', description: 'One deploy of an environment by nautilus-k8s.', 'x-kubernetes-preserve-unknown-fields': true } },
    }],
  },
};

/**
 * How a deploy ended: `interrupted` means stopped while applying or pruning (every object is
 * whole, some are the previous revision's); a wait that was interrupted or skipped is `applied,
 * not waited for`; `awaiting promotion` means everything rolled out but for Argo Rollouts paused
 * until a person promotes them (named in {@link RevisionRecord.awaitingPromotion}): applied whole,
 * nothing failed, the release continues with `nautilus promote`.
 */
export type RevisionOutcome = 'rolled out' | 'applied, not waited for' | 'awaiting promotion' | 'failed' | 'interrupted';

/** What a revision says about its deploy. */
export interface RevisionRecord {
  readonly revision: number;
  readonly environment: string;
  /** When it was recorded, ISO 8601. */
  readonly time: string;
  /** The kubeconfig user and context that applied it. */
  readonly user: string;
  readonly context: string;
  /** The source commit, where the manifests came from a git checkout. */
  readonly commit?: string;
  /** `<tool>/<version>` that recorded it. */
  readonly tooling: string;
  readonly outcome: RevisionOutcome;
  /** The revision this deploy restored, when it was a `nautilus rollback`. */
  readonly rollbackOf?: number;
  /** With outcome `awaiting promotion`: the engines whose Rollouts were paused for a person when the deploy ended. */
  readonly awaitingPromotion?: readonly string[];
}

/** A revision with its manifests. */
export interface Revision extends RevisionRecord {
  readonly manifests: readonly KubeObject[];
}

/** The name of revision `revision` of `environment`. */
export function revisionName(environment: string, revision: number): string {
  return `nautilus-${environment}-r${revision}`;
}

/**
 * Records a deploy of `manifests` as the next revision of its environment and removes those
 * beyond the newest `keep`; returns the new revision's number.
 */
export async function recordRevision(
  cluster: Cluster, record: Omit<RevisionRecord, 'revision'>, manifests: readonly KubeObject[], keep: number, fieldManager: string,
): Promise<number> {
  await cluster.ensureKind(REVISION_CRD, PARENT_API_VERSION, REVISION_KIND, fieldManager);
  const existing = await listRecords(cluster, record.environment);
  const revision = Math.max(0, ...existing.map((r) => revisionNumber(r))) + 1;
  await cluster.apply({
    apiVersion: PARENT_API_VERSION,
    kind: REVISION_KIND,
    metadata: {
      name: revisionName(record.environment, revision),
      labels: { [REVISION_ENVIRONMENT_LABEL]: record.environment, [REVISION_NUMBER_LABEL]: String(revision), 'app.kubernetes.io/managed-by': TOOLING_NAME },
    },
    format: REVISION_FORMAT,
    record: { ...record, revision },
    manifests: gzipSync(JSON.stringify(manifests)).toString('base64'),
  } as KubeObject, { fieldManager, force: true, dryRun: false });
  const stale = existing.map((r) => ({ object: r, number: revisionNumber(r) })).sort((a, b) => b.number - a.number).slice(Math.max(keep - 1, 0));
  for (const { object } of stale) await cluster.delete(object, false);
  return revision;
}

/** Every revision of `environment`, oldest first, decoded; a record that cannot be read is an error naming it. */
export async function listRevisions(cluster: Cluster, environment: string): Promise<Revision[]> {
  const records = await listRecords(cluster, environment);
  return records.map((record) => decodeRevision(record, environment)).sort((a, b) => a.revision - b.revision);
}

/**
 * The manifests of revision `revision` of `environment`, in the order they were applied; an
 * unknown revision is an error naming the ones the cluster keeps.
 */
export async function revisionManifests(cluster: Cluster, environment: string, revision: number): Promise<readonly KubeObject[]> {
  const revisions = await listRevisions(cluster, environment);
  const found = revisions.find((r) => r.revision === revision);
  if (!found) {
    const kept = revisions.length === 0 ? 'none is recorded' : `it keeps ${revisions[0].revision} to ${revisions[revisions.length - 1].revision}`;
    throw new Error(`the cluster has no revision ${revision} of ${environment} (${kept}). Fix: pick one that nautilus history ${environment} lists`);
  }
  return found.manifests;
}

async function listRecords(cluster: Cluster, environment: string): Promise<KubeObject[]> {
  if (!(await cluster.served(PARENT_API_VERSION, REVISION_KIND))) return [];
  return cluster.list(PARENT_API_VERSION, REVISION_KIND, `${REVISION_ENVIRONMENT_LABEL}=${environment}`);
}

function revisionNumber(object: KubeObject): number {
  return Number(object.metadata.labels?.[REVISION_NUMBER_LABEL] ?? 0);
}

/** The revision a live record holds; throws naming the record and the fix when it cannot be read. */
export function decodeRevision(object: KubeObject, environment?: string): Revision {
  const fields = object as KubeObject & { format?: number; record?: RevisionRecord; manifests?: string };
  const name = object.metadata.name;
  if (fields.format !== REVISION_FORMAT) {
    throw new Error(`revision record ${name} has format ${JSON.stringify(fields.format)}; this tool reads format ${REVISION_FORMAT}. Fix: use the nautilus-k8s version that recorded it (${fields.record?.tooling ?? 'unknown'})`);
  }
  let manifests: KubeObject[];
  try {
    manifests = JSON.parse(gunzipSync(Buffer.from(fields.manifests ?? '', 'base64')).toString('utf8')) as KubeObject[];
  } catch (error) {
    throw new Error(`revision record ${name} is corrupted (its manifests do not decompress: ${error instanceof Error ? error.message : String(error)}). Fix: delete it (kubectl delete ${REVISION_KIND.toLowerCase()} ${name}) or deploy again`);
  }
  if (!fields.record || !Array.isArray(manifests)) throw new Error(`revision record ${name} is incomplete. Fix: delete it (kubectl delete ${REVISION_KIND.toLowerCase()} ${name}) or deploy again`);
  if (environment !== undefined && fields.record.environment !== environment) {
    throw new Error(`revision record ${name} is labelled ${environment} but records a deploy of ${fields.record.environment}: its manifests belong to another environment. `
      + `Fix: delete it (kubectl delete ${REVISION_KIND.toLowerCase()} ${name})`);
  }
  return { ...fields.record, manifests };
}

/** What changed from `before` to `after`: objects added, changed and removed, images changed. */
export function changesBetween(before: readonly KubeObject[], after: readonly KubeObject[]): string {
  const index = (objects: readonly KubeObject[]) => new Map(objects.map((o) => [describeObject(o), JSON.stringify(o)]));
  const [old, now] = [index(before), index(after)];
  const added = [...now.keys()].filter((k) => !old.has(k)).length;
  const removed = [...old.keys()].filter((k) => !now.has(k)).length;
  const changed = [...now.keys()].filter((k) => old.has(k) && old.get(k) !== now.get(k)).length;
  const oldImages = new Set(imagesOf(before));
  const images = imagesOf(after).filter((i) => !oldImages.has(i)).length;
  return `+${added} ~${changed} -${removed} objects, ${images} new image${images === 1 ? '' : 's'}`;
}

/** `nautilus history`: one line per revision, oldest first. */
export function historyLines(revisions: readonly Revision[]): string[] {
  if (revisions.length === 0) return ['no revisions recorded'];
  const rows = revisions.map((r, i) => [
    String(r.revision), r.time.replace(/\.\d+Z$/, 'Z'), (r.commit ?? '-').slice(0, 12), `${r.outcome}${r.rollbackOf ? `, rollback to ${r.rollbackOf}` : ''}`,
    i === 0 ? `${r.manifests.length} objects` : changesBetween(revisions[i - 1].manifests, r.manifests),
    `${r.user} (${r.context})`,
  ]);
  const header = ['REVISION', 'TIME', 'COMMIT', 'OUTCOME', 'CHANGES', 'BY'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  return [header, ...rows].map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
}

/**
 * The first line of `nautilus status`: the revision the environment runs, who applied it and how
 * it ended. A revision interrupted while applying leaves whole objects of two revisions (the
 * ApplySet covers both, so nothing is orphaned): that is unhealthy until a rerun finishes it.
 */
export function revisionStatus(latest: Revision): { healthy: boolean; line: string } {
  const rollback = latest.rollbackOf ? `, rollback to ${latest.rollbackOf}` : '';
  const who = `${latest.time.replace(/\.\d+Z$/, 'Z')} by ${latest.user} (${latest.context})${latest.commit ? `, commit ${latest.commit.slice(0, 12)}` : ''}`;
  if (latest.outcome === 'awaiting promotion') {
    // The record says how the deploy ended; whether the releases were promoted since, the Rollouts' own lines say.
    const engines = latest.awaitingPromotion?.length ? ` of ${latest.awaitingPromotion.join(', ')}` : '';
    return { healthy: true, line: `revision ${latest.revision} of ${latest.environment}${rollback}: applied, awaiting promotion${engines} when recorded, ${who}` };
  }
  if (latest.outcome !== 'interrupted') {
    return { healthy: true, line: `revision ${latest.revision} of ${latest.environment}${rollback}: ${latest.outcome}, ${who}` };
  }
  const finish = latest.rollbackOf ? `nautilus rollback ${latest.environment} --to ${latest.rollbackOf}` : `nautilus deploy ${latest.environment}`;
  return {
    healthy: false,
    line: `revision ${latest.revision} of ${latest.environment}${rollback}: INTERRUPTED while applying, ${who}. Every object is whole, but some are `
      + `still the previous revision's (the ApplySet covers both). Fix: rerun ${finish} to finish it`,
  };
}
