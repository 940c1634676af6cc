/**
 * Releases driven by the Argo Rollouts controller (argoproj.io/v1alpha1 Rollouts): when a deploy is
 * done waiting for one, how `nautilus status` reports one, and `nautilus promote` and
 * `nautilus abort`, which send the same requests as `kubectl argo rollouts promote` and `abort` of
 * v1.10.1 (pkg/kubectl-argo-rollouts/cmd/{promote,abort}), through client-node.
 *
 * The tool works from the manifests and the live objects only: a Rollout's strategy, steps and
 * Services are read from the Rollout itself.
 */
import type { Cluster } from './cluster';
import { describeObject, KubeObject } from './objects';
import type { RolloutState } from './rollout';

/** apiVersion of Rollouts and AnalysisRuns. */
export const ROLLOUT_API_VERSION = 'argoproj.io/v1alpha1';
/** The label the controller puts on a Rollout's ReplicaSets and pods, and adds to the selectors of the Services it switches. */
export const ROLLOUT_HASH_LABEL = 'rollouts-pod-template-hash';
/** The annotation the controller puts on the Services whose selector it switches (upstream's `ManagedByRolloutsKey`). */
export const MANAGED_BY_ROLLOUTS_ANNOTATION = 'argo-rollouts.argoproj.io/managed-by-rollouts';
/** The generation of the referenced workload the controller last resolved the template from (upstream's `WorkloadGenerationAnnotation`). */
export const WORKLOAD_GENERATION_ANNOTATION = 'rollout.argoproj.io/workload-generation';

/**
 * `object` as the tool applies it over `live`: a Service whose live selector the Argo Rollouts
 * controller switches (it carries {@link MANAGED_BY_ROLLOUTS_ANNOTATION}: a blue/green Rollout's
 * active or preview Service, a canary's stable or canary Service) keeps the controller's
 * {@link ROLLOUT_HASH_LABEL} key. A Service's selector is an atomic map for server-side apply: the
 * controller's patch made it the selector's only owner, so a selector without the key would
 * conflict with it (and, forced, would send the traffic to both versions until the controller put
 * the key back). With the live key the applied selector equals the live one: no conflict and no
 * difference, and the controller stays free to switch it. The controller removes the key and the
 * annotation itself once no Rollout names the Service. (The key is the controller's: a value
 * `object` has for it, from an earlier read, is replaced by the live one.)
 */
export function withControllerSelector(object: KubeObject, live: KubeObject | undefined): KubeObject {
  if (object.kind !== 'Service' || object.apiVersion !== 'v1' || !live?.metadata.annotations?.[MANAGED_BY_ROLLOUTS_ANNOTATION]) return object;
  const hash = (live.spec as { selector?: Record<string, string> } | undefined)?.selector?.[ROLLOUT_HASH_LABEL];
  const spec = object.spec as { selector?: Record<string, string> } | undefined;
  if (hash === undefined || !spec?.selector || spec.selector[ROLLOUT_HASH_LABEL] === hash) return object;
  return { ...object, spec: { ...spec, selector: { ...spec.selector, [ROLLOUT_HASH_LABEL]: hash } } };
}

/** Istio's API group: the mesh routes a canary's weights are set on. */
const ISTIO_NETWORKING = 'networking.istio.io/';

interface DestinationRuleSpec { readonly subsets?: ReadonlyArray<{ readonly name: string; readonly labels?: Record<string, string> }> }
interface VirtualServiceSpec {
  readonly http?: ReadonlyArray<{ readonly name?: string; readonly route?: ReadonlyArray<{ readonly destination: { readonly host: string; readonly subset?: string }; readonly weight?: number }> }>;
}

/**
 * `object` as the deploy tool applies it over `live`, with the fields the Argo Rollouts controller
 * sets kept as the controller has them: a Service's selector key ({@link withControllerSelector});
 * a mesh canary's DestinationRule subsets' {@link ROLLOUT_HASH_LABEL} labels (the rule carries
 * {@link MANAGED_BY_ROLLOUTS_ANNOTATION}); its VirtualService's route weights. Subsets and HTTP
 * routes are atomic lists for server-side apply, which the controller's edit made its own: the
 * manifests' values (every subset unlabelled, all traffic to stable) would conflict with it or,
 * forced, send every request back to the stable version in the middle of a step. With the live
 * values the applied object equals the live one where the controller decides, and the manifests
 * still decide everything else (hosts, subsets' own labels, routes).
 */
