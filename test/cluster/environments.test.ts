/**
 * Every environment of src/environments, on a real control plane whose fake
 * nodes are generated from the environment model: dist/<env>/ must apply
 * cleanly, run, and survive losing a zone. See test/cluster/README.md.
 */
import { KubeConfig, V1Node, V1Pod } from '@kubernetes/client-node';
import { TIMESCALEDB_PATRONI } from '../../src/catalog/data-stores';
import { EnvironmentSpec } from '../../src/environments/environment';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { NODE_POOL_LABEL } from '../../src/environments/node-pool-policy';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { environmentPinsCores } from '../../src/planning/plan';
import { applyAll } from './environment-cluster';
import { ManifestObject, kubeRequest } from './apply';
import { ensureArgoRollouts } from './argo-rollouts';
import { ensureControlPlaneBinaries } from './binaries';
import {
  ClusterState,
  isDaemonSetPod,
  isReady,
  isTerminal,
  isTerminating,
  nodeNamed,
  objectName,
  podsSelectedBy,
  readClusterState,
  selectorMatches,
  unscheduledReason,
} from './cluster-state';
import { cordon, drainNodes, evictPod } from './drain';
import {
  checkClaimsBound,
  checkDevicePluginOnGpuNodes,
  checkGpuPlacement,
  checkPdbsAllowDrain,
  checkPdbsSatisfied,
  checkPinnedPods,
  checkServiceEndpoints,
  checkWorkloadsReady,
  checkZoneSpread,
  nodeGpus,
  pinnedPods,
  podGpus,
} from './environment-checks';
import { EnvironmentCluster, settle, Settled, startEnvironmentCluster } from './environment-cluster';
import { poolNode, ZONE_LABEL } from './environment-nodes';
import { createFakeNodes } from './fake-nodes';

// Each step is bounded on its own; the whole file takes about a minute per
// environment on 2 cores (see the README). Only a cold binary cache is slower.
jest.setTimeout(120_000);
const BRING_UP_TIMEOUT_MS = 240_000;
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;
const ROLLOUT_TIMEOUT_MS = 90_000;

/** Namespaces whose Services are engines (the data stores' are single-replica; see the drain test). */
const ENGINE_NAMESPACES = [NAMESPACE_NAMES.latency, NAMESPACE_NAMES.engines];

function log(environment: EnvironmentSpec, message: string): void {
  process.stderr.write(`[cluster ${environment.name}] ${message}\n`);
}

const testIf = (condition: boolean) => (condition ? test : test.skip);

beforeAll(async () => {
  // A cold cache compiles Kubernetes and the Argo Rollouts controller (minutes); that must not
  // count against the bring-up bound.
  await ensureControlPlaneBinaries();
  await ensureArgoRollouts();
}, BUILD_TIMEOUT_MS);

