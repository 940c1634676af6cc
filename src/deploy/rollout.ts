import { Cluster } from './cluster';
import { describeObject, KubeObject, objectKey } from './objects';
import { formatSeconds, promoteFully, remainingPauseSeconds, rollbackPromotes, rolloutReleaseState } from './release';

/** Where a workload's rollout stands. */
export interface RolloutState {
  /** Rolled out and ready. */
  readonly done: boolean;
  /** Will not get there by waiting (a failed Job, a Deployment past its progress deadline, a Degraded Rollout). */
  readonly failed: boolean;
  /**
   * An Argo Rollout paused until a person promotes it (a canary's `pause: {}` step, a blue/green
   * preview without auto-promotion, an inconclusive analysis, a Rollout paused by hand): not done,
   * not failed, and waiting will not change it.
   */
  readonly awaitingPromotion?: boolean;
  /** `2/3 ready, 1/3 updated` or why it is not done. */
  readonly detail: string;
}

interface WorkloadStatus {
  readonly observedGeneration?: number;
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly updatedReplicas?: number;
  readonly availableReplicas?: number;
  readonly currentRevision?: string;
  readonly updateRevision?: string;
  readonly desiredNumberScheduled?: number;
  readonly updatedNumberScheduled?: number;
  readonly numberReady?: number;
  readonly numberAvailable?: number;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly active?: number;
  readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string; readonly message?: string }[];
}

interface WorkloadSpec {
  readonly replicas?: number;
  readonly completions?: number;
  readonly suspend?: boolean;
  readonly updateStrategy?: { readonly type?: string; readonly rollingUpdate?: { readonly partition?: number } };
}

/**
 * Whether a live workload has rolled out, with the rules of kstatus (kubernetes-sigs/cli-utils
 * `pkg/kstatus`): the controller has observed the current generation; Deployments have every
 * replica updated, ready and available and no old ones left; StatefulSets have the replicas
 * above their partition updated and all ready; DaemonSets have every scheduled pod updated and
 * ready; Jobs have succeeded (a failed Job will not get there by waiting). A CronJob has nothing
 * to roll out until its schedule creates a Job, so, as in kstatus and Argo CD, it is current once
 * applied, unless it is suspended: then its schedule never runs, and waiting will not change that.
 * (Its runs are judged by {@link cronJobHealth}, which `status` uses.) An Argo Rollout is judged
 * by {@link rolloutReleaseState}, with `context.workload` the live Deployment it takes its pod
 * template from, if any.
 */