export function withControllerFields(object: KubeObject, live: KubeObject | undefined): KubeObject {
  if (!live || !object.apiVersion.startsWith(ISTIO_NETWORKING)) return withControllerSelector(object, live);
  if (object.kind === 'DestinationRule' && live.metadata.annotations?.[MANAGED_BY_ROLLOUTS_ANNOTATION]) {
    const spec = object.spec as DestinationRuleSpec | undefined;
    const liveSubsets = (live.spec as DestinationRuleSpec | undefined)?.subsets ?? [];
    if (!spec?.subsets) return object;
    const subsets = spec.subsets.map((subset) => {
      const hash = liveSubsets.find((l) => l.name === subset.name)?.labels?.[ROLLOUT_HASH_LABEL];
      return hash === undefined ? subset : { ...subset, labels: { ...subset.labels, [ROLLOUT_HASH_LABEL]: hash } };
    });
    return { ...object, spec: { ...spec, subsets } };
  }
  if (object.kind === 'VirtualService') {
    const spec = object.spec as VirtualServiceSpec | undefined;
    const liveHttp = (live.spec as VirtualServiceSpec | undefined)?.http ?? [];
    if (!spec?.http) return object;
    const http = spec.http.map((route) => {
      const liveRoute = liveHttp.find((l) => l.name === route.name);
      if (!liveRoute?.route || !route.route) return route;
      const weightOf = (d: { host: string; subset?: string }) => liveRoute.route!.find((l) => l.destination.host === d.host && l.destination.subset === d.subset)?.weight;
      // Only when the live route splits between the same destinations: anything else is the manifests' to change.
      if (route.route.some((r) => weightOf(r.destination) === undefined)) return route;
      return { ...route, route: route.route.map((r) => ({ ...r, weight: weightOf(r.destination) })) };
    });
    return { ...object, spec: { ...spec, http } };
  }
  return object;
}

/** Whether the controller may have edited `live` since it was read: it is one of the objects {@link withControllerFields} keeps fields of. */
export function controllerEdits(live: KubeObject | undefined): boolean {
  return live !== undefined && (live.metadata.annotations?.[MANAGED_BY_ROLLOUTS_ANNOTATION] !== undefined
    || (live.kind === 'VirtualService' && live.apiVersion.startsWith(ISTIO_NETWORKING)));
}

/** A canary step, as far as the tool reads it. */
export interface CanaryStep {
  readonly setWeight?: number;
  readonly pause?: { readonly duration?: string | number };
  readonly analysis?: unknown;
  readonly experiment?: unknown;
}

/** A Rollout's analysis as its status names it (upstream's `RolloutAnalysisRunStatus`). */
export interface AnalysisRunReference {
  readonly name: string;
  readonly status?: string;
  readonly message?: string;
}

/** The parts of a Rollout's spec the tool reads. */
export interface RolloutSpec {
  readonly replicas?: number;
  readonly paused?: boolean;
  readonly workloadRef?: { readonly apiVersion: string; readonly kind: string; readonly name: string };
  readonly strategy?: {
    readonly canary?: { readonly steps?: readonly CanaryStep[]; readonly stableService?: string; readonly canaryService?: string };
    readonly blueGreen?: {
      readonly activeService?: string;
      readonly previewService?: string;
      readonly autoPromotionEnabled?: boolean;
      readonly autoPromotionSeconds?: number;
    };
  };
}

/** The parts of a Rollout's status the tool reads (`observedGeneration` is a string there). */
export interface RolloutStatus {
  readonly phase?: string;
  readonly message?: string;
  readonly observedGeneration?: string;
  readonly workloadObservedGeneration?: string;
  readonly currentStepIndex?: number;
  readonly currentPodHash?: string;
  readonly stableRS?: string;
  readonly abort?: boolean;
  readonly controllerPause?: boolean;
  readonly promoteFull?: boolean;
  readonly pauseConditions?: readonly { readonly reason: string; readonly startTime?: string }[] | null;
  readonly replicas?: number;
  readonly updatedReplicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
  readonly canary?: { readonly currentBackgroundAnalysisRunStatus?: AnalysisRunReference; readonly currentStepAnalysisRunStatus?: AnalysisRunReference };
  readonly blueGreen?: {
    readonly activeSelector?: string;
    readonly previewSelector?: string;
    readonly prePromotionAnalysisRunStatus?: AnalysisRunReference;
    readonly postPromotionAnalysisRunStatus?: AnalysisRunReference;
  };
}

function specOf(rollout: KubeObject): RolloutSpec {
  return (rollout.spec ?? {}) as RolloutSpec;
}

function statusOf(rollout: KubeObject): RolloutStatus {
  return (rollout.status ?? {}) as RolloutStatus;
}

/** Seconds of a pause step's duration as the controller reads it (`RolloutPause.DurationSeconds`): a number, `"30"`, or a Go duration such as `5m`, `1h30m`. */
export function pauseSeconds(duration: string | number): number | undefined {
  if (typeof duration === 'number') return duration;
  if (/^\d+$/.test(duration)) return Number(duration);
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let seconds = 0;
  let rest = duration;
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(h|ms|m|s)/.exec(rest);
    if (!match) return undefined;
    seconds += Number(match[1]) * units[match[2]];
    rest = rest.slice(match[0].length);
  }
  return Math.floor(seconds);
}

