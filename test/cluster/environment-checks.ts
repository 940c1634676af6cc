/**
 * The properties an environment's manifests must have once they run on a
 * cluster shaped like the environment model. Each check is a pure function of a
 * {@link ClusterState} snapshot that returns one readable line per problem, so
 * a test asserts `expect(checkX(state)).toEqual([])` and a failure lists every
 * offender; the broken-manifest tests feed the same functions a deliberately
 * broken cluster to prove each one catches what it claims to.
 */
import { V1Container, V1Deployment, V1Node, V1Pod, V1PodDisruptionBudget, V1StatefulSet } from '@kubernetes/client-node';
import { EnvironmentSpec, poolForRole } from '../../src/environments/environment';
import { GPU_RESOURCE, NODE_POOL_LABEL, poolLabels } from '../../src/environments/node-pool-policy';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { environmentPinsCores } from '../../src/planning/plan';
import {
  ClusterState,
  countOf,
  cpuMillicores,
  isDaemonSetPod,
  isReady,
  isTerminal,
  isTerminating,
  nodeNamed,
  objectName,
  podsSelectedBy,
  RolloutObject,
  unscheduledReason,
} from './cluster-state';
import { ZONE_LABEL } from './environment-nodes';

/** Owners whose pods must all run: the long-running workloads (Jobs' pods are checked on their own). */
const WORKLOAD_OWNERS = new Set(['ReplicaSet', 'StatefulSet', 'DaemonSet']);

/** Pods that count as placed workload: not finished and not on their way out. */
function livePods(state: ClusterState): V1Pod[] {
  return state.pods.filter((pod) => !isTerminal(pod) && !isTerminating(pod));
}

/** Node names for messages, `<none>` when unscheduled. */
function where(pod: V1Pod): string {
  return pod.spec?.nodeName ?? '<none>';
}

/** The number of GPUs a node advertises. */
export function nodeGpus(node: V1Node | undefined): number {
  return countOf(node?.status?.capacity, GPU_RESOURCE);
}

/** The number of GPUs a pod asks for (limits, else requests, summed over its containers). */
export function podGpus(pod: V1Pod): number {
  const containers: V1Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return containers.reduce(
    (sum, container) => sum + Math.max(countOf(container.resources?.limits, GPU_RESOURCE), countOf(container.resources?.requests, GPU_RESOURCE)),
    0,
  );
}

/**
 * Every Deployment, Rollout, StatefulSet and DaemonSet has all its replicas
 * Ready, a Deployment or Rollout under an HPA has at least the HPA's
 * minReplicas, a Rollout is Healthy, and every pod they own is scheduled and
 * Ready (the reason is quoted when it is not).
 */
export function checkWorkloadsReady(state: ClusterState): string[] {
  const problems: string[] = [];
  const scaled = [
    ...state.deployments.map((workload) => ({ kind: 'Deployment', workload })),
    ...state.rollouts.map((workload) => ({ kind: 'Rollout', workload })),
  ];
  for (const { kind, workload } of scaled) {
    const hpa = state.horizontalPodAutoscalers.find(
      (h) =>
        h.metadata?.namespace === workload.metadata?.namespace &&
        h.spec?.scaleTargetRef.kind === kind &&
        h.spec.scaleTargetRef.name === workload.metadata?.name,
    );
    const desired = workload.spec?.replicas ?? (kind === 'Rollout' && hpa ? 0 : 1);
    const minReplicas = hpa?.spec?.minReplicas ?? 1;
    if (hpa && desired < minReplicas) {
      problems.push(`${kind} ${objectName(workload)} has ${desired} replicas, fewer than its HPA's minReplicas ${minReplicas}`);
    }
    const ready = workload.status?.readyReplicas ?? 0;
    const updated = workload.status?.updatedReplicas ?? 0;
    if (ready < desired || updated < desired) {
      problems.push(`${kind} ${objectName(workload)}: ${ready}/${desired} replicas Ready, ${updated} up to date`);
    }
    const phase = kind === 'Rollout' ? (workload as RolloutObject).status?.phase : undefined;
    if (kind === 'Rollout' && phase !== 'Healthy') {
      problems.push(`Rollout ${objectName(workload)} is ${phase ?? 'without a phase'}: ${(workload as RolloutObject).status?.message ?? ''}`);
    }
  }
  for (const statefulSet of state.statefulSets) {
    const desired = statefulSet.spec?.replicas ?? 1;
    const ready = statefulSet.status?.readyReplicas ?? 0;
    if (ready < desired) {
      problems.push(`StatefulSet ${objectName(statefulSet)}: ${ready}/${desired} replicas Ready`);
    }
  }
  for (const daemonSet of state.daemonSets) {
    const desired = daemonSet.status?.desiredNumberScheduled ?? 0;
    const ready = daemonSet.status?.numberReady ?? 0;
    if (ready < desired) {
      problems.push(`DaemonSet ${objectName(daemonSet)}: ${ready}/${desired} pods Ready`);
    }
  }
  for (const pod of livePods(state)) {
    if (!pod.metadata?.ownerReferences?.some((owner) => WORKLOAD_OWNERS.has(owner.kind))) {
      continue;
    }
    if (!pod.spec?.nodeName) {
      problems.push(`pod ${objectName(pod)} is not scheduled: ${unscheduledReason(pod)}`);
    } else if (!isReady(pod)) {
      problems.push(`pod ${objectName(pod)} on node ${pod.spec.nodeName} is not Ready`);
    }
  }
  return problems;
}

