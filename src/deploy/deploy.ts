import { PARENT_API_VERSION, PARENT_CRD, PARENT_KIND, parentName, parentObject, readParent, recordFor, toolingName, TOOLING_NAME, unionRecord } from './applyset';
import { Cluster, mapConcurrently } from './cluster';
import { applyWaves, describeObject } from './objects';
import { Plan } from './plan';
import { controllerEdits, withControllerFields } from './release';

/** Options of {@link deploy}. */
export interface DeployOptions {
  /** Field manager our applies record. */
  readonly fieldManager: string;
  /** `nautilus-k8s/<version>`, recorded on the ApplySet parent. */
  readonly tooling: string;
  /** Take over fields other managers own. */
  readonly force: boolean;
  /** Delete the set's members that `dist/` no longer has. */
  readonly prune: boolean;
  /** One line per step. */
  readonly log: (line: string) => void;
  /** Polled between two objects: stop (Ctrl-C) and leave a consistent set behind. */
  readonly interrupted: () => boolean;
}

/** What {@link deploy} did. */
export interface DeployResult {
  readonly applied: number;
  readonly pruned: number;
  /** Stopped by {@link DeployOptions.interrupted} before the end. */
  readonly interrupted: boolean;
}

/**
 * Applies a plan: the ApplySet parent first, recording the union of what the set held and what
 * it will hold (so an interrupted deploy can never orphan an object: the next run still sees and
 * prunes it); then every object in apply order with server-side apply; then the prunes, in
 * reverse order; and last the parent narrowed to the new set. Objects are applied side by side
 * within a wave of {@link applyWaves}, waves one after another. Each object's apply is atomic, and
 * an interruption stops between two objects, so the cluster always holds whole objects of either
 * the old or the new `dist/` and a rerun finishes the job.
 */
export async function deploy(cluster: Cluster, plan: Plan, options: DeployOptions): Promise<DeployResult> {
  const environment = plan.environment;
  const memberChanges = plan.changes.filter((change) => change.change !== 'prune');
  const members = memberChanges.map((change) => change.object);
  const prunes = plan.changes.filter((change) => change.change === 'prune').map((change) => change.object);

  await cluster.ensureKind(PARENT_CRD, PARENT_API_VERSION, PARENT_KIND, options.fieldManager);
  const parentHeader = { apiVersion: PARENT_API_VERSION, kind: PARENT_KIND, metadata: { name: parentName(environment) } };
  const live = readParent(await cluster.read(parentHeader));
  if (live && toolingName(live.tooling) !== TOOLING_NAME) {
    throw new Error(
      `ApplySet ${parentName(environment)} is managed by "${live.tooling}", not ${TOOLING_NAME}: ` +
        'refusing to change a set another tool owns (KEP-3659); delete the parent or use that tool',
    );
  }
  const next = recordFor(options.tooling, members);
  const superset = unionRecord(next, live);
  await cluster.apply(parentObject(environment, superset), { fieldManager: `${TOOLING_NAME}-applyset`, force: true, dryRun: false });
  options.log(`applying ${members.length} objects (ApplySet ${parentName(environment)} covers the old and the new set until the prunes are done)`);

  let applied = 0;
  for (const wave of applyWaves(memberChanges.map((change) => ({ object: change.object, live: change.live })))) {
    // Side by side within a wave; an interruption stops issuing applies and lets those under way finish.
    await mapConcurrently(wave, async ({ object, live }) => {
      if (options.interrupted()) return;
      // What the Argo Rollouts controller sets (a Service's selector key, a DestinationRule's subset
      // labels, a VirtualService's weights) may have changed since the plan read it (a promotion,
      // a step): it is read again, so the apply carries the controller's current values.
      const current = controllerEdits(live) ? withControllerFields(object, await cluster.read(object)) : object;
      await cluster.apply(current, { fieldManager: options.fieldManager, force: options.force, dryRun: false });
      applied += 1;
    });
    if (options.interrupted() && applied < members.length) {
      options.log(`interrupted after ${applied} of ${members.length} objects: every object is whole, the ApplySet still covers old and new; rerun deploy to finish`);
      return { applied, pruned: 0, interrupted: true };
    }
  }
  options.log(`applied ${applied} objects`);

  if (!options.prune) {
    if (prunes.length > 0) options.log(`${prunes.length} objects left unpruned (--no-prune); the ApplySet keeps covering them`);
    return { applied, pruned: 0, interrupted: false };
  }
  let pruned = 0;
  for (const object of prunes) {
    if (options.interrupted()) {
      options.log(`interrupted after pruning ${pruned} of ${prunes.length} objects; rerun deploy to finish`);
      return { applied, pruned, interrupted: true };
    }
    await cluster.delete(object, false);
    options.log(`pruned ${describeObject(object)}`);
    pruned += 1;
  }
  await cluster.apply(parentObject(environment, next), { fieldManager: `${TOOLING_NAME}-applyset`, force: true, dryRun: false });
  return { applied, pruned, interrupted: false };
}