/** `4m10s`, `50s`, `1h2m`. */
export function formatSeconds(total: number): string {
  const seconds = Math.max(0, Math.round(total));
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), seconds % 60];
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

/** What a Rollout waits for when it is paused, and whether only a person can end the wait. */
interface PauseInfo {
  /** A person has to promote (or abort) it: waiting does not end the pause. */
  readonly needsPerson: boolean;
  /** `pause until promoted`, `pause 5m, 3m12s left`, `preview, auto-promotion in 1m`. */
  readonly what: string;
}

/**
 * Why a paused Rollout is paused. Waiting for a person: `spec.paused` (paused by hand), an
 * inconclusive analysis or experiment (the controller pauses and asks), a canary `pause: {}` step,
 * a blue/green preview with `autoPromotionEnabled: false`. A timed canary pause and a blue/green
 * preview with `autoPromotionSeconds` end by themselves.
 */
function pauseInfo(rollout: KubeObject, now: number): PauseInfo | undefined {
  const spec = specOf(rollout);
  const status = statusOf(rollout);
  const conditions = status.pauseConditions ?? [];
  if (spec.paused) return { needsPerson: true, what: 'paused by hand (spec.paused)' };
  const condition = (reason: string) => conditions.find((c) => c.reason === reason);
  if (condition('InconclusiveAnalysisRun')) return { needsPerson: true, what: 'paused: its analysis was inconclusive' };
  if (condition('InconclusiveExperiment')) return { needsPerson: true, what: 'paused: its experiment was inconclusive' };
  const left = (start: string | undefined, seconds: number) => (start ? `, ${formatSeconds(seconds - (now - new Date(start).getTime()) / 1000)} left` : '');
  const stepPause = condition('CanaryPauseStep');
  if (stepPause) {
    const step = spec.strategy?.canary?.steps?.[status.currentStepIndex ?? 0];
    const duration = step?.pause?.duration;
    if (duration === undefined) return { needsPerson: true, what: 'pause until promoted' };
    const seconds = pauseSeconds(duration) ?? 0;
    return { needsPerson: false, what: `pause ${duration}${left(stepPause.startTime, seconds)}` };
  }
  const blueGreenPause = condition('BlueGreenPause');
  if (blueGreenPause) {
    const blueGreen = spec.strategy?.blueGreen ?? {};
    if (blueGreen.autoPromotionEnabled === false) return { needsPerson: true, what: 'preview until promoted' };
    const seconds = blueGreen.autoPromotionSeconds ?? 0;
    return { needsPerson: false, what: `preview, promoted automatically after ${seconds}s${left(blueGreenPause.startTime, seconds)}` };
  }
  if (conditions.length > 0) return { needsPerson: false, what: `paused (${conditions.map((c) => c.reason).join(', ')})` };
  return undefined;
}

/** Seconds of the canary pauses still ahead of the current step (the current one's left included), for a timeout's advice. */
export function remainingPauseSeconds(rollout: KubeObject, now: number = Date.now()): number {
  const steps = specOf(rollout).strategy?.canary?.steps ?? [];
  const status = statusOf(rollout);
  const index = status.currentStepIndex ?? 0;
  let seconds = 0;
  for (const [i, step] of steps.entries()) {
    if (i < index || step.pause?.duration === undefined) continue;
    const duration = pauseSeconds(step.pause.duration) ?? 0;
    const started = i === index ? status.pauseConditions?.find((c) => c.reason === 'CanaryPauseStep')?.startTime : undefined;
    seconds += started ? Math.max(0, duration - (now - new Date(started).getTime()) / 1000) : duration;
  }
  return seconds;
}

/** `step 1/2 (pause until promoted)` for a canary with steps; empty otherwise. */
function stepText(rollout: KubeObject, pause: PauseInfo | undefined): string {
  const steps = specOf(rollout).strategy?.canary?.steps ?? [];
  const index = statusOf(rollout).currentStepIndex;
  if (steps.length === 0 || index === undefined) return '';
  if (index >= steps.length) return `step ${index}/${steps.length}`;
  const step = steps[index];
  const describe = pause?.what
    ?? (step.setWeight !== undefined ? `setWeight ${step.setWeight}` : step.pause ? `pause ${step.pause.duration ?? 'until promoted'}` : step.analysis ? 'analysis' : step.experiment ? 'experiment' : 'step');
  return `step ${index}/${steps.length} (${describe})`;
}

/** The canary weight the current step sets (upstream's `GetCurrentSetWeight`): 0 when aborted, 100 past the last step. */
export function setWeight(rollout: KubeObject): number {
  const status = statusOf(rollout);
  if (status.abort) return 0;
  const steps = specOf(rollout).strategy?.canary?.steps ?? [];
  const index = status.currentStepIndex;
  if (steps.length === 0 || index === undefined || index >= steps.length) return 100;
  for (let i = index; i >= 0; i -= 1) {
    const weight = steps[i].setWeight;
    if (weight !== undefined) return weight;
  }
  return 0;
}