/** Every claim of every StatefulSet replica exists, is Bound, and its volume has the template's storage class. */
export function checkClaimsBound(state: ClusterState): string[] {
  const problems: string[] = [];
  for (const statefulSet of state.statefulSets) {
    const namespace = statefulSet.metadata?.namespace;
    for (let ordinal = 0; ordinal < (statefulSet.spec?.replicas ?? 1); ordinal++) {
      for (const template of statefulSet.spec?.volumeClaimTemplates ?? []) {
        const name = `${template.metadata?.name}-${statefulSet.metadata?.name}-${ordinal}`;
        const claim = state.persistentVolumeClaims.find((c) => c.metadata?.namespace === namespace && c.metadata?.name === name);
        if (!claim) {
          problems.push(`StatefulSet ${objectName(statefulSet)}: claim ${namespace}/${name} does not exist`);
          continue;
        }
        if (claim.status?.phase !== 'Bound') {
          problems.push(`claim ${objectName(claim)} of StatefulSet ${objectName(statefulSet)} is ${claim.status?.phase ?? 'without a phase'}, not Bound`);
          continue;
        }
        const volume = state.persistentVolumes.find((v) => v.metadata?.name === claim.spec?.volumeName);
        const expectedClass = template.spec?.storageClassName;
        if (expectedClass !== undefined && volume?.spec?.storageClassName !== expectedClass) {
          problems.push(
            `claim ${objectName(claim)} is bound to volume ${claim.spec?.volumeName} of storage class ` +
              `${volume?.spec?.storageClassName ?? '<none>'}, expected ${expectedClass}`,
          );
        }
      }
    }
  }
  return problems;
}

/**
 * GPU pods run on GPU nodes (nodes advertising `nvidia.com/gpu`), and GPU nodes
 * run nothing but GPU pods and DaemonSet pods (the device plugin). A GPU pod
 * the scheduler cannot place (a missing toleration, say) is reported with the
 * scheduler's reason.
 */
export function checkGpuPlacement(state: ClusterState): string[] {
  const problems: string[] = [];
  for (const pod of livePods(state)) {
    const gpus = podGpus(pod);
    const node = nodeNamed(state, pod.spec?.nodeName);
    if (gpus > 0 && !pod.spec?.nodeName) {
      problems.push(`pod ${objectName(pod)} requests ${gpus} ${GPU_RESOURCE} but is not scheduled: ${unscheduledReason(pod)}`);
    } else if (gpus > 0 && nodeGpus(node) === 0) {
      problems.push(`pod ${objectName(pod)} requests ${gpus} ${GPU_RESOURCE} but runs on node ${where(pod)}, which has none`);
    } else if (gpus === 0 && nodeGpus(node) > 0 && !isDaemonSetPod(pod)) {
      problems.push(
        `pod ${objectName(pod)} runs on GPU node ${where(pod)} without requesting ${GPU_RESOURCE}: ` +
          'only GPU workloads and DaemonSets (the device plugin) belong on GPU nodes',
      );
    }
  }
  return problems;
}