export function rolloutState(object: KubeObject, context: { readonly workload?: KubeObject; readonly now?: number } = {}): RolloutState {
  if (object.kind === 'Rollout') return rolloutReleaseState(object, context);
  const status = (object.status ?? {}) as WorkloadStatus;
  const spec = (object.spec ?? {}) as WorkloadSpec;
  const generation = object.metadata.generation ?? 0;
  // Jobs and CronJobs do not report an observed generation.
  if (object.kind !== 'Job' && object.kind !== 'CronJob' && (status.observedGeneration ?? 0) < generation) {
    return { done: false, failed: false, detail: 'the controller has not observed the new generation yet' };
  }
  const condition = (type: string) => status.conditions?.find((c) => c.type === type);
  switch (object.kind) {
    case 'Deployment': {
      const desired = spec.replicas ?? 1;
      const progressing = condition('Progressing');
      if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
        return { done: false, failed: true, detail: `progress deadline exceeded: ${progressing.message ?? ''}`.trim() };
      }
      const ready = status.readyReplicas ?? 0;
      const updated = status.updatedReplicas ?? 0;
      const available = status.availableReplicas ?? 0;
      const total = status.replicas ?? 0;
      const done = updated >= desired && ready >= desired && available >= desired && total <= desired;
      const old = total > updated ? `, ${total - updated} old` : '';
      return { done, failed: false, detail: `${ready}/${desired} ready, ${updated}/${desired} updated${old}` };
    }
    case 'StatefulSet': {
      const desired = spec.replicas ?? 1;
      const partition = spec.updateStrategy?.type === 'OnDelete' ? desired : (spec.updateStrategy?.rollingUpdate?.partition ?? 0);
      const ready = status.readyReplicas ?? 0;
      const updated = status.updatedReplicas ?? 0;
      const toUpdate = Math.max(0, desired - partition);
      const revisionsDone = partition > 0 || toUpdate === 0 || status.currentRevision === status.updateRevision;
      const done = ready >= desired && updated >= toUpdate && revisionsDone;
      const partitionNote = partition > 0 ? ` (partition ${partition})` : '';
      return { done, failed: false, detail: `${ready}/${desired} ready, ${updated}/${toUpdate} updated${partitionNote}` };
    }
    case 'DaemonSet': {
      const desired = status.desiredNumberScheduled ?? 0;
      const ready = status.numberReady ?? 0;
      const updated = status.updatedNumberScheduled ?? 0;
      return { done: ready >= desired && updated >= desired && (status.numberAvailable ?? 0) >= desired, failed: false, detail: `${ready}/${desired} ready, ${updated}/${desired} updated` };
    }
    case 'Job': {
      const failed = condition('Failed');
      if (failed?.status === 'True') return { done: false, failed: true, detail: `failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim() };
      const completions = spec.completions ?? 1;
      const succeeded = status.succeeded ?? 0;
      const running = status.active ? `, ${status.active} running` : '';
      const retried = status.failed ? `, ${status.failed} failed pod(s)` : '';
      return { done: condition('Complete')?.status === 'True' || succeeded >= completions, failed: false, detail: `${succeeded}/${completions} succeeded${running}${retried}` };
    }
    case 'CronJob':
      return spec.suspend === true
        ? { done: false, failed: true, detail: 'suspended (spec.suspend is true): its schedule does not run. Fix: set spec.suspend to false' }
        : { done: true, failed: false, detail: 'scheduled' };
    default:
      return { done: true, failed: false, detail: 'nothing to wait for' };
  }
}

/** Options of {@link waitForRollout}. */
export interface WaitOptions {
  readonly timeoutMs: number;
  /** Time between two reads of the workloads. */
  readonly intervalMs?: number;
  /** Called after every read with the workloads not done yet. */
  readonly progress?: (ready: number, total: number, pending: readonly { object: string; detail: string; awaitingPromotion?: boolean }[]) => void;
  /** Polled between reads: stop waiting (Ctrl-C). */
  readonly interrupted?: () => boolean;
  /**
   * A rollback's wait: each Rollout that takes up the restored template is promoted in full (see
   * {@link rollbackPromotes}; again if the controller dropped the promotion), so the version that
   * served before returns at once. Called once per Rollout promoted.
   */
  readonly promoteRestored?: (object: string) => void;
}

/** What waiting found: workloads not rolled out, each with its last events; releases paused for a person. */
export interface WaitResult {
  /** Every workload rolled out, but for the releases {@link awaitingPromotion} lists. */
  readonly ok: boolean;
  readonly interrupted: boolean;
  /** Stopped because a workload failed (it will not get there by waiting), before the timeout. */
  readonly failed: boolean;
  readonly notReady: readonly {
    readonly object: string;
    readonly detail: string;
    readonly failed: boolean;
    /** A release paused for a person, among the workloads left at a failure or the timeout. */
    readonly awaitingPromotion: boolean;
    readonly events: readonly string[];
    /** Each container of its pods that is not ready: the kubelet's reason, restarts, and its last log lines. */
    readonly containers: readonly string[];
  }[];
  /** Rollouts paused until a person promotes them, when everything else rolled out (`ok`). */
  readonly awaitingPromotion: readonly { readonly object: KubeObject; readonly detail: string }[];
}

/** Full promotions a rollback sends one Rollout before it leaves it paused for a person. */
const MAX_RESTORE_PROMOTIONS = 3;

/** How long a rollback's wait gives the controller to show what it restores before a paused release counts as paused. */
const RESTORE_SETTLE_MS = 30_000;

/**
 * Reads the workloads until every one has rolled out or is a release paused for a person, one has
 * failed, or the timeout passes; then names each workload left and quotes its last events (and
 * those of its pods). A release paused for a person does not make the wait go on: waiting would
 * not change it, so once the rest is rolled out the wait ends and lists it.
 */
export async function waitForRollout(cluster: Cluster, workloads: readonly KubeObject[], options: WaitOptions): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  // Full promotions sent per Rollout. The controller resets `promoteFull` when it takes up a new
  // template, so one that lands while it does so is lost: the Rollout pauses as if never promoted,
  // and is promoted again (a few times at most).
  const promotions = new Map<string, number>();
  // How long a rollback waits for a paused release to show as a release of the restored version
  // (a Rollout paused for a person on its stable version never will).
  const restoreSettled = Date.now() + RESTORE_SETTLE_MS;
  for (;;) {
    const lives = await Promise.all(workloads.map((workload) => cluster.read(workload)));
    let promotedNow = false;
    if (options.promoteRestored) {
      for (const live of lives) {
        const sent = live ? promotions.get(objectKey(live)) ?? 0 : 0;
        if (!live || !rollbackPromotes(live) || sent >= MAX_RESTORE_PROMOTIONS) continue;
        promotions.set(objectKey(live), sent + 1);
        if (await promoteFully(cluster, live)) {
          if (sent === 0) options.promoteRestored(describeObject(live));
          promotedNow = true;
        }
      }
    }
    // What was read before a promotion is stale (a release just unpaused would read as paused): read again.
    if (promotedNow) continue;
    const byKey = new Map(lives.filter((live): live is KubeObject => live !== undefined).map((live) => [objectKey(live), live]));
    const states = await Promise.all(workloads.map(async (workload, index) => {
      const live = lives[index];
      if (!live) return { workload, state: { done: false, failed: false, detail: 'does not exist' } as RolloutState };
      return { workload, state: rolloutState(live, { workload: await referencedWorkload(cluster, live, byKey) }) };
    }));
    const pending = states.filter((s) => !s.state.done);
    // A rollback waits on for a paused release of a restored version: it promotes it (again) once
    // the controller shows the release (it writes a release's status in steps, so a Rollout can
    // read paused before its new pods' hash shows).
    const waitingFor = pending.filter((s) => !s.state.awaitingPromotion
      || (options.promoteRestored !== undefined && s.workload.kind === 'Rollout' && Date.now() < restoreSettled
        && (promotions.get(objectKey(s.workload)) ?? 0) < MAX_RESTORE_PROMOTIONS));
    options.progress?.(states.length - pending.length, states.length, pending.map((s) => ({
      object: describeObject(s.workload), detail: s.state.detail, ...(s.state.awaitingPromotion ? { awaitingPromotion: true } : {}),
    })));
    const failed = pending.some((s) => s.state.failed);
    const interrupted = options.interrupted?.() ?? false;
    if (waitingFor.length === 0) {
      return { ok: true, interrupted: false, failed: false, notReady: [], awaitingPromotion: pending.map((s) => ({ object: s.workload, detail: s.state.detail })) };
    }
    if (failed || interrupted || Date.now() >= deadline) {
      const pendingLives = pending.map((s) => lives[workloads.indexOf(s.workload)]);
      const notReady = await Promise.all(pending.map(async (s, index) => ({
        object: describeObject(s.workload),
        detail: `${s.state.detail}${pauseAdvice(pendingLives[index], s.state)}`,
        failed: s.state.failed,
        awaitingPromotion: s.state.awaitingPromotion === true,
        events: s.state.awaitingPromotion ? [] : await lastEvents(cluster, s.workload),
        containers: s.state.awaitingPromotion ? [] : await containerReports(cluster, s.workload),
      })));
      return { ok: false, interrupted, failed, notReady, awaitingPromotion: [] };
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
}

/** For a Rollout still going through timed pauses: how long they last in all, which a longer `--timeout` has to cover. */
function pauseAdvice(live: KubeObject | undefined, state: RolloutState): string {
  if (live?.kind !== 'Rollout' || state.failed || state.awaitingPromotion) return '';
  const seconds = remainingPauseSeconds(live);
  return seconds > 0 ? `; its timed pauses still to come last ${formatSeconds(seconds)} (the release goes on; a --timeout that long waits for it)` : '';
}

/** The live workload a Rollout takes its pod template from (`spec.workloadRef`): from `known` when read already. */
async function referencedWorkload(cluster: Cluster, live: KubeObject, known: ReadonlyMap<string, KubeObject>): Promise<KubeObject | undefined> {
  const ref = live.kind === 'Rollout' ? (live.spec as { workloadRef?: { apiVersion: string; kind: string; name: string } } | undefined)?.workloadRef : undefined;
  if (!ref) return undefined;
  const header = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: live.metadata.namespace } };
  return known.get(objectKey(header)) ?? cluster.read(header);
}

/**
 * The names a workload's controller gives its pods: `<deployment or rollout>-<replicaset hash>-<suffix>`,
 * `<statefulset>-<ordinal>`, `<job or daemonset>-<suffix>`. Matching the pattern, rather than the
 * workload's name as a prefix, keeps `redis`'s events apart from `redis-sentinel`'s.
 */
export function podNamePattern(workload: Pick<KubeObject, 'kind' | 'metadata'>): RegExp {
  const name = workload.metadata.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  switch (workload.kind) {
    case 'Deployment':
    case 'Rollout':
      return new RegExp(`^${name}-[a-z0-9]+-[a-z0-9]{5}$`);
    case 'StatefulSet': return new RegExp(`^${name}-\\d+$`);
    default: return new RegExp(`^${name}-[a-z0-9]{5}$`);
  }
}

/**
 * The last few events of a workload and of its pods (where scheduling and probe failures show).
 * Pod events are found by the pods' names, so those of pods already gone (a failed Job's, whose
 * pods the Job controller deletes) are quoted too.
 */
export async function lastEvents(cluster: Cluster, workload: KubeObject, count = 5): Promise<string[]> {
  const namespace = workload.metadata.namespace;
  if (!namespace) return [];
  const own = await cluster.events(namespace, workload.kind, workload.metadata.name);
  const pattern = podNamePattern(workload);
  const podEvents = (await cluster.events(namespace, 'Pod')).filter((event) => pattern.test(event.involvedObject.name ?? ''));
  const time = (event: (typeof own)[number]) => new Date(event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp ?? 0).getTime();
  return [...own, ...podEvents]
    .sort((a, b) => time(a) - time(b))
    .slice(-count)
    .map((event) => `${event.type ?? ''} ${event.reason ?? ''} ${event.involvedObject.kind}/${event.involvedObject.name}: ${event.message ?? ''}`.trim());
}

/** Log lines quoted per container that is not ready: enough for a Node.js stack trace's message. */
const LOG_LINES = 20;
/** Pods whose unready containers are reported per workload; the rest are counted (they usually fail alike). */
const REPORTED_PODS = 3;

/**
 * What the kubelet says about each container of a workload's pods that is not ready: waiting
 * (`CrashLoopBackOff`, `ImagePullBackOff`, `CreateContainerConfigError` with its message) or
 * running unready, how often it restarted and how its last run ended, then the last lines it
 * wrote (those of the run that died, for a container that restarted). The events say that a
 * container is failing; these lines say why.
 */
export async function containerReports(cluster: Cluster, workload: KubeObject): Promise<string[]> {
  const namespace = workload.metadata.namespace;
  if (!namespace) return [];
  const pattern = podNamePattern(workload);
  const pods = (await cluster.pods(namespace)).filter((pod) => pattern.test(pod.metadata?.name ?? ''));
  const unready = pods.filter((pod) => (pod.status?.containerStatuses ?? []).some((status) => !status.ready));
  const reports: string[] = [];
  for (const pod of unready.slice(0, REPORTED_PODS)) {
    const podName = pod.metadata?.name ?? '';
    for (const status of pod.status?.containerStatuses ?? []) {
      if (status.ready) continue;
      const waiting = status.state?.waiting;
      const state = waiting
        ? `waiting: ${waiting.reason ?? 'unknown'}${waiting.message ? ` (${waiting.message})` : ''}`
        : status.state?.running ? 'running, not ready' : `terminated: ${status.state?.terminated?.reason ?? 'unknown'}`;
      const last = status.lastState?.terminated;
      const lastRun = last ? `; last run ended ${last.reason ?? ''} with exit code ${last.exitCode}` : '';
      reports.push(`pod/${podName} container ${status.name}: ${state}, ${status.restartCount} restart(s)${lastRun}`);
      // Between two restarts the run that died is the current one; during the back-off it is the
      // previous one. Whichever has no log (already removed), the other is asked.
      const deadRunIsCurrent = status.state?.terminated !== undefined || status.restartCount === 0;
      let lines = await cluster.containerLog(namespace, podName, status.name, !deadRunIsCurrent, LOG_LINES);
      if (lines.length === 0 && status.restartCount > 0) lines = await cluster.containerLog(namespace, podName, status.name, deadRunIsCurrent, LOG_LINES);
      reports.push(...lines.map((line) => `  | ${line}`));
    }
  }
  if (unready.length > REPORTED_PODS) reports.push(`${unready.length - REPORTED_PODS} more pod(s) with containers not ready`);
  return reports;
}
