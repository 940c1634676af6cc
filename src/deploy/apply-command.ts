/**
 * The path every command that may change an environment takes: `preflight`, `diff`, `deploy`
 * and `rollback` (a deploy of a recorded revision). Preflight, the plan shown as a diff, the
 * checks and confirmations, the apply with its prunes, the wait, and the revision record.
 */
import { kubectlApplySetFlag, TOOLING_NAME } from './applyset';
import { Cluster } from './cluster';
import { deploy } from './deploy';
import { CliIo } from './io';
import { applyOrder, describeObject, isWorkload, ManifestEntry } from './objects';
import { makePlan, renderPlan, summarize } from './plan';
import { preflight } from './preflight';
import { recordRevision, Revision, RevisionOutcome } from './revisions';
import { rollbackRefusals } from './rollback';
import { waitForRollout } from './rollout';

/** Field manager of every apply the tool makes. */
export const FIELD_MANAGER = TOOLING_NAME;

/** What the command line asked for. */
export interface ApplyCommand {
  readonly command: 'preflight' | 'diff' | 'deploy' | 'rollback';
  readonly environment: string;
  readonly entries: readonly ManifestEntry[];
  /** For a rollback: the revision it restores (`entries` are its manifests). */
  readonly restoring?: Revision;
  readonly dryRun: boolean;
  readonly prune: boolean;
  readonly yes: boolean;
  /** The environment asks before a prune or a rollback (its `confirmPrunes`). */
  readonly confirms: boolean;
  readonly force: boolean;
  readonly wait: boolean;
  readonly timeoutSeconds: number;
  readonly historyLimit: number;
  /** `nautilus-k8s/<version>`, recorded on the ApplySet and on each revision. */
  readonly tooling: string;
  /** The source commit of the manifests: this checkout's for its dist/, the restored revision's for a rollback. */
  readonly commit?: string;
}