/** `stable 67469f75c7, new 5d8c9f7b6d`, or `on 67469f75c7` when they are one. */
function hashText(status: RolloutStatus): string {
  if (!status.currentPodHash) return '';
  return status.stableRS && status.stableRS !== status.currentPodHash ? `stable ${status.stableRS}, new ${status.currentPodHash}` : `on ${status.currentPodHash}`;
}

/** Ready pods of the Rollout per pod template hash, from its pods (named `<rollout>-<hash>-<suffix>`). */
export interface PodCounts {
  readonly readyByHash: Readonly<Record<string, number>>;
}

/** Counts the ready pods of `rollout` per pod template hash. */
export function podCounts(rollout: KubeObject, pods: readonly { metadata?: { name?: string; labels?: Record<string, string> }; status?: { conditions?: readonly { type: string; status: string }[] } }[]): PodCounts {
  const readyByHash: Record<string, number> = {};
  for (const pod of pods) {
    const hash = pod.metadata?.labels?.[ROLLOUT_HASH_LABEL];
    if (!hash || !pod.metadata?.name?.startsWith(`${rollout.metadata.name}-${hash}-`)) continue;
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    readyByHash[hash] = (readyByHash[hash] ?? 0) + (ready ? 1 : 0);
  }
  return { readyByHash };
}

/**
 * What share of the Rollout runs the new version: for a canary, the ready pods of the new template
 * among the ready pods of the new and the stable one (its Services select both), next to the
 * weight the current step sets; for blue/green, whether the active Service selects the new pods.
 */
function weightText(rollout: KubeObject, pods: PodCounts | undefined): string {
  const spec = specOf(rollout);
  const status = statusOf(rollout);
  const current = status.currentPodHash;
  const stable = status.stableRS;
  if (spec.strategy?.blueGreen) {
    if (!current || current === stable) return '';
    const active = status.blueGreen?.activeSelector;
    const preview = status.blueGreen?.previewSelector;
    const newReady = pods?.readyByHash[current];
    const previewText = preview === current ? `preview on the new pods${newReady !== undefined ? ` (${newReady} ready)` : ''}` : 'preview not switched yet';
    return active === current
      ? `active Service on the new version (100% of traffic), stable ${stable} kept for the switch-back window`
      : `${previewText}, active Service on stable (0% of traffic on the new version)`;
  }
  if (!spec.strategy?.canary || !current || current === stable) return '';
  const set = setWeight(rollout);
  if (pods && stable) {
    const newReady = pods.readyByHash[current] ?? 0;
    const total = newReady + (pods.readyByHash[stable] ?? 0);
    const actual = total > 0 ? Math.floor((newReady * 100) / total) : 0;
    return `canary weight ${actual}% (${newReady} of ${total} ready pods new; step sets ${set}%)`;
  }
  const updated = status.updatedReplicas ?? 0;
  const replicas = status.replicas ?? 0;
  return `canary weight ${set}% (${updated}/${replicas} pods new)`;
}

/**
 * Whether a live Rollout has rolled out, the way `kubectl argo rollouts status` and the controller
 * judge it (`GetRolloutPhase`): the controller has observed the Rollout's generation (a string in
 * its status) and, for a Rollout taking its pod template from a Deployment (`workloadRef`), that
 * Deployment's generation (`workload`, the live one: until the controller has seen its new
 * template, the Rollout still reports the old release Healthy); it is not being unpaused; then
 * `Healthy` is done and `Degraded` (aborted, progress deadline, invalid spec) has failed. A Rollout
 * paused for a person (see {@link pauseInfo}) is `awaitingPromotion`: waiting will not end it.
 * Anything else, a timed pause included, is progressing.
 */
export function rolloutReleaseState(rollout: KubeObject, context: { readonly workload?: KubeObject; readonly now?: number } = {}): RolloutState {
  const status = statusOf(rollout);
  const now = context.now ?? Date.now();
  const unobserved = notObservedYet(rollout, context.workload);
  if (unobserved) return { done: false, failed: false, detail: unobserved };
  const pause = pauseInfo(rollout, now);
  const facts = [stepText(rollout, pause), weightText(rollout, undefined), hashText(status)].filter((part) => part !== '');
  const detail = (head: string) => [head, ...facts].join('; ');
  switch (status.phase) {
    case 'Healthy':
      return { done: true, failed: false, detail: `Healthy, ${status.readyReplicas ?? 0}/${status.replicas ?? 0} ready ${hashText(status)}`.trim() };
    case 'Degraded': {
      const fix = status.abort ? '; the stable version runs. Fix: roll back to the revision before (nautilus rollback), or deploy a fixed version' : '';
      return { done: false, failed: true, detail: `${detail(`${status.abort ? 'aborted' : 'Degraded'}: ${status.message ?? 'no message'}`)}${fix}` };
    }
    case 'Paused':
      if (pause?.needsPerson) return { done: false, failed: false, awaitingPromotion: true, detail: detail(`Paused, awaiting promotion (${pause.what})`) };
      return { done: false, failed: false, detail: detail(`Paused${status.message ? ` (${status.message})` : ''}`) };
    case undefined:
    case '':
      return { done: false, failed: false, detail: 'no phase reported by the Argo Rollouts controller yet' };
    default:
      return { done: false, failed: false, detail: detail(`${status.phase}${status.message ? `: ${status.message}` : ''}`) };
  }
}

