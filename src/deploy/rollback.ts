/**
 * `nautilus rollback`: which recorded revision to go back to, and what a rollback refuses to do
 * because data would be lost. The rollback itself is a deploy of the revision's manifests (same
 * preflight, diff, apply, prune and wait), recorded as a new revision that names the one it
 * restored.
 */
import { DATA_FORMAT_ANNOTATION, dataFormatDowngrades, parseDataFormat } from '../model/data-format';
import { describeObject, KubeObject } from './objects';
import { Plan } from './plan';
import { Revision, RevisionOutcome } from './revisions';

/** Outcomes of a deploy that applied everything and saw nothing fail: the candidates a rollback restores by default. */
const APPLIED_WHOLE: readonly RevisionOutcome[] = ['rolled out', 'applied, not waited for', 'awaiting promotion'];

/** Where the README explains, store by store, what to do instead of a refused rollback. */
const RUNBOOK = 'README, "Rolling back": the manual runbook';

/**
 * The revision `nautilus rollback` restores: `to` when given; otherwise the newest revision
 * before the latest that was applied whole and did not fail (rolled out, applied without
 * waiting, or rolled out but for releases awaiting promotion: in an environment whose releases
 * wait for a person, that is how every release of an engine ends its deploy), skipping failed and
 * interrupted deploys. Throws naming the revisions kept and the fix when there is none to restore.
 */
export function rollbackTarget(revisions: readonly Revision[], environment: string, to: number | undefined): Revision {
  if (revisions.length === 0) {
    throw new Error(`the cluster keeps no revision of ${environment} (never deployed by nautilus, or its ApplySetRevision records were deleted), so there is nothing to roll back to. `
      + `Fix: check out the commit you want and deploy it (nautilus deploy ${environment})`);
  }
  const kept = `it keeps ${revisions[0].revision} to ${revisions[revisions.length - 1].revision}`;
  if (to !== undefined) {
    const found = revisions.find((r) => r.revision === to);
    if (!found) throw new Error(`the cluster has no revision ${to} of ${environment} (${kept}). Fix: pick one that nautilus history ${environment} lists`);
    return found;
  }
  const latest = revisions[revisions.length - 1];
  const good = revisions.filter((r) => r.revision < latest.revision && APPLIED_WHOLE.includes(r.outcome));
  if (good.length === 0) {
    throw new Error(`no revision of ${environment} before the latest (${latest.revision}) was applied whole without failing (${kept}). Fix: name the one to restore with --to <n> (nautilus history ${environment} lists them)`);
  }
  return good[good.length - 1];
}

/** The parts of a volume claim template that decide where and how the data lives. */
function claimShape(template: unknown): string {
  const t = template as { metadata?: { name?: string }; spec?: { accessModes?: string[]; storageClassName?: string; resources?: { requests?: { storage?: string } } } };
  return `${t.metadata?.name ?? '?'}: ${t.spec?.storageClassName ?? 'default class'}, ${t.spec?.resources?.requests?.storage ?? '?'}, ${(t.spec?.accessModes ?? []).join('+')}`;
}

function claimTemplates(statefulSet: KubeObject): unknown[] {
  return ((statefulSet.spec as { volumeClaimTemplates?: unknown[] } | undefined)?.volumeClaimTemplates) ?? [];
}

/**
 * Why restoring `target` over the live environment would lose or endanger data, one line each
 * with the fix; empty when it is safe. A rollback never:
 * - changes a StatefulSet's volume claim templates (the data lives on those claims, and the API
 *   server forbids the change anyway);
 * - moves a store's data format backwards (an older server may not read what a newer one wrote);
 * - removes a data store (a StatefulSet with volume claims) or a PersistentVolumeClaim.
 *
 * `plan` is the deploy of the target's manifests, with the live objects it compared them with.
 */
export function rollbackRefusals(target: Revision, plan: Plan): string[] {
  const refusals: string[] = [];
  const wanted = new Map(target.manifests.filter((m) => m.kind === 'StatefulSet').map((m) => [describeObject(m), m]));
  const liveStatefulSets = plan.changes.flatMap((c) => (c.change !== 'prune' && c.live?.kind === 'StatefulSet' ? [c.live] : []));
  for (const live of liveStatefulSets) {
    const name = describeObject(live);
    const restored = wanted.get(name);
    if (!restored) continue;
    const [now, then] = [claimTemplates(live).map(claimShape), claimTemplates(restored).map(claimShape)];
    if (now.join('; ') !== then.join('; ')) {
      refusals.push(`${name}: revision ${target.revision} has volume claim templates [${then.join('; ')}], the live set [${now.join('; ')}]; `
        + `a rollback never changes them (the store's data lives on those claims). Fix: move the data deliberately (${RUNBOOK}), or roll back to a revision with the live templates`);
    }
    const [liveFormat, restoredFormat] = [live, restored].map((o) => parseDataFormat(o.metadata.annotations?.[DATA_FORMAT_ANNOTATION]));
    const downgrades = liveFormat && restoredFormat ? dataFormatDowngrades(liveFormat, restoredFormat) : [];
    if (downgrades.length > 0) {
      refusals.push(`${name}: revision ${target.revision} would move the data format backwards (${downgrades.join(', ')}); an older server may not read `
        + `the files the newer one wrote. Fix: restore a backup taken before the upgrade (${RUNBOOK}), or roll back to a revision with this data format or newer`);
    }
  }
  for (const change of plan.changes.filter((c) => c.change === 'prune')) {
    const object = change.object;
    if (object.kind === 'PersistentVolumeClaim' || (object.kind === 'StatefulSet' && claimTemplates(object).length > 0)) {
      refusals.push(`${describeObject(object)}: revision ${target.revision} does not have it, and a rollback never removes a data store or its claims. `
        + `Fix: remove it with a deploy that drops it from the catalog, after its data is saved (${RUNBOOK})`);
    }
  }
  return refusals;
}
