import { Cluster, mapConcurrently } from './cluster';
import { describeObject, isWorkload, KubeObject, objectKey } from './objects';
import { latestAnalysisRun, podCounts, releaseVerdict, ROLLOUT_API_VERSION, RolloutSpec } from './release';
import { rolloutState } from './rollout';

/** The health of an environment as `nautilus status` prints it. */
export interface EnvironmentStatus {
  /**
   * False when a workload is not rolled out, a CronJob's last Job failed, an autoscaler cannot
   * scale, a pod is pending or a disruption budget is not met.
   */
  readonly healthy: boolean;
  /** The report, one line per workload, autoscaler, disruption budget and pending pod. */
  readonly lines: readonly string[];
}

/** Options of {@link environmentStatus}. */
export interface StatusOptions {
  /**
   * Do not count an autoscaler whose metrics cannot be read (`ScalingActive=False` with a
   * `FailedGet*Metric` reason) as unhealthy: for clusters without a metrics pipeline yet. It is
   * still shown, marked `ignored`.
   * @default false
   */
  readonly ignoreAutoscalerMetrics?: boolean;
  /** The line on the revision the environment runs (first), and whether it counts as healthy. */
  readonly revision?: { readonly healthy: boolean; readonly line: string };
  /** The environment's name, for the commands the report suggests (`nautilus promote <env> <engine>`). */
  readonly environment?: string;
}

