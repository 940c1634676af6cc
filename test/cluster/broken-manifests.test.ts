/**
 * Breaking a manifest on purpose makes the named check fail. dist/staging is
 * applied with three manifests broken (the GPU Deployment loses its toleration,
 * a pinned Deployment becomes Burstable, a PDB gets minAvailable = replicas),
 * and a few hand-written broken workloads are added next to it; the real API
 * server, scheduler and controllers produce the broken state and each check of
 * environment-checks.ts must report exactly the broken objects. Two checks whose
 * broken state cannot be produced on purpose get a doctored snapshot instead.
 */
import { V1Deployment, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { STAGING } from '../../src/environments/platform-environments';
import { GPU_RESOURCE, NODE_POOL_LABEL } from '../../src/environments/node-pool-policy';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { ManifestObject } from './apply';
import { ensureControlPlaneBinaries } from './binaries';
import { ClusterState, isReady, objectName, podsSelectedBy } from './cluster-state';
import { checkDrainCompleted, drainNodes, evictPod } from './drain';
import {
  checkClaimsBound,
  checkGpuPlacement,
  checkPdbsAllowDrain,
  checkPdbsSatisfied,
  checkPinnedPods,
  checkServiceEndpoints,
  checkZoneSpread,
} from './environment-checks';
import { applyAll, EnvironmentCluster, settle, startEnvironmentCluster } from './environment-cluster';
import { ZONE_LABEL } from './environment-nodes';

jest.setTimeout(60_000);
const BRING_UP_TIMEOUT_MS = 240_000;
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

beforeAll(async () => {
  // A cold cache compiles Kubernetes (minutes); that must not count against the bring-up bound.
  await ensureControlPlaneBinaries();
}, BUILD_TIMEOUT_MS);

const ENGINES = NAMESPACE_NAMES.engines;
const LATENCY = NAMESPACE_NAMES.latency;
const GPU_TAINT = { key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' };

/** A one-container Deployment of a restricted-compliant pod with the given resources and scheduling. */
function deployment(
  name: string,
  namespace: string,
  options: { replicas?: number; resources: Record<string, Record<string, string>>; nodeSelector?: Record<string, string>; tolerations?: object[] },
): ManifestObject {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
          ...(options.tolerations ? { tolerations: options.tolerations } : {}),
          containers: [
            {
              name,
              image: 'registry.example/broken:1.0.0',
              resources: options.resources,
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

/** The problems of `problems` that name `name`. */
const about = (problems: readonly string[], name: string) => problems.filter((problem) => problem.includes(`/${name}`));

/** The objects of dist/staging this file breaks, and how. */
const BROKEN = {
  gpuWithoutToleration: { kind: 'Deployment', namespace: ENGINES, name: 'ml-inference' },
  burstablePinned: { kind: 'Deployment', namespace: LATENCY, name: 'risk-engine' },
  blockingPdb: { kind: 'PodDisruptionBudget', namespace: ENGINES, name: 'market-data' },
} as const;

/** Replicas of market-data in staging (its HPA's minReplicas): the blocking PDB's minAvailable. */
const MARKET_DATA_REPLICAS = 2;

/** dist/staging with the {@link BROKEN} objects broken; throws if one is missing, so a rename is noticed. */
function breakManifests(manifests: ManifestObject[]): ManifestObject[] {
  const find = (target: { kind: string; namespace: string; name: string }) => {
    const index = manifests.findIndex(
      (o) => o.kind === target.kind && o.metadata?.namespace === target.namespace && o.metadata?.name === target.name,
    );
    if (index < 0) {
      throw new Error(`dist/staging has no ${target.kind} ${target.namespace}/${target.name} to break; update BROKEN`);
    }
    return index;
  };
  const broken = structuredClone(manifests);
  type PodTemplate = { spec: { template: { spec: { tolerations?: unknown[]; containers: { resources: { limits: Record<string, string> } }[] } } } };
  const gpu = broken[find(BROKEN.gpuWithoutToleration)] as unknown as PodTemplate;
  delete gpu.spec.template.spec.tolerations;
  const pinned = broken[find(BROKEN.burstablePinned)] as unknown as PodTemplate;
  pinned.spec.template.spec.containers[0].resources.limits.cpu = '3';
  const pdb = broken[find(BROKEN.blockingPdb)] as unknown as { spec: Record<string, unknown> };
  delete pdb.spec.maxUnavailable;
  pdb.spec.minAvailable = MARKET_DATA_REPLICAS;
  return broken;
}

describe('breaking a manifest of dist/staging on purpose makes the named check fail', () => {
  let cluster: EnvironmentCluster | undefined;
  const kc = () => cluster!.kubeConfig;

  async function apply(objects: ManifestObject[]): Promise<void> {
    const report = await applyAll(kc(), objects, 'nautilus-k8s-broken-manifests');
    expect(report.errors).toEqual([]);
  }

  beforeAll(async () => {
    cluster = await startEnvironmentCluster(STAGING, { transform: breakManifests });
  }, BRING_UP_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  });

  test('the broken manifests are still accepted by the API server: only the checks can catch them', () => {
    expect(cluster!.report.errors).toEqual([]);
  });

  test('checkGpuPlacement: GPU pods without the GPU toleration stay Pending and are reported', async () => {
    const { name } = BROKEN.gpuWithoutToleration;
    // Wait for the scheduler's verdict on both replicas rather than for success.
    const verdicts = (s: ClusterState) => about(checkGpuPlacement(s), name).filter((p) => /untolerated taint/.test(p));
    const { state } = await settle(kc(), (s) => (verdicts(s).length >= 2 ? [] : ['waiting']), 30_000);
    const pending = expect.stringMatching(new RegExp(`^pod ${ENGINES}/${name}-\\S+ requests 1 nvidia.com/gpu but is not scheduled: .*untolerated taint`));
    expect(about(checkGpuPlacement(state), name)).toEqual([pending, pending]);
  });

  test('checkGpuPlacement: a pod that tolerates its way onto a GPU node without asking for a GPU is reported', async () => {
    const name = 'squatter-on-gpu-node';
    await apply([
      deployment(name, ENGINES, {
        nodeSelector: { [NODE_POOL_LABEL]: 'gpu' },
        tolerations: [GPU_TAINT],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
      }),
    ]);
    const { state } = await settle(kc(), (s) => (about(checkGpuPlacement(s), name).length > 0 ? [] : ['waiting']), 30_000);
    expect(about(checkGpuPlacement(state), name)).toEqual([
      expect.stringMatching(new RegExp(`^pod ${ENGINES}/${name}-\\S+ runs on GPU node gpu-eu-west-1[ab]-0 without requesting nvidia.com/gpu`)),
    ]);
  });

  test('checkPinnedPods: pinned pods made Burstable are reported', async () => {
    const { name } = BROKEN.burstablePinned;
    const { state } = await settle(kc(), (s) => (podsOf(s, LATENCY, name).filter(isReady).length >= 2 ? [] : ['waiting']), 30_000);
    const burstable = expect.stringMatching(new RegExp(`^pinned pod ${LATENCY}/${name}-\\S+ has QoS class Burstable, not Guaranteed`));
    expect(about(checkPinnedPods(state, STAGING), name)).toEqual([burstable, burstable]);
  });

  test('checkPinnedPods: fractional CPUs and a pod off the latency pool are reported', async () => {
    const name = 'fractional-pinned';
    await apply([deployment(name, LATENCY, { resources: { requests: { cpu: '1500m', memory: '256Mi' }, limits: { cpu: '1500m', memory: '256Mi' } } })]);
    const { state } = await settle(kc(), (s) => (podsOf(s, LATENCY, name).some(isReady) ? [] : ['waiting']), 30_000);
    expect(about(checkPinnedPods(state, STAGING), name)).toEqual([
      expect.stringMatching(/container fractional-pinned: cpu request 1500m is not a whole number of CPUs/),
      expect.stringMatching(/runs on node general-eu-west-1[abc]-[01], which is not a latency-pool node \(missing nautilus.io\/node-pool=latency/),
    ]);
  });

  test('checkPdbsAllowDrain: a PDB with minAvailable = replicas refuses evictions (429) and blocks a drain', async () => {
    const { name } = BROKEN.blockingPdb;
    // Settled once the HPA has scaled market-data's Rollout up and the disruption controller has
    // seen every pod healthy. The autoscaler finds the Rollout kind only once the controller
    // manager's discovery is refreshed (every 30 s; its CRD came after it started): until then the
    // Rollout runs one pod, which the budget blocks too.
    const blocked = (s: ClusterState) => about(checkPdbsAllowDrain(s), name).some((p) => p.includes(`with ${MARKET_DATA_REPLICAS} pods`));
    const { state } = await settle(kc(), (s) => (blocked(s) ? [] : ['waiting']), 60_000);
    expect(about(checkPdbsAllowDrain(state), name)).toEqual([
      `PDB ${ENGINES}/${name} blocks every drain: minAvailable ${MARKET_DATA_REPLICAS} with ${MARKET_DATA_REPLICAS} pods, all healthy, allows 0 disruptions`,
    ]);

    const [first] = podsOf(state, ENGINES, name);
    const eviction = await evictPod(kc(), ENGINES, first.metadata!.name!);
    expect(eviction.status).toBe(429);
    expect(eviction.message).toMatch(/disruption budget/);

    const drain = await drainNodes(kc(), state, [first.spec!.nodeName!]);
    expect(about(checkDrainCompleted(drain), name)).toEqual([
      expect.stringMatching(new RegExp(`^eviction of pod ${ENGINES}/${name}-\\S+ from node ${first.spec!.nodeName} refused: HTTP 429: .*disruption budget`)),
    ]);
  });

  test('checkServiceEndpoints: a Service whose selector matches no pod is reported', async () => {
    const name = 'orphan-service';
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ENGINES },
        spec: { selector: { 'app.kubernetes.io/name': 'no-such-engine' }, ports: [{ name: 'http', port: 80 }] },
      },
    ]);
    const { state } = await settle(kc(), (s) => (s.endpointSlices.some((slice) => slice.metadata?.labels?.['kubernetes.io/service-name'] === name) ? [] : ['waiting']), 30_000);
    expect(about(checkServiceEndpoints(state, [ENGINES]), name)).toEqual([
      `Service ${ENGINES}/${name} has no ready endpoints (1 EndpointSlices; 0/0 selected pods Ready)`,
    ]);
  });

  test('checkClaimsBound: a claim of a storage class nobody provides stays Pending and is reported', async () => {
    const name = 'unbound-store';
    const labels = { 'app.kubernetes.io/name': name };
    await apply([
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name, namespace: ENGINES },
        spec: {
          replicas: 1,
          serviceName: name,
          selector: { matchLabels: labels },
          template: (deployment(name, ENGINES, { resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } } }).spec as { template: object })
            .template,
          volumeClaimTemplates: [
            { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'no-such-class', resources: { requests: { storage: '1Gi' } } } },
          ],
        },
      },
    ]);
    const { state } = await settle(kc(), (s) => (s.persistentVolumeClaims.some((c) => c.metadata?.name === `data-${name}-0`) ? [] : ['waiting']), 30_000);
    expect(about(checkClaimsBound(state), name)).toEqual([`claim ${ENGINES}/data-${name}-0 of StatefulSet ${ENGINES}/${name} is Pending, not Bound`]);
  });
});