/** Every GPU node runs a Ready pod of the NVIDIA device plugin DaemonSet, which advertises its GPUs. */
export function checkDevicePluginOnGpuNodes(state: ClusterState): string[] {
  return state.nodes
    .filter((node) => nodeGpus(node) > 0)
    .filter(
      (node) =>
        !livePods(state).some(
          (pod) =>
            pod.metadata?.namespace === DEVICE_PLUGIN_NAMESPACE && isDaemonSetPod(pod) && pod.spec?.nodeName === node.metadata?.name && isReady(pod),
        ),
    )
    .map((node) => `GPU node ${node.metadata?.name} has no Ready device plugin pod (namespace ${DEVICE_PLUGIN_NAMESPACE})`);
}

/** The pods `checkPinnedPods` holds to the pinned-core rules in `environment`: those of the latency namespace, where cores are pinned. */
export function pinnedPods(state: ClusterState, environment: EnvironmentSpec): V1Pod[] {
  if (!environmentPinsCores(environment)) {
    return [];
  }
  return livePods(state).filter((pod) => pod.metadata?.namespace === NAMESPACE_NAMES.latency);
}

/**
 * Pinned pods (the latency namespace, where the environment's latency pool runs
 * the static CPU manager) are Guaranteed, ask for whole CPUs in every
 * container, and run on nodes of the latency pool that carry its labels (the
 * CPU manager policy among them). Only what the API server and scheduler decide
 * is checked: that the kubelet then hands out exclusive cores is not simulated.
 */
export function checkPinnedPods(state: ClusterState, environment: EnvironmentSpec): string[] {
  const pool = poolForRole(environment, 'latency');
  const problems: string[] = [];
  for (const pod of pinnedPods(state, environment)) {
    const name = objectName(pod);
    if (pod.status?.qosClass !== 'Guaranteed') {
      problems.push(`pinned pod ${name} has QoS class ${pod.status?.qosClass ?? '<none>'}, not Guaranteed: requests must equal limits for cpu and memory`);
    }
    for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      const request = container.resources?.requests?.cpu;
      const millicores = cpuMillicores(request);
      if (!(millicores >= 1000 && millicores % 1000 === 0)) {
        problems.push(`pinned pod ${name}, container ${container.name}: cpu request ${request ?? '<none>'} is not a whole number of CPUs, so no core is pinned`);
      }
    }
    if (!pod.spec?.nodeName) {
      problems.push(`pinned pod ${name} is not scheduled: ${unscheduledReason(pod)}`);
      continue;
    }
    const labels = nodeNamed(state, pod.spec.nodeName)?.metadata?.labels ?? {};
    const expected = pool ? poolLabels(pool) : { [NODE_POOL_LABEL]: '<a latency pool>' };
    const missing = Object.entries(expected).filter(([key, value]) => labels[key] !== value);
    if (missing.length > 0) {
      problems.push(
        `pinned pod ${name} runs on node ${pod.spec.nodeName}, which is not a latency-pool node ` +
          `(missing ${missing.map(([key, value]) => `${key}=${value}`).join(', ')})`,
      );
    }
  }
  return problems;
}

/**
 * The pods of every Deployment and StatefulSet with more than one replica sit in
 * at least min(replicas, zones of the pool they run in) distinct zones, so
 * losing a zone never takes all of them.
 */
export function checkZoneSpread(state: ClusterState, environment: EnvironmentSpec): string[] {
  const problems: string[] = [];
  const workloads = [
    ...state.deployments.map((workload) => ({ kind: 'Deployment', workload })),
    ...state.rollouts.map((workload) => ({ kind: 'Rollout', workload })),
    ...state.statefulSets.map((workload) => ({ kind: 'StatefulSet', workload })),
  ];
  for (const { kind, workload } of workloads) {
    const replicas = workload.spec?.replicas ?? 1;
    if (replicas < 2) {
      continue;
    }
    const pods = podsOf(state, workload);
    const zoneOf = (pod: V1Pod) => nodeNamed(state, pod.spec?.nodeName)?.metadata?.labels?.[ZONE_LABEL] ?? '<unscheduled>';
    const poolNames = new Set(pods.map((pod) => nodeNamed(state, pod.spec?.nodeName)?.metadata?.labels?.[NODE_POOL_LABEL]));
    const pools = environment.nodePools.filter((pool) => poolNames.has(pool.name));
    const poolZones = new Set(pools.length > 0 ? pools.flatMap((pool) => pool.zones) : environment.zones);
    const expected = Math.min(replicas, poolZones.size);
    const zones = new Set(pods.filter((pod) => pod.spec?.nodeName).map(zoneOf));
    if (zones.size < expected) {
      const counts = [...poolZones].map((zone) => `${zone}: ${pods.filter((pod) => zoneOf(pod) === zone).length}`).join(', ');
      problems.push(
        `${kind} ${objectName(workload)}: ${replicas} replicas in ${zones.size} zone(s) (${counts}), ` +
          `expected at least ${expected} of the ${poolZones.size} zone(s) of pool ${[...poolNames].join('/') || '<none>'}`,
      );
    }
  }
  return problems;
}