describe.each(PLATFORM_ENVIRONMENTS.map((environment) => [environment.name, environment] as const))('environment %s', (name, environment) => {
  let started = 0;
  let cluster: EnvironmentCluster | undefined;
  let rollout: Promise<Settled> | undefined;
  const distCount = (kind: string) => cluster?.manifests.filter((object) => object.kind === kind).length ?? NaN;
  const kc = () => {
    if (!cluster) {
      throw new Error(`the ${name} cluster did not come up; see the first failure`);
    }
    return cluster.kubeConfig;
  };
  /** The state once every workload is Ready (or the rollout bound passed), read once and shared. */
  const rolledOut = () => (rollout ??= settle(kc(), checkWorkloadsReady, ROLLOUT_TIMEOUT_MS));

  beforeAll(async () => {
    started = Date.now();
    cluster = await startEnvironmentCluster(environment);
    const phases = Object.entries(cluster.timings).map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)}s`);
    log(environment, `up: ${phases.join(', ')}`);
  }, BRING_UP_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
    log(environment, `done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  });

  test(`applies all of dist/${name}/ with strict field validation, without errors or warnings`, () => {
    const { report, manifests } = cluster!;
    expect({ errors: report.errors, warnings: report.warnings }).toEqual({ errors: [], warnings: [] });
    expect(report.applied).toBe(manifests.length);
  });

  test('runs every Deployment, Rollout, StatefulSet and DaemonSet pod, scheduled and Ready', async () => {
    const before = Date.now();
    const { state, problems } = await rolledOut();
    log(environment, `rollout settled in ${((Date.now() - before) / 1000).toFixed(1)}s, ${state.pods.length} pods`);
    expect(problems).toEqual([]);
    expect(state.deployments.length).toBe(distCount('Deployment'));
    // Rollouts (staging, prod) run their pods through the real Argo Rollouts controller.
    expect(state.rollouts.length).toBe(distCount('Rollout'));
    expect(state.statefulSets.length).toBe(distCount('StatefulSet'));
    expect(state.daemonSets.length).toBe(distCount('DaemonSet'));
  });

  test('binds every StatefulSet claim to a volume of its storage class', async () => {
    await rolledOut();
    const { state, problems } = await settle(kc(), checkClaimsBound, 30_000);
    expect(problems).toEqual([]);
    expect(cluster!.binder.errors).toEqual([]);
    expect(state.persistentVolumeClaims.length).toBeGreaterThan(0);
  });

  test('keeps GPU nodes for GPU pods and the device plugin', async () => {
    const { state } = await rolledOut();
    expect(checkGpuPlacement(state)).toEqual([]);
    expect(checkDevicePluginOnGpuNodes(state)).toEqual([]);
    const hasGpuPool = environment.nodePools.some((pool) => (pool.instance.gpus ?? 0) > 0);
    const gpuPods = state.pods.filter((pod) => podGpus(pod) > 0);
    expect(gpuPods.length > 0).toBe(hasGpuPool);
  });

  test('gives pinned pods Guaranteed QoS and whole CPUs, on latency-pool nodes', async () => {
    const { state } = await rolledOut();
    expect(checkPinnedPods(state, environment)).toEqual([]);
    // Guard against passing vacuously: where cores are pinned, there are pinned pods.
    expect(pinnedPods(state, environment).length > 0).toBe(environmentPinsCores(environment));
  });

  test('spreads the pods of every multi-replica Deployment and StatefulSet (the TimescaleDB members) across the zones of its pool', async () => {
    const { state } = await rolledOut();
    expect(checkZoneSpread(state, environment)).toEqual([]);
  });

  test('covers every multi-replica Deployment and StatefulSet with a PodDisruptionBudget that allows a drain', async () => {
    await rolledOut();
    const { state, problems } = await settle(kc(), checkPdbsAllowDrain, 30_000);
    expect(problems).toEqual([]);
    const uncovered = [...state.deployments, ...state.statefulSets]
      .filter((deployment) => (deployment.spec?.replicas ?? 1) > 1)
      .filter(
        (deployment) =>
          !state.podDisruptionBudgets.some(
            (pdb) =>
              pdb.metadata?.namespace === deployment.metadata?.namespace &&
              selectorMatches(pdb.spec?.selector, deployment.spec?.template.metadata?.labels),
          ),
      )
      .map(objectName);
    expect(uncovered).toEqual([]);
  });

  testIf(environment.nodePools.some((pool) => (pool.instance.gpus ?? 0) > 0))(
    'defines the training CronJob, and a Job created from it runs on a GPU node',
    async () => {
      await rolledOut();
      const cronJobs = cluster!.manifests.filter((object) => object.kind === 'CronJob');
      expect(cronJobs.length).toBeGreaterThan(0);
      const state = await readClusterState(kc());
      expect(state.cronJobs.map(objectName).sort()).toEqual(cronJobs.map((object) => `${object.metadata?.namespace}/${object.metadata?.name}`).sort());

      for (const cronJob of cronJobs) {
        const pod = await runJobFromCronJob(cluster!, cronJob);
        const after = await readClusterState(kc());
        expect(nodeGpus(nodeNamed(after, pod.spec?.nodeName))).toBeGreaterThan(0);
        expect(checkGpuPlacement(after)).toEqual([]);
      }
    },
  );

  testIf(environment.zones.length > 1)(
    'survives draining a zone: evictions honour PDBs, every PDB stays satisfied, every engine Service and the TimescaleDB primary keep ready endpoints',
    async () => {
      await rolledOut();
      const state = await readClusterState(kc());
      const zone = zoneToDrain(state, environment);
      const primary = await labelTimescaleDbRoles(kc(), state, zone);
      log(environment, `TimescaleDB primary (role label) on ${primary ?? '<single member: no roles>'}; draining ${zone}`);
      const nodes = state.nodes.filter((node) => node.metadata?.labels?.[ZONE_LABEL] === zone).map((node) => node.metadata!.name!);
      const result = await drainNodes(kc(), state, nodes);
      log(
        environment,
        `drained ${zone} (${nodes.length} nodes): ${result.evicted.length} evicted ` +
          `(${result.evicted.map((outcome) => outcome.pod).join(', ')}), ${result.refused.length} refused` +
          result.refused.map((outcome) => `\n  refused ${outcome.pod}: HTTP ${outcome.status} ${outcome.message}`).join(''),
      );
      expect(result.evicted.length).toBeGreaterThan(0);
      // A single pass: what a PDB forbids is refused with 429, and nothing fails otherwise.
      expect(result.refused.filter((outcome) => outcome.status !== 429)).toEqual([]);

      const leftOnDrainedNodes = (s: ClusterState) =>
        s.pods
          .filter((pod) => nodes.includes(pod.spec?.nodeName ?? '') && !isDaemonSetPod(pod) && !isTerminal(pod))
          .filter((pod) => !result.refused.some((outcome) => outcome.pod === objectName(pod)))
          .map((pod) => `evicted pod ${objectName(pod)} is still on drained node ${pod.spec?.nodeName}`);
      // The general pool is sized to hold its tier in the zones left, and cordoned nodes do not
      // count as a zone for topology spread: its Deployments must come back to full strength.
      // (The latency, GPU and storage pools have one node per zone: their replacements wait.)
      const generalPoolRecovered = (s: ClusterState) =>
        checkWorkloadsReady({
          ...s,
          deployments: s.deployments.filter((d) => !d.spec?.template.spec?.affinity),
          pods: s.pods.filter((p) => !p.spec?.affinity),
          statefulSets: [],
          daemonSets: [],
        });
      // With two or more members, the drain takes at most one (the PDB) and the primary's Service
      // keeps its endpoint.
      const primaryServing = (s: ClusterState) =>
        primary ? checkServiceEndpoints({ ...s, services: s.services.filter((svc) => objectName(svc) === `${NAMESPACE_NAMES.data}/timescaledb`) }, [NAMESPACE_NAMES.data]) : [];
      const after = await settle(
        kc(),
        (s) => [
          ...leftOnDrainedNodes(s), ...checkPdbsSatisfied(s), ...checkServiceEndpoints(s, ENGINE_NAMESPACES), ...generalPoolRecovered(s),
          ...primaryServing(s),
        ],
        60_000,
      );
      if (primary) {
        const members = podsSelectedBy(after.state, NAMESPACE_NAMES.data, { matchLabels: { 'app.kubernetes.io/name': 'timescaledb' } });
        expect(members.filter((pod) => isReady(pod) && !isTerminating(pod)).length).toBeGreaterThanOrEqual(environment.timescaledb.members - 1);
        expect(members.find((pod) => objectName(pod) === primary)?.spec?.nodeName).toBeDefined();
      }
      const pending = after.state.pods.filter((pod) => !pod.spec?.nodeName && !isTerminal(pod));
      log(
        environment,
        `after the drain ${pending.length} replacement pods wait for a node` +
          pending.map((pod) => `\n  ${objectName(pod)}: ${unscheduledReason(pod)}`).join(''),
      );
      expect(after.problems).toEqual([]);
    },
  );

  testIf(environment.replicas !== 'single')('refuses an eviction that would break a PodDisruptionBudget (HTTP 429)', async () => {
    await rolledOut();
    const target = await pdbWithoutHeadroom(cluster!);
    const { status, message } = await evictPod(kc(), target.namespace, target.pod);
    expect({ pod: `${target.namespace}/${target.pod}`, pdb: target.pdb, status }).toEqual({
      pod: `${target.namespace}/${target.pod}`,
      pdb: target.pdb,
      status: 429,
    });
    expect(message).toMatch(/disruption budget/);
  });

  test('leaves the PersistentVolumeClaims in place when a StatefulSet is deleted', async () => {
    await rolledOut();
    const before = await readClusterState(kc());
    expect(before.statefulSets.length).toBeGreaterThan(0);
    const claimsOf = (s: ClusterState) =>
      before.statefulSets.flatMap((sts) =>
        (sts.spec?.volumeClaimTemplates ?? []).flatMap((template) =>
          Array.from({ length: sts.spec?.replicas ?? 1 }, (_, ordinal) => `${sts.metadata?.namespace}/${template.metadata?.name}-${sts.metadata?.name}-${ordinal}`),
        ),
      ).map((claim) => ({ claim, found: s.persistentVolumeClaims.find((c) => objectName(c) === claim) }));
    expect(claimsOf(before).filter(({ found }) => found?.status?.phase !== 'Bound').map(({ claim }) => claim)).toEqual([]);

    for (const sts of before.statefulSets) {
      const response = await kubeRequest(kc(), `/apis/apps/v1/namespaces/${sts.metadata?.namespace}/statefulsets/${sts.metadata?.name}`, {
        method: 'DELETE',
        query: { propagationPolicy: 'Background' },
      });
      expect(response.status).toBe(200);
    }
    // Wait until the garbage collector has removed the pods too: that is when owned claims would go.
    const gone = await settle(
      kc(),
      (s) => [
        ...s.statefulSets.map((sts) => `StatefulSet ${objectName(sts)} still exists`),
        ...s.pods
          .filter((pod) => pod.metadata?.ownerReferences?.some((owner) => owner.kind === 'StatefulSet'))
          .map((pod) => `pod ${objectName(pod)} still exists`),
      ],
      30_000,
    );
    expect(gone.problems).toEqual([]);
    const left = claimsOf(gone.state);
    expect(left.filter(({ found }) => !found || found.metadata?.deletionTimestamp).map(({ claim }) => claim)).toEqual([]);
    expect(left.filter(({ found }) => found?.status?.phase !== 'Bound').map(({ claim }) => claim)).toEqual([]);
  });
});