/**
 * Why the Rollout's status does not describe its spec and template yet, or undefined when it does:
 * the controller has not observed its generation, not read or not acted on the new pod template of
 * its workload (`workload`: the live one), is unpausing it (the pause conditions cleared by a
 * promote, the controller's pause not yet), or is aborting it (`status.abort` set, not yet Degraded).
 */
function notObservedYet(rollout: KubeObject, workload: KubeObject | undefined): string | undefined {
  const spec = specOf(rollout);
  const status = statusOf(rollout);
  const observed = Number(status.observedGeneration);
  // A non-numeric value is a pre-v0.10 controller's spec hash: nothing to compare (as upstream).
  if (status.observedGeneration === undefined || (Number.isInteger(observed) && observed < (rollout.metadata.generation ?? 0))) {
    return 'the Argo Rollouts controller has not observed the new generation yet';
  }
  if (spec.workloadRef) {
    const resolved = Number(rollout.metadata.annotations?.[WORKLOAD_GENERATION_ANNOTATION]);
    const wanted = workload?.metadata.generation;
    const source = `${spec.workloadRef.kind} ${spec.workloadRef.name}`;
    if (!Number.isInteger(resolved) || (wanted !== undefined && resolved < wanted)) return `the Argo Rollouts controller has not read the new pod template of ${source} yet`;
    if (status.workloadObservedGeneration !== String(resolved)) return `the Argo Rollouts controller has not acted on the new pod template of ${source} yet`;
  }
  if (status.controllerPause && (status.pauseConditions ?? []).length === 0) return 'being unpaused by the Argo Rollouts controller';
  if (status.abort && status.phase !== 'Degraded') return 'being aborted: the Argo Rollouts controller returns it to the stable version';
  return undefined;
}

/** An AnalysisRun, as far as the tool reads it. */
interface AnalysisRunStatus {
  readonly phase?: string;
  readonly message?: string;
  readonly metricResults?: readonly {
    readonly name: string;
    readonly phase?: string;
    readonly message?: string;
    readonly measurements?: readonly { readonly phase?: string; readonly message?: string; readonly value?: string }[];
  }[];
}

/** The message of an AnalysisRun the controller stopped (the release promoted, aborted or finished): it then records it `Successful`. */
const TERMINATED = 'Run Terminated';

/** The AnalysisRun the Rollout's status names (the canary's background or step analysis, blue/green's post- or pre-promotion one). */
export function analysisRunReference(rollout: KubeObject): AnalysisRunReference | undefined {
  const status = statusOf(rollout);
  return status.canary?.currentBackgroundAnalysisRunStatus ?? status.canary?.currentStepAnalysisRunStatus
    ?? status.blueGreen?.postPromotionAnalysisRunStatus ?? status.blueGreen?.prePromotionAnalysisRunStatus;
}

/**
 * The latest analysis of `rollout` among `runs` (the AnalysisRuns of its namespace): the one its
 * status names, else the newest it owns (a finished or aborted release's status names none).
 */
export function latestAnalysisRun(rollout: KubeObject, runs: readonly KubeObject[]): KubeObject | undefined {
  const named = analysisRunReference(rollout)?.name;
  if (named) {
    const found = runs.find((run) => run.metadata.name === named);
    if (found) return found;
  }
  const owned = runs.filter((run) => run.metadata.ownerReferences?.some((owner) => owner.kind === 'Rollout' && (owner.uid === rollout.metadata.uid || owner.name === rollout.metadata.name)));
  const created = (run: KubeObject) => new Date(run.metadata.creationTimestamp ?? 0).getTime();
  return [...owned].sort((a, b) => created(a) - created(b) || a.metadata.name.localeCompare(b.metadata.name)).pop();
}

/**
 * `analysis order-manager-5754574f89-2: Error (Metric "requests" assessed Error due to ...)`: the
 * run's phase and, when it did not succeed, why: the run's message (the controller names the
 * metric that decided), else the first metric that failed, errored or was inconclusive, with its
 * message or its last measurement's. A run terminated before its first measurement (the release
 * was promoted or aborted first) is reported so, not as the `Successful` the controller records.
 */