function podsOf(state: ClusterState, workload: V1Deployment | V1StatefulSet | RolloutObject): V1Pod[] {
  return podsSelectedBy(state, workload.metadata?.namespace, workload.spec?.selector).filter((pod) => !isTerminal(pod) && !isTerminating(pod));
}

function describeBudget(pdb: V1PodDisruptionBudget): string {
  const spec = pdb.spec ?? {};
  return spec.minAvailable !== undefined ? `minAvailable ${spec.minAvailable}` : `maxUnavailable ${spec.maxUnavailable ?? '<unset>'}`;
}

/**
 * Every PDB selects pods, has been observed by the disruption controller and,
 * with all its pods healthy, allows at least one disruption: a PDB whose
 * minAvailable equals the replica count (or maxUnavailable 0) refuses every
 * eviction and blocks node drains and upgrades forever.
 */
export function checkPdbsAllowDrain(state: ClusterState): string[] {
  const problems: string[] = [];
  for (const pdb of state.podDisruptionBudgets) {
    const name = objectName(pdb);
    const pods = podsSelectedBy(state, pdb.metadata?.namespace, pdb.spec?.selector).filter((pod) => !isTerminal(pod));
    if (pods.length === 0) {
      problems.push(`PDB ${name} selects no pods`);
      continue;
    }
    if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata?.generation ?? 1)) {
      problems.push(`PDB ${name} has not been observed by the disruption controller yet`);
      continue;
    }
    const expected = pdb.status?.expectedPods ?? 0;
    const healthy = pdb.status?.currentHealthy ?? 0;
    const allowed = pdb.status?.disruptionsAllowed ?? 0;
    if (allowed < 1 && healthy >= expected) {
      problems.push(
        `PDB ${name} blocks every drain: ${describeBudget(pdb)} with ${expected} pods, all healthy, allows ${allowed} disruptions`,
      );
    } else if (allowed < 1) {
      problems.push(`PDB ${name} allows no disruption: only ${healthy}/${expected} pods healthy (${describeBudget(pdb)})`);
    }
  }
  return problems;
}

/** Every PDB is met: at least its desired number of healthy pods, and no negative disruption allowance. */
export function checkPdbsSatisfied(state: ClusterState): string[] {
  return state.podDisruptionBudgets
    .filter((pdb) => (pdb.status?.currentHealthy ?? 0) < (pdb.status?.desiredHealthy ?? 0) || (pdb.status?.disruptionsAllowed ?? 0) < 0)
    .map(
      (pdb) =>
        `PDB ${objectName(pdb)} is violated: ${pdb.status?.currentHealthy ?? 0} healthy pods, ` +
          `${pdb.status?.desiredHealthy ?? 0} desired (${describeBudget(pdb)})`,
    );
}

/**
 * Every Service with a selector in `namespaces` has at least one ready endpoint
 * in its EndpointSlices, i.e. traffic still has somewhere to go.
 */
export function checkServiceEndpoints(state: ClusterState, namespaces: readonly string[]): string[] {
  const problems: string[] = [];
  for (const service of state.services) {
    const namespace = service.metadata?.namespace ?? '';
    if (!namespaces.includes(namespace) || Object.keys(service.spec?.selector ?? {}).length === 0) {
      continue;
    }
    const slices = state.endpointSlices.filter(
      (slice) => slice.metadata?.namespace === namespace && slice.metadata?.labels?.['kubernetes.io/service-name'] === service.metadata?.name,
    );
    const ready = slices.flatMap((slice) => slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready === true).length;
    if (ready === 0) {
      const selected = podsSelectedBy(state, namespace, { matchLabels: service.spec?.selector });
      problems.push(
        `Service ${objectName(service)} has no ready endpoints (${slices.length} EndpointSlices; ` +
          `${selected.filter(isReady).length}/${selected.length} selected pods Ready)`,
      );
    }
  }
  return problems;
}