/** Runs one of the commands that may change the environment; returns the exit code (as runCli). */
export async function runApplyCommand(cluster: Cluster, request: ApplyCommand, io: CliIo): Promise<number> {
  const { command, environment, restoring } = request;
  const changing = command === 'deploy' || command === 'rollback';
  const manifests = request.entries.map((entry) => entry.object);
  // The plan only reads and dry-runs, so it is worked out while preflight checks: what preflight
  // finds is reported first, and a plan that failed for the reason preflight names is not shown.
  const planned = command === 'preflight' ? undefined
    : makePlan(cluster, environment, applyOrder(request.entries), { fieldManager: FIELD_MANAGER, force: request.force })
      .then((plan) => ({ plan }), (error: unknown) => ({ error }));
  const problems = await preflight(cluster, manifests);
  if (problems.length > 0 && command === 'diff') {
    // A diff changes nothing: show what a deploy would refuse, and diff anyway.
    io.stderr(`warning: preflight found ${problems.length} problem(s) a deploy would stop at:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  } else if (problems.length > 0) {
    io.stderr(`preflight failed: ${problems.length} problem(s); nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  if (command === 'preflight') {
    io.stdout(`preflight ${environment}: ok (API server, ${new Set(manifests.map((m) => m.kind)).size} kinds served, referenced Secrets present)\n`);
    return 0;
  }

  // From here on Ctrl-C is handled: before the first change it stops cleanly, during the
  // deploy it stops between two objects, while waiting it stops waiting.
  let interrupted = false;
  const removeHandler = !changing ? undefined : io.onInterrupt?.(() => {
    interrupted = true;
    io.stderr('\ninterrupt: finishing the request under way, then stopping (again to abort at once)\n');
  });
  try {
    // What was applied is recorded however the deploy ends; a record that cannot be written is
    // reported but does not change the deploy's own outcome.
    const record = async (outcome: RevisionOutcome, awaitingPromotion: readonly string[] = []): Promise<void> => {
      try {
        const revision = await recordRevision(cluster, {
          environment, time: new Date().toISOString(), user: cluster.kubeConfig.getCurrentUser()?.name ?? 'unknown',
          context: cluster.kubeConfig.getCurrentContext(), commit: request.commit,
          tooling: request.tooling, outcome, ...(restoring ? { rollbackOf: restoring.revision } : {}),
          ...(awaitingPromotion.length > 0 ? { awaitingPromotion } : {}),
        }, manifests, request.historyLimit, FIELD_MANAGER);
        io.stderr(`recorded as revision ${revision} of ${environment} (${outcome}${restoring ? `, rollback to ${restoring.revision}` : ''}); see nautilus history ${environment}\n`);
      } catch (error) {
        io.stderr(`warning: the ${command} (${outcome}) could not be recorded in the history: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    };
    const outcome = await planned!;
    if ('error' in outcome) throw outcome.error;
    const { plan } = outcome;
    io.stdout(renderPlan(plan));
    const counts = summarize(plan);
    const changes = counts.create + counts.change + counts.prune;
    if (command === 'diff') return changes > 0 ? 1 : 0;
    // A deploy that changes nothing leaves no revision; a rollback is always one (it says what runs).
    const recorded = changes > 0 || restoring !== undefined;

    if (plan.conflicts.length > 0) {
      io.stderr(`${command} refused: ${plan.conflicts.length} object(s) have fields owned by another field manager (listed above); ` +
        'nothing was changed. Fix: make that manager drop them, or rerun with --force-conflicts to take them over\n');
      return 1;
    }
    if (restoring) {
      const refusals = rollbackRefusals(restoring, plan);
      if (refusals.length > 0) {
        io.stderr(`rollback refused: restoring revision ${restoring.revision} would endanger data; nothing was changed:\n${refusals.map((r) => `  - ${r}`).join('\n')}\n`);
        return 1;
      }
    }
    if (request.dryRun) {
      io.stderr('dry run: nothing was changed\n');
      return 0;
    }
    const prune = request.prune && counts.prune > 0;
    // An environment that asks before pruning asks before any rollback too.
    if (request.confirms && !request.yes && (prune || (restoring && changes > 0))) {
      const what = restoring ? `roll ${environment} back to revision ${restoring.revision}${prune ? `, pruning ${counts.prune} object(s)` : ''}` : `prune ${counts.prune} object(s) from ${environment}`;
      const confirmed = io.confirm ? await io.confirm(`${what} (listed above)? [y/N] `) : undefined;
      if (confirmed !== true) {
        io.stderr(confirmed === undefined
          ? `${command} refused: ${environment} asks before ${restoring ? 'a rollback' : 'pruning'} and there is no terminal to ask on; nothing was changed. Fix: rerun with --yes${restoring ? '' : ', or --no-prune'}\n`
          : `${command} cancelled; nothing was changed\n`);
        return 1;
      }
    }

    if (interrupted) {
      io.stderr('interrupted before any change; nothing was changed\n');
      return 130;
    }
    if (changes > 0) {
      const result = await deploy(cluster, plan, {
        fieldManager: FIELD_MANAGER,
        tooling: request.tooling,
        force: request.force,
        prune: request.prune,
        log: (line) => io.stderr(`${line}\n`),
        interrupted: () => interrupted,
      });
      if (result.interrupted) {
        await record('interrupted');
        return 130;
      }
    } else {
      io.stderr('nothing to apply\n');
    }
    if (!request.wait) {
      if (recorded) await record('applied, not waited for');
      return 0;
    }
    const workloads = manifests.filter(isWorkload);
    let lastLine = '';
    const waited = await waitForRollout(cluster, workloads, {
      timeoutMs: request.timeoutSeconds * 1000,
      interrupted: () => interrupted,
      // A rollback restores versions that served before: their releases are promoted in full.
      promoteRestored: restoring
        ? (object) => io.stderr(`${object}: restoring revision ${restoring.revision}'s version, promoted in full (its steps, pauses and analysis skipped)\n`)
        : undefined,
      progress: (ready, total, pending) => {
        const waiting = pending.filter((p) => !p.awaitingPromotion);
        const paused = pending.filter((p) => p.awaitingPromotion);
        const line = `rollout: ${ready}/${total} workloads ready`
          + `${waiting.length > 0 ? `; waiting for ${waiting.slice(0, 3).map((p) => `${p.object} (${p.detail})`).join(', ')}${waiting.length > 3 ? ', ...' : ''}` : ''}`
          + `${paused.length > 0 ? `; ${paused.length} awaiting promotion (${paused.map((p) => p.object).join(', ')})` : ''}`;
        if (line === lastLine) return;
        lastLine = line;
        io.stderr(io.progressInPlace ? `\r\x1b[K${line}` : `${line}\n`);
      },
    });
    if (io.progressInPlace) io.stderr('\n');
    if (waited.interrupted) {
      io.stderr('interrupted while waiting: everything was applied; the rollout continues on the cluster\n');
      if (recorded) await record('applied, not waited for');
      return 130;
    }
    if (!waited.ok) {
      const details = waited.notReady.map((w) => `  - ${w.object}: ${w.detail}${[...w.events, ...w.containers].map((e) => `\n      ${e}`).join('')}`).join('\n');
      io.stderr(waited.failed
        ? `${command} ${environment}: ${waited.notReady.filter((w) => w.failed).length} workload(s) failed, which waiting will not change; not ready:\n${details}\n`
        : `${command} ${environment}: ${waited.notReady.length} workload(s) did not become ready within ${request.timeoutSeconds} s:\n${details}\n`);
      if (recorded) await record('failed');
      return 1;
    }
    if (waited.awaitingPromotion.length > 0) {
      // Waiting longer would not change them: the deploy ends, and says how each release continues.
      const engines = waited.awaitingPromotion.map((a) => a.object.metadata.name);
      const rolled = workloads.length - engines.length;
      io.stdout(`${command} ${environment}: applied${restoring ? `, revision ${restoring.revision} restored` : ''}, ${rolled} workloads rolled out; `
        + `${engines.length} release(s) paused until a person promotes them (ApplySet: kubectl --applyset=${kubectlApplySetFlag(environment)}):\n`
        + waited.awaitingPromotion.map((a) => `  - ${describeObject(a.object)}: ${a.detail}\n`
          + `    continue: nautilus promote ${environment} ${a.object.metadata.name}   (or stop it: nautilus abort ${environment} ${a.object.metadata.name})\n`).join(''));
      if (recorded) await record('awaiting promotion', engines);
      return 0;
    }
    io.stdout(`${command} ${environment}: done${restoring ? `, revision ${restoring.revision} restored` : ''}, ${workloads.length} workloads rolled out (ApplySet: kubectl --applyset=${kubectlApplySetFlag(environment)})\n`);
    if (recorded) await record('rolled out');
    return 0;
  } finally {
    removeHandler?.();
  }
}