export function analysisText(rollout: KubeObject, run: KubeObject | undefined): string {
  const reference = analysisRunReference(rollout);
  if (!run) {
    if (!reference) return '';
    if (reference.message === TERMINATED) return `analysis ${reference.name}: terminated before it finished (the release was promoted or aborted)`;
    return `analysis ${reference.name}: ${reference.status || 'Pending'}${reference.message ? ` (${reference.message})` : ''}`;
  }
  const status = (run.status ?? {}) as AnalysisRunStatus;
  const phase = status.phase || 'Pending';
  const metrics = status.metricResults ?? [];
  if (status.message === TERMINATED && phase === 'Successful') {
    const measured = metrics.reduce((count, metric) => count + (metric.measurements ?? []).length, 0);
    return `analysis ${run.metadata.name}: ${measured === 0 ? 'terminated before its first measurement' : `terminated after ${measured} measurement(s), none failed`}`;
  }
  const bad = metrics.find((metric) => ['Failed', 'Error', 'Inconclusive'].includes(metric.phase ?? ''));
  const last = bad?.measurements?.[bad.measurements.length - 1];
  const metricWhy = bad ? `metric "${bad.name}" ${bad.phase}: ${bad.message || last?.message || (last?.value !== undefined ? `measured ${last.value}` : 'no message')}` : '';
  const why = phase === 'Successful' || phase === 'Running' || phase === 'Pending' ? (status.message ? status.message : '') : (status.message || metricWhy);
  return `analysis ${run.metadata.name}: ${phase}${why ? ` (${why})` : ''}`;
}

/** One line of `nautilus status` for a Rollout: its verdict word, whether it counts as healthy, and the rest of the line. */
export interface ReleaseVerdict {
  readonly healthy: boolean;
  readonly word: string;
  readonly detail: string;
  /** Paused until a person promotes it. */
  readonly awaitingPromotion: boolean;
}

/**
 * `nautilus status`'s line for a live Rollout: its phase and message, the canary step
 * (`currentStepIndex`/steps, as the plugin shows it), what share runs the new version, the stable
 * and the new pod template hashes, and the latest analysis. Healthy is `ok`; a release paused for
 * a person is healthy, marked `paused` with the command that continues it; one progressing is
 * `PENDING`; Degraded is unhealthy (`ABORTED` when aborted, with the fix).
 */
export function releaseVerdict(
  rollout: KubeObject,
  context: { readonly environment: string; readonly workload?: KubeObject; readonly pods?: PodCounts; readonly analysisRun?: KubeObject; readonly now?: number },
): ReleaseVerdict {
  const state = rolloutReleaseState(rollout, context);
  const status = statusOf(rollout);
  const pause = pauseInfo(rollout, context.now ?? Date.now());
  const engine = rollout.metadata.name;
  const unobserved = notObservedYet(rollout, context.workload);
  const head = `${status.phase ? `${status.phase}${status.message ? ` (${status.message})` : ''}` : 'no phase yet'}${unobserved ? `, ${unobserved}` : ''}`;
  const parts = [
    head,
    stepText(rollout, pause), weightText(rollout, context.pods), hashText(status), analysisText(rollout, context.analysisRun),
  ].filter((part) => part !== '');
  const line = parts.join('; ');
  if (state.done) return { healthy: true, word: 'ok     ', detail: line, awaitingPromotion: false };
  if (state.awaitingPromotion) {
    return {
      healthy: true, word: 'paused ', awaitingPromotion: true,
      detail: `${line}. Awaiting promotion: nautilus promote ${context.environment} ${engine} (or nautilus abort ${context.environment} ${engine})`,
    };
  }
  if (state.failed) {
    const fix = status.abort
      ? `. The stable version runs; the new one is scaled down. Fix: nautilus rollback ${context.environment} to the revision it came from, or deploy a fixed version`
      : '';
    return { healthy: false, word: status.abort ? 'ABORTED' : 'FAILED ', detail: `${line}${fix}`, awaitingPromotion: false };
  }
  return { healthy: false, word: 'PENDING', detail: line, awaitingPromotion: false };
}

/** The merge patches `kubectl argo rollouts promote` sends: `status` to the status subresource, `spec` to the Rollout; either may be absent. */
export interface PromotePatch {
  readonly spec?: Record<string, unknown>;
  readonly status?: Record<string, unknown>;
  /** For a server without the status subresource (Rollouts before v0.10): spec and status in one patch of the Rollout. */
  readonly unified: Record<string, unknown>;
}

/**
 * The patches of `kubectl argo rollouts promote` (and `--full`) v1.10.1 for `rollout` (its
 * `getPatches`, without the deprecated skip flags). A plain promote unpauses the spec if it is
 * paused and clears the pause conditions; a canary not paused (in the middle of a step) moves to
 * the next step; an inconclusive canary analysis that paused the controller is unpaused and moved
 * on. `full` unpauses and sets `status.promoteFull` unless the current pods are already the stable
 * ones: every remaining step, pause and analysis is skipped.
 */
