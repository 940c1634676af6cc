import { Cluster } from './cluster';
import { describeObject, isWorkload, KubeObject } from './objects';
import { rolloutState } from './rollout';

/** The health of an environment as `nautilus status` prints it. */
export interface EnvironmentStatus {
  /** False when a workload is not rolled out, a pod is pending or a disruption budget is not met. */
  readonly healthy: boolean;
  /** The report, one line per workload, autoscaler, disruption budget and pending pod. */
  readonly lines: readonly string[];
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

/**
 * Reads the live state of the environment's objects: per workload desired/ready/updated
 * replicas, per autoscaler its replicas and each metric's current value against its target, per
 * disruption budget the disruptions it allows, and every pending pod of the environment's
 * namespaces with the scheduler's reason.
 */
export async function environmentStatus(cluster: Cluster, manifests: readonly KubeObject[]): Promise<EnvironmentStatus> {
  const lines: string[] = [];
  let healthy = true;
  const width = Math.max(20, ...manifests.map((m) => describeObject(m).length)) + 2;

  lines.push('WORKLOADS');
  for (const manifest of manifests.filter(isWorkload)) {
    const live = await cluster.read(manifest);
    if (!live) {
      healthy = false;
      lines.push(`  ${describeObject(manifest).padEnd(width)} MISSING`);
      continue;
    }
    const state = rolloutState(live);
    if (!state.done) healthy = false;
    lines.push(`  ${describeObject(manifest).padEnd(width)} ${state.done ? 'ok     ' : state.failed ? 'FAILED ' : 'PENDING'} ${state.detail}`);
  }

  const autoscalers = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler');
  if (autoscalers.length > 0) lines.push('AUTOSCALERS');
  for (const manifest of autoscalers) {
    const live = await cluster.read(manifest);
    if (!live) {
      healthy = false;
      lines.push(`  ${describeObject(manifest).padEnd(width)} MISSING`);
      continue;
    }
    const spec = live.spec as { minReplicas?: number; maxReplicas: number; metrics?: MetricSpec[] };
    const status = (live.status ?? {}) as { currentReplicas?: number; desiredReplicas?: number; currentMetrics?: MetricStatus[]; conditions?: { type: string; status: string; reason?: string }[] };
    const metrics = (spec.metrics ?? []).map((metric) => {
      const name = metric.resource?.name ?? metric.pods?.metric.name ?? metric.type;
      const current = status.currentMetrics?.find((c) => (c.resource?.name ?? c.pods?.metric.name) === name);
      const target = metric.resource?.target.averageUtilization !== undefined ? `${metric.resource.target.averageUtilization}%` : (metric.resource?.target.averageValue ?? metric.pods?.target.averageValue ?? '?');
      const now = current?.resource?.current?.averageUtilization !== undefined ? `${current.resource.current.averageUtilization}%` : (current?.resource?.current?.averageValue ?? current?.pods?.current?.averageValue ?? '<unknown>');
      return `${name} ${now}/${target}`;
    });
    const active = status.conditions?.find((c) => c.type === 'ScalingActive');
    const note = active?.status === 'False' ? ` (not scaling: ${active.reason ?? ''})` : '';
    lines.push(`  ${describeObject(manifest).padEnd(width)} replicas ${status.currentReplicas ?? 0} (min ${spec.minReplicas ?? 1}, max ${spec.maxReplicas}); ${metrics.join(', ')}${note}`);
  }

  const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
  if (budgets.length > 0) lines.push('DISRUPTION BUDGETS');
  for (const manifest of budgets) {
    const live = await cluster.read(manifest);
    const status = (live?.status ?? {}) as { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number };
    const met = live !== undefined && (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0);
    if (!met) healthy = false;
    lines.push(`  ${describeObject(manifest).padEnd(width)} ${met ? 'ok     ' : 'NOT MET'} allows ${status.disruptionsAllowed ?? 0} disruption(s); healthy ${status.currentHealthy ?? 0}, needs ${status.desiredHealthy ?? 0}`);
  }

  const namespaces = [...new Set(manifests.map((m) => m.metadata.namespace).filter((ns): ns is string => !!ns))].sort();
  const pending: string[] = [];
  for (const namespace of namespaces) {
    for (const pod of await cluster.pods(namespace)) {
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
  lines.push(healthy ? 'healthy' : 'UNHEALTHY');
  return { healthy, lines };
}
