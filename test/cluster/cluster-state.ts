import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  PolicyV1Api,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1EndpointSlice,
  V1LabelSelector,
  V1ObjectMeta,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodDisruptionBudget,
  V1Service,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';

/**
 * A snapshot of everything the environment checks look at, read in one go so
 * that every check of one test sees the same state. The checks are pure
 * functions of it, so a test can also hand them a doctored snapshot.
 */
export interface ClusterState {
  readonly nodes: readonly V1Node[];
  readonly pods: readonly V1Pod[];
  readonly deployments: readonly V1Deployment[];
  readonly statefulSets: readonly V1StatefulSet[];
  readonly daemonSets: readonly V1DaemonSet[];
  readonly cronJobs: readonly V1CronJob[];
  readonly horizontalPodAutoscalers: readonly V2HorizontalPodAutoscaler[];
  readonly podDisruptionBudgets: readonly V1PodDisruptionBudget[];
  readonly persistentVolumeClaims: readonly V1PersistentVolumeClaim[];
  readonly persistentVolumes: readonly V1PersistentVolume[];
  readonly services: readonly V1Service[];
  readonly endpointSlices: readonly V1EndpointSlice[];
  /** Argo Rollouts (none where the CRD is not installed). */
  readonly rollouts: readonly RolloutObject[];
}

/** An Argo Rollout, as the fields the checks share with a Deployment (and its phase). */
export interface RolloutObject {
  readonly metadata?: V1ObjectMeta;
  readonly spec?: { readonly replicas?: number; readonly selector?: V1LabelSelector };
  readonly status?: {
    readonly replicas?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly availableReplicas?: number;
    readonly phase?: string;
    readonly message?: string;
  };
}

/** Every Rollout, or none where the cluster has no Rollout CRD. */
async function listRollouts(kc: KubeConfig): Promise<RolloutObject[]> {
  // Just after its CRD is created the API server answers 429 ("storage is (re)initializing") for
  // a few seconds, with a Retry-After of one second.
  for (let attempt = 1; ; attempt++) {
    try {
      const list = await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' });
      return (list as { items: RolloutObject[] }).items;
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 404) return [];
      if (code !== 429 || attempt >= 30) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Namespaces the control plane itself owns; nothing of the platform lives there. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'default']);

/** Reads a {@link ClusterState} of every namespace except the control plane's own. */
export async function readClusterState(kc: KubeConfig): Promise<ClusterState> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const autoscaling = kc.makeApiClient(AutoscalingV2Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const platform = <T extends { metadata?: { namespace?: string } }>(items: T[]): T[] =>
    items.filter((item) => !SYSTEM_NAMESPACES.has(item.metadata?.namespace ?? ''));
  const [nodes, pods, deployments, statefulSets, daemonSets, cronJobs, hpas, pdbs, pvcs, pvs, services, slices, rollouts] = await Promise.all([
    core.listNode(),
    core.listPodForAllNamespaces(),
    apps.listDeploymentForAllNamespaces(),
    apps.listStatefulSetForAllNamespaces(),
    apps.listDaemonSetForAllNamespaces(),
    batch.listCronJobForAllNamespaces(),
    autoscaling.listHorizontalPodAutoscalerForAllNamespaces(),
    policy.listPodDisruptionBudgetForAllNamespaces(),
    core.listPersistentVolumeClaimForAllNamespaces(),
    core.listPersistentVolume(),
    core.listServiceForAllNamespaces(),
    discovery.listEndpointSliceForAllNamespaces(),
    listRollouts(kc),
  ]);
  return {
    nodes: nodes.items,
    pods: platform(pods.items),
    deployments: platform(deployments.items),
    statefulSets: platform(statefulSets.items),
    daemonSets: platform(daemonSets.items),
    cronJobs: platform(cronJobs.items),
    horizontalPodAutoscalers: platform(hpas.items),
    podDisruptionBudgets: platform(pdbs.items),
    persistentVolumeClaims: platform(pvcs.items),
    persistentVolumes: pvs.items,
    services: platform(services.items),
    endpointSlices: platform(slices.items),
    rollouts: platform(rollouts),
  };
}

/** `namespace/name` of an object, for messages. */
export function objectName(object: { metadata?: { name?: string; namespace?: string } }): string {
  const { name = '?', namespace } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}

/** Whether `selector` (matchLabels and matchExpressions) selects `labels`. An empty selector selects everything. */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const actual = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (actual[key] !== value) {
      return false;
    }
  }
  for (const expression of selector?.matchExpressions ?? []) {
    const has = expression.key in actual;
    const values = expression.values ?? [];
    const ok = {
      In: has && values.includes(actual[expression.key]),
      NotIn: !has || !values.includes(actual[expression.key]),
      Exists: has,
      DoesNotExist: !has,
    }[expression.operator];
    if (!ok) {
      return false;
    }
  }
  return true;
}

/** The pods of `namespace` that `selector` selects. */
export function podsSelectedBy(state: ClusterState, namespace: string | undefined, selector: V1LabelSelector | undefined): V1Pod[] {
  return state.pods.filter((pod) => pod.metadata?.namespace === namespace && selectorMatches(selector, pod.metadata?.labels));
}

/** Whether the pod has finished (a completed Job pod, say) and no longer holds its node. */
export function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Whether the pod is being deleted. */
export function isTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined;
}

/** Whether the pod's Ready condition is True. */
export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false;
}

/** Whether a DaemonSet owns the pod (kubectl drain leaves those alone). */
export function isDaemonSetPod(pod: V1Pod): boolean {
  return pod.metadata?.ownerReferences?.some((owner) => owner.kind === 'DaemonSet') ?? false;
}

/** Why the scheduler has not placed the pod, from its PodScheduled condition. */
export function unscheduledReason(pod: V1Pod): string {
  const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  return condition?.message ?? condition?.reason ?? 'not scheduled yet (no PodScheduled condition)';
}

/** The node called `name`, if any. */
export function nodeNamed(state: ClusterState, name: string | undefined): V1Node | undefined {
  return name === undefined ? undefined : state.nodes.find((node) => node.metadata?.name === name);
}

/** Millicores of a CPU quantity (`2`, `1500m`, `0.5`), or NaN if it is not one. */
export function cpuMillicores(quantity: string | number | undefined): number {
  if (quantity === undefined) {
    return NaN;
  }
  const text = String(quantity);
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  if (!match) {
    return NaN;
  }
  return match[2] === 'm' ? Number(match[1]) : Math.round(Number(match[1]) * 1000);
}

/** A resource quantity as a plain count (`nvidia.com/gpu: "1"`), 0 when absent. */
export function countOf(resources: Readonly<Record<string, string | number>> | undefined, name: string): number {
  const value = resources?.[name];
  return value === undefined ? 0 : Number(value);
}