export function promotePatch(rollout: KubeObject, options: { readonly full?: boolean } = {}): PromotePatch {
  const spec = specOf(rollout);
  const status = statusOf(rollout);
  const unpause = spec.paused ? { paused: false } : undefined;
  if (options.full) {
    return { spec: unpause, status: status.currentPodHash !== status.stableRS ? { promoteFull: true } : undefined, unified: { spec: { paused: false }, status: { promoteFull: true } } };
  }
  const steps = spec.strategy?.canary?.steps ?? [];
  // replicasetutil.GetCurrentCanaryStep: no index without steps; otherwise the status's, or 0.
  const index = spec.strategy?.canary && steps.length > 0 ? (status.currentStepIndex ?? 0) : undefined;
  const next = index === undefined ? undefined : Math.min(index + 1, steps.length);
  const pauseConditions = status.pauseConditions ?? [];
  const inconclusive = spec.strategy?.canary !== undefined && status.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive';
  const unified = { spec: { paused: false }, status: { pauseConditions: null } };
  if (inconclusive && pauseConditions.length > 0 && status.controllerPause) {
    return { spec: unpause, status: next === undefined ? undefined : { pauseConditions: null, controllerPause: false, currentStepIndex: next }, unified };
  }
  if (pauseConditions.length > 0) return { spec: unpause, status: { pauseConditions: null }, unified };
  if (next !== undefined) {
    return { spec: unpause, status: { pauseConditions: null, currentStepIndex: next }, unified: { spec: { paused: false }, status: { pauseConditions: null, currentStepIndex: next } } };
  }
  return { spec: unpause, unified };
}

/** The merge patch `kubectl argo rollouts abort` sends to the status subresource (the Rollout itself without one). */
export const ABORT_PATCH: Readonly<Record<string, unknown>> = { status: { abort: true } };

/**
 * Why promoting `rollout` would do nothing, with the fix; undefined when it would act. A plain
 * promote acts on a paused Rollout, or a canary between steps; `--full` on any release not yet
 * stable. An aborted release stays aborted whatever is promoted (the plugin's promote leaves
 * `status.abort` set).
 */
export function promoteRefusal(rollout: KubeObject, options: { readonly environment: string; readonly full?: boolean }): string | undefined {
  const spec = specOf(rollout);
  const status = statusOf(rollout);
  const name = `${describeObject(rollout)} (engine ${rollout.metadata.name})`;
  const stable = status.currentPodHash !== undefined && status.currentPodHash === status.stableRS;
  if (status.abort) {
    return `${name} was aborted (${status.message ?? 'Degraded'}): a promote does not resume it. Fix: deploy a fixed version, or nautilus rollback ${options.environment} to the one before`;
  }
  if (stable && !spec.paused && (status.pauseConditions ?? []).length === 0) {
    return `${name} has nothing to promote: it is ${status.phase ?? 'not reported yet'} on its stable version ${status.stableRS}, no release in progress. Fix: deploy a new version first (nautilus deploy ${options.environment})`;
  }
  if (options.full) return undefined;
  const patch = promotePatch(rollout);
  if (patch.spec || patch.status) return undefined;
  const waiting = status.blueGreen?.activeSelector === status.currentPodHash
    ? 'its active Service is on the new version already, and it waits for its post-promotion analysis'
    : `it is not paused (${status.phase ?? 'no phase'}${status.message ? `: ${status.message}` : ''}): it pauses for promotion once the new pods are ready`;
  return `${name} has nothing to promote yet: ${waiting}. Fix: wait (nautilus status ${options.environment} shows it), or skip the rest of its release with nautilus promote ${options.environment} ${rollout.metadata.name} --full`;
}

/** Why aborting `rollout` would do nothing, with the fix; undefined when a release is in progress. */
export function abortRefusal(rollout: KubeObject, options: { readonly environment: string }): string | undefined {
  const status = statusOf(rollout);
  const name = `${describeObject(rollout)} (engine ${rollout.metadata.name})`;
  if (status.abort) return `${name} is already aborted (${status.message ?? 'Degraded'}): its stable version ${status.stableRS ?? ''} runs. Nothing to do`.replace(/ {2}/, ' ');
  if (status.currentPodHash !== undefined && status.currentPodHash === status.stableRS) {
    return `${name} has no release in progress to abort: it is ${status.phase ?? 'not reported yet'} on its stable version ${status.stableRS}. Fix: to go back to an earlier version, nautilus rollback ${options.environment}`;
  }
  return undefined;
}

/**
 * The Rollout of `engine` among `manifests`; throws naming the engine and the fix when the
 * manifests have none: no workload of that name (the Rollouts there are listed), or one that rolls
 * out as a Deployment (or StatefulSet, ...) in this environment.
 */