/** One line's verdict: `ok`, `ignored` (a failure the caller chose to tolerate) or a failure word. */
export interface Verdict {
  /** False when the object makes the environment unhealthy. */
  readonly healthy: boolean;
  /** Seven-letter column: `ok     `, `FAILED `, `FAILING`, `ignored`... */
  readonly word: string;
  /** The rest of the line. */
  readonly detail: string;
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

interface MetricStatus {
  readonly type: string;
  readonly resource?: { readonly name: string; readonly current?: { readonly averageUtilization?: number; readonly averageValue?: string } };
  readonly pods?: { readonly metric: { readonly name: string }; readonly current?: { readonly averageValue?: string } };
}

interface MetricSpec {
  readonly type: string;
  readonly resource?: { readonly name: string; readonly target: { readonly averageUtilization?: number; readonly averageValue?: string } };
  readonly pods?: { readonly metric: { readonly name: string }; readonly target: { readonly averageValue?: string } };
}

/** Reasons the HPA controller gives `ScalingActive=False` when a metric cannot be read (pkg/controller/podautoscaler). */
const METRIC_READ_FAILURE = /^FailedGet\w*Metric$/;

/**
 * Whether a live HorizontalPodAutoscaler can scale. The HPA controller sets `AbleToScale=False`
 * when it cannot read or write its target's scale, and `ScalingActive=False` when it cannot
 * compute a replica count (a metric it scales on cannot be read): either way it holds the
 * replicas where they are, so a load peak is not absorbed. `ScalingActive=False` with reason
 * `ScalingDisabled` is the target scaled to zero on purpose, which is not a failure.
 */
export function autoscalerHealth(live: KubeObject, options: StatusOptions = {}): Verdict {
  const spec = live.spec as { minReplicas?: number; maxReplicas: number; metrics?: MetricSpec[] };
  const status = (live.status ?? {}) as { currentReplicas?: number; currentMetrics?: MetricStatus[]; conditions?: Condition[] };
  const metrics = (spec.metrics ?? []).map((metric) => {
    const name = metric.resource?.name ?? metric.pods?.metric.name ?? metric.type;
    const current = status.currentMetrics?.find((c) => (c.resource?.name ?? c.pods?.metric.name) === name);
    const target = metric.resource?.target.averageUtilization !== undefined ? `${metric.resource.target.averageUtilization}%` : (metric.resource?.target.averageValue ?? metric.pods?.target.averageValue ?? '?');
    const now = current?.resource?.current?.averageUtilization !== undefined ? `${current.resource.current.averageUtilization}%` : (current?.resource?.current?.averageValue ?? current?.pods?.current?.averageValue ?? '<unknown>');
    return `${name} ${now}/${target}`;
  });
  const summary = `replicas ${status.currentReplicas ?? 0} (min ${spec.minReplicas ?? 1}, max ${spec.maxReplicas}); ${metrics.join(', ')}`;
  const condition = (type: string) => status.conditions?.find((c) => c.type === type);
  const describe = (c: Condition) => `${c.type}=False ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`;
  const ableToScale = condition('AbleToScale');
  if (ableToScale?.status === 'False') return { healthy: false, word: 'FAILING', detail: `${summary}; cannot scale: ${describe(ableToScale)}` };
  const active = condition('ScalingActive');
  if (active?.status === 'False' && active.reason !== 'ScalingDisabled') {
    const tolerated = options.ignoreAutoscalerMetrics === true && METRIC_READ_FAILURE.test(active.reason ?? '');
    return {
      healthy: tolerated,
      word: tolerated ? 'ignored' : 'FAILING',
      detail: `${summary}; cannot scale: ${describe(active)}${tolerated ? ' (--ignore-autoscaler-metrics)' : ''}`,
    };
  }
  if (active?.status === 'False') return { healthy: true, word: 'ok     ', detail: `${summary}; scaling disabled: its target is scaled to zero` };
  if (!status.conditions?.length) return { healthy: true, word: 'ok     ', detail: `${summary}; not evaluated yet` };
  return { healthy: true, word: 'ok     ', detail: summary };
}

/**
 * How a live CronJob's runs are going, from its status and the Jobs it owns: its last schedule
 * time, last successful time and active Jobs; unhealthy when it is suspended or its most recent
 * Job failed (as Argo CD's CronJob health check judges it), because the work it exists for is not
 * being done.
 */
export function cronJobHealth(live: KubeObject, jobs: readonly KubeObject[]): Verdict {
  const spec = live.spec as { schedule: string; timeZone?: string; suspend?: boolean };
  const status = (live.status ?? {}) as { lastScheduleTime?: string; lastSuccessfulTime?: string; active?: readonly unknown[] };
  const owned = jobs.filter((job) => job.metadata.ownerReferences?.some((owner) => owner.kind === 'CronJob' && owner.uid === live.metadata.uid));
  const started = (job: KubeObject) => new Date((job.status as { startTime?: string } | undefined)?.startTime ?? job.metadata.creationTimestamp ?? 0).getTime();
  const last = [...owned].sort((a, b) => started(a) - started(b) || a.metadata.name.localeCompare(b.metadata.name)).pop();
  const schedule = `schedule "${spec.schedule}"${spec.timeZone ? ` (${spec.timeZone})` : ''}`;
  // Times are whole seconds on the server; a client that parsed them into dates adds `.000`.
  const time = (value: string | undefined) => value?.replace(/\.000Z$/, 'Z') ?? 'never';
  const detail = `${schedule}; last scheduled ${time(status.lastScheduleTime)}; last succeeded ${time(status.lastSuccessfulTime)}; ${status.active?.length ?? 0} active`;
  if (spec.suspend === true) return { healthy: false, word: 'SUSPEND', detail: `${detail}; suspended (spec.suspend is true): its schedule does not run` };
  const failed = (last?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (last && failed) {
    return { healthy: false, word: 'FAILED ', detail: `${detail}; last Job ${last.metadata.name} failed: ${failed.reason ?? ''}${failed.message ? `: ${failed.message}` : ''}` };
  }
  return { healthy: true, word: 'ok     ', detail };
}

/**
 * Reads the live state of the environment's objects: per workload desired/ready/updated
 * replicas (per CronJob its schedule, last runs and active Jobs; per Argo Rollout its phase,
 * canary step, the share on the new version, the stable and new pod template hashes and its
 * latest analysis, see {@link releaseVerdict}), per autoscaler its replicas,
 * each metric's current value against its target and whether it can scale, per disruption budget
 * the disruptions it allows, and every pending pod of the environment's namespaces with the
 * scheduler's reason.
 */
export async function environmentStatus(cluster: Cluster, manifests: readonly KubeObject[], options: StatusOptions = {}): Promise<EnvironmentStatus> {
  const lines: string[] = options.revision ? [options.revision.line] : [];
  let healthy = options.revision?.healthy ?? true;
  const width = Math.max(20, ...manifests.map((m) => describeObject(m).length)) + 2;
  const line = (manifest: KubeObject, verdict: Verdict) => {
    if (!verdict.healthy) healthy = false;
    lines.push(`  ${describeObject(manifest).padEnd(width)} ${verdict.word} ${verdict.detail}`);
  };
  const missing: Verdict = { healthy: false, word: 'MISSING', detail: 'not on the cluster' };
  const workloads = manifests.filter(isWorkload);
  const autoscalers = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler');
  const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
  const namespaces = [...new Set(manifests.map((m) => m.metadata.namespace).filter((ns): ns is string => !!ns))].sort();
  const cronJobNamespaces = [...new Set(workloads.filter((m) => m.kind === 'CronJob').map((m) => m.metadata.namespace ?? ''))];
  const rollouts = workloads.filter((m) => m.kind === 'Rollout' && m.apiVersion === ROLLOUT_API_VERSION);
  const rolloutNamespaces = [...new Set(rollouts.map((m) => m.metadata.namespace ?? ''))];
  const analysisRunsServed = rollouts.length > 0 && (await cluster.served(ROLLOUT_API_VERSION, 'AnalysisRun')) !== undefined;
  // Everything read at once: the objects in one list per kind and namespace, the pods, Jobs and AnalysisRuns per namespace.
  const [live, podsByNamespace, jobsByNamespace, runsByNamespace] = await Promise.all([
    cluster.readAll([...workloads, ...autoscalers, ...budgets]),
    mapConcurrently(namespaces, (namespace) => cluster.pods(namespace)),
    mapConcurrently(cronJobNamespaces, (namespace) => cluster.jobs(namespace)),
    mapConcurrently(analysisRunsServed ? rolloutNamespaces : [], (namespace) => cluster.list(ROLLOUT_API_VERSION, 'AnalysisRun', '', namespace)),
  ]);
  const liveOf = (manifest: KubeObject) => live.get(objectKey(manifest));
  const jobsOf = (namespace: string) => jobsByNamespace[cronJobNamespaces.indexOf(namespace)] ?? [];
  const podsOf = (namespace: string) => podsByNamespace[namespaces.indexOf(namespace)] ?? [];
  const runsOf = (namespace: string) => runsByNamespace[rolloutNamespaces.indexOf(namespace)] ?? [];
  /** The Rollout of the manifests that takes its pod template from a workload, by the workload's key. */
  const templateOf = new Map(rollouts.flatMap((rollout) => {
    const ref = (rollout.spec as RolloutSpec | undefined)?.workloadRef;
    return ref ? [[objectKey({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: rollout.metadata.namespace } }), rollout] as const] : [];
  }));
  const environment = options.environment ?? '<env>';
  const awaiting: string[] = [];

  lines.push('WORKLOADS');
  for (const manifest of workloads) {
    const live = liveOf(manifest);
    if (!live) {
      line(manifest, missing);
    } else if (live.kind === 'CronJob') {
      line(manifest, cronJobHealth(live, jobsOf(live.metadata.namespace ?? '')));
    } else if (live.kind === 'Rollout') {
      const namespace = live.metadata.namespace ?? '';
      const ref = (live.spec as RolloutSpec | undefined)?.workloadRef;
      const workload = ref ? liveOf({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } }) : undefined;
      const verdict = releaseVerdict(live, {
        environment, workload, pods: podCounts(live, podsOf(namespace)), analysisRun: latestAnalysisRun(live, runsOf(namespace)),
      });
      if (verdict.awaitingPromotion) awaiting.push(live.metadata.name);
      line(manifest, verdict);
    } else {
      const state = rolloutState(live);
      const rollout = templateOf.get(objectKey(manifest));
      const template = rollout ? `; holds the pod template of ${describeObject(rollout)}, which runs the pods` : '';
      line(manifest, { healthy: state.done, word: state.done ? 'ok     ' : state.failed ? 'FAILED ' : 'PENDING', detail: `${state.detail}${template}` });
    }
  }