function podsOf(state: ClusterState, namespace: string, name: string): V1Pod[] {
  return podsSelectedBy(state, namespace, { matchLabels: { 'app.kubernetes.io/name': name } });
}

describe('checks over a doctored cluster state', () => {
  const node = (name: string, zone: string): V1Node => ({ metadata: { name, labels: { [ZONE_LABEL]: zone, [NODE_POOL_LABEL]: 'general' } } });
  const labels = { 'app.kubernetes.io/name': 'lopsided' };
  const pod = (name: string, nodeName: string): V1Pod => ({
    metadata: { name, namespace: ENGINES, labels },
    spec: { nodeName, containers: [{ name: 'main' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const deployment: V1Deployment = {
    metadata: { name: 'lopsided', namespace: ENGINES },
    spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels } } },
  };
  const empty: ClusterState = {
    nodes: [], pods: [], deployments: [], statefulSets: [], daemonSets: [], cronJobs: [], horizontalPodAutoscalers: [],
    podDisruptionBudgets: [], persistentVolumeClaims: [], persistentVolumes: [], services: [], endpointSlices: [], rollouts: [],
  };

  test('checkZoneSpread: two replicas in one zone of a three-zone pool are reported', () => {
    const state: ClusterState = {
      ...empty,
      nodes: [node('a-0', 'eu-west-1a'), node('a-1', 'eu-west-1a'), node('b-0', 'eu-west-1b')],
      pods: [pod('lopsided-1', 'a-0'), pod('lopsided-2', 'a-1')],
      deployments: [deployment],
    };
    expect(checkZoneSpread(state, STAGING)).toEqual([
      `Deployment ${ENGINES}/lopsided: 2 replicas in 1 zone(s) (eu-west-1a: 2, eu-west-1b: 0, eu-west-1c: 0), ` +
        'expected at least 2 of the 3 zone(s) of pool general',
    ]);
    const spread = { ...state, pods: [pod('lopsided-1', 'a-0'), pod('lopsided-2', 'b-0')] };
    expect(checkZoneSpread(spread, STAGING)).toEqual([]);
  });

  test('checkPdbsSatisfied: a PDB with fewer healthy pods than desired is reported', () => {
    const pdb: V1PodDisruptionBudget = {
      metadata: { name: 'lopsided', namespace: ENGINES },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
      status: { currentHealthy: 0, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 2 },
    };
    expect(checkPdbsSatisfied({ ...empty, podDisruptionBudgets: [pdb] })).toEqual([
      `PDB ${objectName(pdb)} is violated: 0 healthy pods, 1 desired (maxUnavailable 1)`,
    ]);
  });
});