export function findRollout(manifests: readonly KubeObject[], environment: string, engine: string): KubeObject {
  const rollouts = manifests.filter((m) => m.kind === 'Rollout' && m.apiVersion === ROLLOUT_API_VERSION);
  const found = rollouts.filter((m) => m.metadata.name === engine);
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new Error(`${environment} has ${found.length} Rollouts named ${engine} (${found.map(describeObject).join(', ')}); the tool cannot tell which one is meant`);
  const released = rollouts.map((m) => m.metadata.name).sort();
  const releasedText = released.length > 0 ? `its Rollouts are ${released.join(', ')}` : `it has no Rollouts (no engine of ${environment} is released progressively)`;
  const other = manifests.find((m) => m.metadata.name === engine && ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job'].includes(m.kind));
  if (other) {
    return fail(`${engine} rolls out as a ${other.kind} in ${environment} (${describeObject(other)}), not as an Argo Rollout: there is no release to promote or abort; `
      + `nautilus deploy ${environment} waits for it. Fix: name an engine released by a Rollout (${releasedText})`);
  }
  return fail(`no engine "${engine}" in ${environment}'s manifests; ${releasedText}. Fix: check the name (nautilus status ${environment} lists the workloads)`);
}

function fail(message: string): never {
  throw new Error(message);
}

/** What `nautilus promote` or `nautilus abort` asked for. */
export interface ReleaseCommand {
  readonly command: 'promote' | 'abort';
  readonly environment: string;
  readonly engine: string;
  /** promote: `--full`. */
  readonly full: boolean;
  /** The environment's manifests (dist, or its latest recorded revision): where the engine's Rollout is looked up. */
  readonly manifests: readonly KubeObject[];
}

/**
 * `nautilus promote <env> <engine> [--full]` and `nautilus abort <env> <engine>`: finds the
 * engine's Rollout in the manifests, reads the live one, refuses with the reason and the fix when
 * there is nothing to do, and otherwise sends the plugin's merge patches (status subresource
 * first). Returns the line to print. There is no confirmation, in prod either: the command names
 * the environment and the engine, and is itself the person's decision the Rollout paused for.
 */
export async function runRelease(cluster: Cluster, request: ReleaseCommand): Promise<string> {
  const manifest = findRollout(request.manifests, request.environment, request.engine);
  const live = await cluster.read(manifest);
  if (!live) {
    throw new Error(`${describeObject(manifest)} (engine ${request.engine}) is not on the cluster (the Rollout CRD not installed, or never deployed). Fix: nautilus deploy ${request.environment}`);
  }
  const before = rolloutReleaseState(live).detail;
  const gone = () => new Error(`${describeObject(live)} (engine ${request.engine}) disappeared while it was being patched. Fix: nautilus status ${request.environment}`);
  if (request.command === 'abort') {
    const refusal = abortRefusal(live, request);
    if (refusal) throw new Error(refusal);
    // The status subresource first; a server without one (Rollouts before v0.10) takes the Rollout itself.
    if (!(await cluster.mergePatch(live, ABORT_PATCH, 'status')) && !(await cluster.mergePatch(live, ABORT_PATCH))) throw gone();
    return `abort ${request.environment} ${request.engine}: ${describeObject(live)} aborted (was: ${before}); the controller scales the new version down and `
      + `returns everything to the stable one${statusOf(live).stableRS ? ` (${statusOf(live).stableRS})` : ''}. nautilus status ${request.environment} follows it`;
  }
  const refusal = promoteRefusal(live, request);
  if (refusal) throw new Error(refusal);
  if (!(await sendPromote(cluster, live, request.full))) throw gone();
  const what = request.full ? 'fully promoted: every remaining step, pause and analysis is skipped' : 'promoted';
  return `promote ${request.environment} ${request.engine}: ${describeObject(live)} ${what} (was: ${before}). nautilus status ${request.environment} follows it`;
}

/** Sends the plugin's promote patches for `live` (status first, then spec); false when the Rollout is gone. */
async function sendPromote(cluster: Cluster, live: KubeObject, full: boolean): Promise<boolean> {
  const patch = promotePatch(live, { full });
  let body: Record<string, unknown> | undefined = patch.spec ? { spec: patch.spec } : undefined;
  // Status first, then spec, as the plugin; without a status subresource, spec and status in one patch.
  if (patch.status && !(await cluster.mergePatch(live, { status: patch.status }, 'status'))) body = patch.unified;
  return body ? cluster.mergePatch(live, body) : true;
}

/**
 * Whether a rollback should promote `live` in full: it is releasing a version (the controller has
 * taken up the restored template: its pods are not the stable ones), not aborted, and not already
 * promoted in full. A rollback restores a version that served before, so its steps, pauses and
 * analysis are skipped rather than waited for (in prod a person would have to promote it); going
 * back to the stable version itself the controller does at once, with nothing to promote.
 */
export function rollbackPromotes(live: KubeObject): boolean {
  if (live.kind !== 'Rollout') return false;
  const status = statusOf(live);
  return status.currentPodHash !== undefined && status.stableRS !== undefined && status.currentPodHash !== status.stableRS
    && status.abort !== true && status.promoteFull !== true;
}

/** Promotes `live` in full (see {@link rollbackPromotes}); false when it is gone. */
export function promoteFully(cluster: Cluster, live: KubeObject): Promise<boolean> {
  return sendPromote(cluster, live, true);
}