  if (autoscalers.length > 0) lines.push('AUTOSCALERS');
  for (const manifest of autoscalers) {
    const live = liveOf(manifest);
    line(manifest, live ? autoscalerHealth(live, options) : missing);
  }

  if (budgets.length > 0) lines.push('DISRUPTION BUDGETS');
  for (const manifest of budgets) {
    const live = liveOf(manifest);
    const status = (live?.status ?? {}) as { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number };
    const met = live !== undefined && (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0);
    line(manifest, { healthy: met, word: met ? 'ok     ' : 'NOT MET', detail: `allows ${status.disruptionsAllowed ?? 0} disruption(s); healthy ${status.currentHealthy ?? 0}, needs ${status.desiredHealthy ?? 0}` });
  }

  const pending: string[] = [];
  for (const [index, namespace] of namespaces.entries()) {
    for (const pod of podsByNamespace[index]) {
      if (pod.status?.phase !== 'Pending') continue;
      const scheduled = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
      const reason = scheduled?.status === 'False' ? `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? ''}` : 'scheduled, not started';
      pending.push(`  Pod ${namespace}/${pod.metadata?.name}: ${reason.trim()}`);
    }
  }
  if (pending.length > 0) {
    healthy = false;
    lines.push('PENDING PODS', ...pending);
  }
  const paused = awaiting.length > 0 ? `; ${awaiting.length} release(s) awaiting promotion: ${awaiting.map((engine) => `nautilus promote ${environment} ${engine}`).join(', ')}` : '';
  lines.push(`${healthy ? 'healthy' : 'UNHEALTHY'}${paused}`);
  return { healthy, lines };
}