/**
 * Plays Patroni's part in labelling, which kwok cannot (no container runs): with two or more
 * TimescaleDB members, the one outside the zone about to be drained is labelled `role=primary`
 * and the others `role=replica`, as Patroni keeps them. Returns the primary pod, or undefined for
 * a single member. That Patroni really moves the label when a primary dies is shown by
 * timescaledb-failover.test.ts; here the drain shows that the PDB leaves the primary and a replica up.
 */
async function labelTimescaleDbRoles(kc: KubeConfig, state: ClusterState, drainedZone: string): Promise<string | undefined> {
  const members = podsSelectedBy(state, NAMESPACE_NAMES.data, { matchLabels: { 'app.kubernetes.io/name': 'timescaledb' } })
    .filter((pod) => !isTerminal(pod))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  if (members.length < 2) return undefined;
  const zoneOf = (pod: V1Pod) => nodeNamed(state, pod.spec?.nodeName)?.metadata?.labels?.[ZONE_LABEL];
  const primary = members.find((pod) => zoneOf(pod) !== drainedZone) ?? members[0];
  for (const pod of members) {
    const role = pod === primary ? TIMESCALEDB_PATRONI.primaryRole : TIMESCALEDB_PATRONI.replicaRole;
    const response = await kubeRequest(kc, `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ metadata: { labels: { [TIMESCALEDB_PATRONI.roleLabel]: role } } }),
    });
    if (response.status !== 200) throw new Error(`labelling ${objectName(pod)} ${role} failed: HTTP ${response.status} ${response.body}`);
  }
  return objectName(primary);
}

/**
 * The zone to drain: the one with the most pods to evict, so that the drain
 * reaches as many pools as possible (in staging the two data stores sit in the
 * two zones that also hold the latency and GPU pools). On a tie, a zone without
 * data-store pods. The data stores are single-replica (a documented HA
 * limitation) and have no PDB, so draining their zone evicts them and their
 * replacement waits for its zonal volume; that is why the endpoint assertion
 * covers the engine namespaces only.
 */
function zoneToDrain(state: ClusterState, environment: EnvironmentSpec): string {
  const zoneOfPod = (pod: V1Pod) => nodeNamed(state, pod.spec?.nodeName)?.metadata?.labels?.[ZONE_LABEL];
  const dataZones = new Set(state.pods.filter((pod) => pod.metadata?.namespace === NAMESPACE_NAMES.data).map(zoneOfPod));
  const evictable = (zone: string) => state.pods.filter((pod) => zoneOfPod(pod) === zone && !isDaemonSetPod(pod) && !isTerminal(pod)).length;
  const rank = (zone: string) => evictable(zone) * 2 + (dataZones.has(zone) ? 0 : 1);
  return [...environment.zones].sort((a, b) => rank(b) - rank(a))[0];
}

/**
 * A PDB that currently allows no disruption, with a Ready pod it protects.
 * After the zone drain, Deployments whose replacement pods cannot be placed
 * (topology spread, host ports) have one. Otherwise one is made: every node is
 * cordoned, so one permitted eviction leaves the replacement Pending and the
 * PDB without headroom.
 */
async function pdbWithoutHeadroom(cluster: EnvironmentCluster): Promise<{ namespace: string; pod: string; pdb: string }> {
  const kc = cluster.kubeConfig;
  const find = (state: ClusterState, wantAllowed: (allowed: number) => boolean) => {
    for (const pdb of state.podDisruptionBudgets) {
      const observed = (pdb.status?.observedGeneration ?? 0) >= (pdb.metadata?.generation ?? 1);
      const ready = podsSelectedBy(state, pdb.metadata?.namespace, pdb.spec?.selector).filter((pod) => isReady(pod) && !isTerminating(pod));
      if (observed && wantAllowed(pdb.status?.disruptionsAllowed ?? 0) && ready.length > 0) {
        return { namespace: pdb.metadata!.namespace!, pod: ready[0].metadata!.name!, pdb: objectName(pdb) };
      }
    }
    return undefined;
  };
  const state = await readClusterState(kc);
  const existing = find(state, (allowed) => allowed === 0);
  if (existing) {
    log(cluster.environment, `PDB ${existing.pdb} has no headroom left after the drain; evicting ${existing.namespace}/${existing.pod}`);
    return existing;
  }
  log(cluster.environment, 'no PDB without headroom after the drain; cordoning every node to make one');
  for (const node of state.nodes) {
    await cordon(kc, node.metadata!.name!);
  }
  const victim = find(state, (allowed) => allowed > 0);
  if (!victim) {
    throw new Error('no PodDisruptionBudget with a Ready pod to test an eviction against');
  }
  const first = await evictPod(kc, victim.namespace, victim.pod);
  if (first.status !== 201) {
    throw new Error(`the first eviction of ${victim.namespace}/${victim.pod} (PDB ${victim.pdb}) was refused: HTTP ${first.status} ${first.message}`);
  }
  const settled = await settle(kc, (s) => (find(s, (allowed) => allowed === 0) ? [] : ['waiting for a PDB without headroom']), 30_000);
  const target = find(settled.state, (allowed) => allowed === 0);
  if (!target) {
    throw new Error(`no PDB ran out of headroom after evicting ${victim.namespace}/${victim.pod}`);
  }
  return target;
}

/**
 * Creates a Job from the CronJob's template, as `kubectl create job --from=cronjob/...`
 * does, and returns its pod once scheduled. At rest the GPU pool may have no
 * free GPU (in staging the inference replicas hold them all): then, as
 * Karpenter would within the pool's maxNodes, one more node of the pool is
 * added first. (Adding it after the pod has been found unschedulable would
 * leave the pod to the scheduler's retry back-off.)
 */
async function runJobFromCronJob(cluster: EnvironmentCluster, cronJob: ManifestObject): Promise<V1Pod> {
  const kc = cluster.kubeConfig;
  const namespace = cronJob.metadata!.namespace!;
  const cronJobName = cronJob.metadata!.name!;
  const live = JSON.parse((await kubeRequest(kc, `/apis/batch/v1/namespaces/${namespace}/cronjobs/${cronJobName}`)).body) as {
    metadata: { uid: string };
  };
  const template = (cronJob as unknown as { spec: { jobTemplate: { metadata?: { labels?: Record<string, string> }; spec: { template: V1Pod } } } })
    .spec.jobTemplate;

  const gpuPool = cluster.environment.nodePools.find((p) => (p.instance.gpus ?? 0) > 0)!;
  const before = await readClusterState(kc);
  const poolNodes = before.nodes.filter((node) => node.metadata?.labels?.[NODE_POOL_LABEL] === gpuPool.name);
  const freeGpus = (node: V1Node) =>
    nodeGpus(node) -
    before.pods
      .filter((pod) => pod.spec?.nodeName === node.metadata?.name && !isTerminal(pod))
      .reduce((sum, pod) => sum + podGpus(pod), 0);
  const needed = podGpus(template.spec.template);
  if (!poolNodes.some((node) => !node.spec?.unschedulable && freeGpus(node) >= needed)) {
    expect(poolNodes.length).toBeLessThan(gpuPool.maxNodes);
    log(cluster.environment, `no free GPU at rest for ${cronJobName}; adding a ${gpuPool.name} node as Karpenter would (${poolNodes.length + 1}/${gpuPool.maxNodes})`);
    await createFakeNodes(kc, [poolNode(gpuPool, gpuPool.zones[0], gpuPool.nodesPerZone)]);
  }

  const jobName = `${cronJobName}-manual-check`;
  const job: ManifestObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName,
      namespace,
      labels: template.metadata?.labels ?? {},
      annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJobName, uid: live.metadata.uid, controller: true }],
    },
    spec: template.spec,
  };
  const report = await applyAll(kc, [job]);
  expect({ errors: report.errors, warnings: report.warnings }).toEqual({ errors: [], warnings: [] });

  const jobPod = (state: ClusterState) =>
    state.pods.find((pod) => pod.metadata?.namespace === namespace && pod.metadata?.labels?.['job-name'] === jobName);
  const { state } = await settle(kc, (s) => (jobPod(s)?.spec?.nodeName ? [] : ['the Job pod is not scheduled yet']), 30_000);
  const pod = jobPod(state);
  if (!pod?.spec?.nodeName) {
    throw new Error(`the pod of Job ${namespace}/${jobName} was not scheduled: ${pod ? unscheduledReason(pod) : 'no pod was created'}`);
  }
  return pod;
}
