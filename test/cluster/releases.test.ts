/**
 * Canary and blue/green releases of the generated manifests, run by the real Argo Rollouts
 * controller on the test control plane (kwok nodes shaped like prod) and judged by its
 * AnalysisRuns against a real Prometheus: every pod of the engines under test is a real engine
 * runtime process on this machine running the version its image tag names (support/release-traffic.ts),
 * and load reaches the pods the engine's Service selects, as kube-proxy would send it.
 *
 * The manifests are prod's, synthesized with two changes the test needs: the analyses query the
 * test's Prometheus, and the two engines under test release with the catalog's per-engine override
 * at test speed (5 s analysis windows, which validation refuses for a real tier: four scrapes of 15 s
 * at least; this Prometheus scrapes every second). Steps, pauses, conditions and queries are
 * otherwise what prod gets: smart-order-router a canary that waits at its last step for a person,
 * frontend blue/green with the switch waiting for a person.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { CanaryRelease, BlueGreenRelease } from '../../src/catalog/release';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PROD } from '../../src/environments/platform-environments';
import { Duration } from '../../src/model/duration';
import { NAMESPACE_NAMES } from '../../src/planning/namespaces';
import { K8sObject, platformInput, synthObjects, withEngine } from '../support/platform';
import { ManifestObject } from './apply';
import { ArgoRollouts, ensureArgoRollouts, promoteRollout, startArgoRollouts } from './argo-rollouts';
import { ensureControlPlaneBinaries } from './binaries';
import { ControlPlane, startControlPlane } from './control-plane';
import { credentialSecrets, readCrds } from './dist-manifests';
import { applyAll } from './environment-cluster';
import { environmentNodes } from './environment-nodes';
import { createFakeNodes } from './fake-nodes';
import { ReleaseTraffic } from './support/release-traffic';

jest.setTimeout(240_000);
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

const CANARY = 'smart-order-router';
const BLUE_GREEN = 'frontend';
/** A canary whose requests the mesh splits by weight (prod's default for pod-network canaries). */
const MESH_CANARY = 'market-data';
const NAMESPACE = NAMESPACE_NAMES.engines;
/** The analysis window (and interval) at test speed. */
const INTERVAL = Duration.seconds(5);
/** What each version does: `bad` fails 20 % of its requests (the tier allows 0.5 %). */
const failureRatio = (tag: string) => (tag.startsWith('bad') ? 0.2 : 0);

let controlPlane: ControlPlane;
let controller: ArgoRollouts | undefined;
let traffic: ReleaseTraffic | undefined;

/** The catalog with the two engines under test releasing at test speed. */
function testCatalog(): EngineSpec[] {
  const analysis = { interval: INTERVAL, failureLimit: 1, minimumRequests: 20 };
  // By replica ratio on purpose: the load here is spread as kube-proxy spreads it, and no sidecar splits it.
  const canary = withEngine(CANARY, (e) => ({
    ...e, release: { reason: 'test speed', policy: { ...(e.tier.release as CanaryRelease), steps: [{ percent: 50 }], stepPause: Duration.seconds(10), analysis, traffic: 'replicas' } },
  }));
  // prod's steps (10, 25, 50 %, then a person), 2 s apart.
  const mesh = withEngine(MESH_CANARY, (e) => ({
    ...e, release: { reason: 'test speed', policy: { ...(e.tier.release as CanaryRelease), stepPause: Duration.seconds(2), analysis } },
  }), canary);
  return withEngine(BLUE_GREEN, (e) => ({
    ...e, release: { reason: 'test speed', policy: { ...(e.tier.release as BlueGreenRelease), scaleDownDelay: Duration.seconds(16), analysis, measurements: 2 } },
  }), mesh);
}

/** prod's objects for the engines under test (and the namespaces and priority classes they need), with their images at `tags`. */
function manifests(prometheusAddress: string, tags: Readonly<Record<string, string>>): ManifestObject[] {
  const environment = { ...PROD, progressiveDelivery: { ...PROD.progressiveDelivery!, prometheusAddress } };
  const catalog = testCatalog();
  const input = platformInput({ catalog, environments: [environment], imageTags: new Map(catalog.map((e) => [e.name, tags[e.name] ?? 'v1'])) });
  const objects = synthObjects(environment, input) as K8sObject[];
  const wanted = (o: K8sObject) => ['Namespace', 'PriorityClass'].includes(o.kind)
    || [CANARY, BLUE_GREEN, `${BLUE_GREEN}-preview`, MESH_CANARY].includes(o.metadata.labels?.['app.kubernetes.io/instance'] ?? '');
  return objects.filter(wanted).map(({ file: _file, ...object }) => object as unknown as ManifestObject);
}

async function apply(tags: Readonly<Record<string, string>> = {}): Promise<void> {
  const report = await applyAll(controlPlane.kubeConfig, manifests(traffic!.prometheusAddress, tags));
  if (report.errors.length > 0) throw new Error(report.errors.join('\n'));
}

/**
 * A new version of `engine`: its Deployment (the Rollout's template) applied with the image at
 * `tag`, nothing else. Applying its Services again server-side would take back the selector the
 * controller set on them (a Service's selector is one atomic field for server-side apply): the
 * deploy tool's part, tested with the tool.
 */
async function release(engine: string, tag: string): Promise<void> {
  const deployment = manifests(traffic!.prometheusAddress, { [engine]: tag }).filter((o) => o.kind === 'Deployment' && o.metadata?.name === engine);
  const report = await applyAll(controlPlane.kubeConfig, deployment);
  if (report.errors.length > 0) throw new Error(report.errors.join('\n'));
}

interface RolloutStatus {
  phase?: string;
  message?: string;
  abort?: boolean;
  currentPodHash?: string;
  stableRS?: string;
  currentStepIndex?: number;
  pauseConditions?: Array<{ reason: string }>;
  canary?: { currentBackgroundAnalysisRunStatus?: { name: string; status: string } };
  blueGreen?: { activeSelector?: string; previewSelector?: string; postPromotionAnalysisRunStatus?: { name: string; status: string } };
}

function custom(kc: KubeConfig): CustomObjectsApi {
  return kc.makeApiClient(CustomObjectsApi);
}

async function rollout(name: string): Promise<RolloutStatus> {
  const object = await custom(controlPlane.kubeConfig).getNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'rollouts', name });
  return ((object as { status?: RolloutStatus }).status ?? {});
}

interface Measurement { phase: string; value?: string; startedAt?: string; finishedAt?: string }
interface AnalysisRun { status?: { phase?: string; metricResults?: Array<{ name: string; phase: string; measurements?: Measurement[] }> } }

async function analysisRun(name: string): Promise<AnalysisRun> {
  return await custom(controlPlane.kubeConfig).getNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'analysisruns', name }) as AnalysisRun;
}

/** Polls `read` until `done` says so; fails with the last value read (and the traffic loops' errors). */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not reached in ${timeoutMs / 1000} s; last read ${JSON.stringify(last)}; traffic errors: ${traffic?.errors.slice(-3).join(' | ') || 'none'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The environment a pod of `engine` gets: the pod template's variables, Secrets resolved to test values. */
function podEnvironment(engine: string): Record<string, string> {
  const deployment = manifests('http://127.0.0.1:1', {}).find((o) => o.kind === 'Deployment' && o.metadata?.name === engine)!;
  const spec = deployment.spec as { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  // Stores and upstreams are not running: the engine's readiness reports them down, and its
  // routes still answer (the load does not need them).
  return Object.fromEntries((spec.template.spec.containers[0].env ?? []).map((v) => [v.name, v.value ?? 'test-secret-value']));
}

beforeAll(async () => {
  await ensureControlPlaneBinaries();
  await ensureArgoRollouts();
}, BUILD_TIMEOUT_MS);

beforeAll(async () => {
  controlPlane = await startControlPlane({ horizontalPodAutoscalerSyncPeriodSeconds: 2 });
  const kc = controlPlane.kubeConfig;
  await createFakeNodes(kc, environmentNodes(PROD));
  const prerequisites = await applyAll(kc, readCrds(), 'nautilus-k8s-test-harness');
  if (prerequisites.errors.length > 0) throw new Error(prerequisites.errors.join('\n'));
  controller = await startArgoRollouts(controlPlane);
  traffic = await ReleaseTraffic.start({
    kubeConfig: kc, namespace: NAMESPACE, engines: [CANARY, BLUE_GREEN, MESH_CANARY], environment: podEnvironment, failureRatio, requestsPerPodPerSecond: 20,
  });
  const namespaces = manifests(traffic.prometheusAddress, {}).filter((o) => o.kind === 'Namespace');
  await applyAll(kc, namespaces);
  await applyAll(kc, credentialSecrets([NAMESPACE]), 'nautilus-k8s-test-harness');
  await apply();
  for (const name of [CANARY, BLUE_GREEN, MESH_CANARY]) await until(`${name} Healthy at v1`, () => rollout(name), (s) => s.phase === 'Healthy');
}, 180_000);

afterAll(async () => {
  await traffic?.stop();
  await controller?.stop();
  await controlPlane?.stop();
});

describe('a canary (smart-order-router, prod\'s steps: half the pods, then a person promotes)', () => {
  test('a good version is measured successful at its step, waits for the promotion, then replaces every pod', async () => {
    const before = await rollout(CANARY);
    const started = Date.now();
    await release(CANARY, 'v2');
    const paused = await until('paused at its last step', () => rollout(CANARY), (s) => s.phase === 'Paused' && s.currentPodHash !== before.stableRS);
    expect(paused.stableRS).toBe(before.stableRS);
    expect(paused.pauseConditions?.map((c) => c.reason)).toEqual(['CanaryPauseStep']);
    // Both versions serve meanwhile.
    await until('both versions Ready', async () => Object.values(traffic!.readyVersions(CANARY)).sort(), (tags) => tags.includes('v1') && tags.includes('v2'));
    const runName = paused.canary!.currentBackgroundAnalysisRunStatus!.name;
    // Two full windows of the new pods' own requests, each within the objectives.
    const run = await until('two successful measurements of every metric', () => analysisRun(runName),
      (r) => (r.status?.metricResults ?? []).length === 3 && r.status!.metricResults!.every((m) => (m.measurements ?? []).filter((x) => x.phase === 'Successful').length >= 2));
    expect(run.status!.metricResults!.flatMap((m) => m.measurements ?? []).filter((m) => m.phase === 'Failed')).toEqual([]);
    const judged = Date.now();
    await promoteRollout(controlPlane.kubeConfig, NAMESPACE, CANARY);
    const done = await until('Healthy on v2', () => rollout(CANARY), (s) => s.phase === 'Healthy' && s.stableRS === s.currentPodHash);
    console.log(`[releases] good canary: two successful windows ${((judged - started) / 1000).toFixed(1)} s after the release started, Healthy ${((Date.now() - judged) / 1000).toFixed(1)} s after the promotion (analysis interval ${INTERVAL})`);
    expect(done.stableRS).not.toBe(before.stableRS);
    await until('every Ready pod on v2', async () => Object.values(traffic!.readyVersions(CANARY)), (tags) => tags.length >= 2 && tags.every((t) => t === 'v2'));
  });

  test('a bad version breaks the error objective: the release is aborted, its pods scaled away, the stable version keeps serving', async () => {
    const before = await rollout(CANARY);
    await release(CANARY, 'bad-v3');
    const progressing = await until('canary started', () => rollout(CANARY), (s) => s.currentPodHash !== before.stableRS && s.canary?.currentBackgroundAnalysisRunStatus !== undefined);
    const runName = progressing.canary!.currentBackgroundAnalysisRunStatus!.name;
    const aborted = await until('aborted', () => rollout(CANARY), (s) => s.abort === true && s.phase === 'Degraded', 120_000);
    expect(aborted.stableRS).toBe(before.stableRS);
    const run = await analysisRun(runName);
    expect(run.status?.phase).toBe('Failed');
    const errorRatio = run.status!.metricResults!.find((m) => m.name === 'error-ratio')!;
    expect(errorRatio.phase).toBe('Failed');
    // failureLimit 1: the second failed window aborts.
    const failed = (errorRatio.measurements ?? []).filter((m) => m.phase === 'Failed');
    expect(failed.length).toBe(2);
    expect(Number(failed[0].value!.replace(/[[\]]/g, ''))).toBeGreaterThan(0.005);
    // The canary's pods go; the stable version's stay Ready and keep taking the load.
    const stable = await until('only the stable version Ready', async () => Object.values(traffic!.readyVersions(CANARY)), (tags) => tags.length >= 2 && tags.every((t) => t === 'v2'));
    expect(stable.length).toBeGreaterThanOrEqual(2);
    const firstFailure = Date.parse(failed[0].finishedAt!);
    console.log(`[releases] bad canary: first failed measurement to its pods gone: ${((Date.now() - firstFailure) / 1000).toFixed(1)} s (analysis interval ${INTERVAL})`);
  });

  test('a quiet market is not judged: too few requests make the measurements inconclusive, and the release waits for a person', async () => {
    traffic!.setQuiet(CANARY, true);
    try {
      const before = await rollout(CANARY);
      await release(CANARY, 'v4');
      const paused = await until('paused on an inconclusive analysis', () => rollout(CANARY),
        (s) => s.currentPodHash !== before.stableRS && (s.pauseConditions ?? []).some((c) => c.reason === 'InconclusiveAnalysisRun'), 120_000);
      expect(paused.abort).not.toBe(true);
      const run = await analysisRun(paused.canary!.currentBackgroundAnalysisRunStatus!.name);
      expect(run.status?.phase).toBe('Inconclusive');
      const requests = run.status!.metricResults!.find((m) => m.name === 'requests')!;
      expect(requests.phase).toBe('Inconclusive');
      // Not a failure either: no measurement of any metric failed.
      expect(run.status!.metricResults!.flatMap((m) => m.measurements ?? []).filter((m) => m.phase === 'Failed')).toEqual([]);
    } finally {
      traffic!.setQuiet(CANARY, false);
    }
  });
});

describe('a rollback through the Rollout', () => {
  test('restoring an earlier version\'s template starts a release of it, which a full promotion finishes at once, skipping its steps, pauses and analysis', async () => {
    // Where the canaries above left it: v2 stable, v4 paused. v1 ran before v2; its ReplicaSet is
    // kept (scaled to zero), so the controller treats it as a new release, steps and all (its
    // rollbackWindow only fast-tracks a version whose pods still run).
    const before = await rollout(CANARY);
    const started = Date.now();
    await release(CANARY, 'v1');
    await until('releasing v1', () => rollout(CANARY), (s) => s.currentPodHash !== before.currentPodHash && s.currentPodHash !== before.stableRS);
    await promoteRollout(controlPlane.kubeConfig, NAMESPACE, CANARY, { full: true });
    const done = await until('Healthy on v1', () => rollout(CANARY), (s) => s.phase === 'Healthy' && s.stableRS === s.currentPodHash && s.stableRS !== before.stableRS);
    expect(done.pauseConditions ?? []).toEqual([]);
    await until('every Ready pod on v1', async () => Object.values(traffic!.readyVersions(CANARY)), (tags) => tags.length >= 2 && tags.every((t) => t === 'v1'));
    console.log(`[releases] rollback to v1 through the Rollout (template restored, then promoted in full): every pod on v1 ${((Date.now() - started) / 1000).toFixed(1)} s after`);
  });
});

describe('blue/green (frontend, prod: the switch waits for a person)', () => {
  test('the active Service stays on the old colour until promotion, then switches, the new colour is measured, and the old one is scaled away after the delay', async () => {
    const before = await rollout(BLUE_GREEN);
    await release(BLUE_GREEN, 'v2');
    const paused = await until('paused before the switch', () => rollout(BLUE_GREEN), (s) => s.phase === 'Paused' && s.currentPodHash !== before.stableRS);
    expect(paused.blueGreen?.activeSelector).toBe(before.stableRS);
    expect(paused.blueGreen?.previewSelector).toBe(paused.currentPodHash);
    // The clients' traffic (the active Service) still reaches only the old colour.
    const core = await import('@kubernetes/client-node').then((m) => controlPlane.kubeConfig.makeApiClient(m.CoreV1Api));
    const active = await core.readNamespacedService({ name: BLUE_GREEN, namespace: NAMESPACE });
    const preview = await core.readNamespacedService({ name: `${BLUE_GREEN}-preview`, namespace: NAMESPACE });
    expect(active.spec?.selector?.['rollouts-pod-template-hash']).toBe(before.stableRS);
    expect(preview.spec?.selector?.['rollouts-pod-template-hash']).toBe(paused.currentPodHash);
    const served = await traffic!.query(`sum by (pod) (increase(nautilus_http_requests_total{service="${BLUE_GREEN}",path="/quotes"}[5s]))`);
    expect(served.filter((s) => Number(s.value[1]) > 0).every((s) => s.metric.pod.startsWith(`${BLUE_GREEN}-${before.stableRS}-`))).toBe(true);

    await promoteRollout(controlPlane.kubeConfig, NAMESPACE, BLUE_GREEN);
    const switched = await until('active Service on the new colour', () => rollout(BLUE_GREEN), (s) => s.blueGreen?.activeSelector === paused.currentPodHash);
    const runName = (await until('post-promotion analysis', () => rollout(BLUE_GREEN), (s) => s.blueGreen?.postPromotionAnalysisRunStatus !== undefined))
      .blueGreen!.postPromotionAnalysisRunStatus!.name;
    const run = await until('post-promotion analysis successful', () => analysisRun(runName), (r) => r.status?.phase === 'Successful' || r.status?.phase === 'Failed');
    expect(run.status?.phase).toBe('Successful');
    expect(switched.stableRS === paused.currentPodHash || switched.phase !== 'Degraded').toBe(true);
    await until('Healthy on the new colour', () => rollout(BLUE_GREEN), (s) => s.phase === 'Healthy' && s.stableRS === paused.currentPodHash);
    // The old colour keeps running for the scale-down delay (a failed measurement switches back to
    // it), then goes.
    expect(Object.values(traffic!.readyVersions(BLUE_GREEN))).toContain('v1');
    await until('old colour scaled away', async () => Object.values(traffic!.readyVersions(BLUE_GREEN)), (tags) => tags.length >= 1 && tags.every((t) => t === 'v2'), 60_000);
  });
});

describe('a canary on the mesh (market-data, prod: Istio weights)', () => {
  interface Routes { stable: number; canary: number; subsets: Record<string, string | undefined> }

  async function routes(): Promise<Routes> {
    const api = custom(controlPlane.kubeConfig);
    const target = { group: 'networking.istio.io', version: 'v1', namespace: NAMESPACE, name: MESH_CANARY };
    const service = await api.getNamespacedCustomObject({ ...target, plural: 'virtualservices' }) as { spec: { http: Array<{ route: Array<{ destination: { subset: string }; weight?: number }> }> } };
    const rule = await api.getNamespacedCustomObject({ ...target, plural: 'destinationrules' }) as { spec: { subsets: Array<{ name: string; labels?: Record<string, string> }> } };
    const weight = (subset: string) => service.spec.http[0].route.find((r) => r.destination.subset === subset)?.weight ?? 0;
    return {
      stable: weight('stable'),
      canary: weight('canary'),
      subsets: Object.fromEntries(rule.spec.subsets.map((s) => [s.name, s.labels?.['rollouts-pod-template-hash']])),
    };
  }

  test('the controller moves the VirtualService\'s weights step by step (10, 25, 50 %), labels the subsets, and puts all traffic on the new version once promoted', async () => {
    const before = await rollout(MESH_CANARY);
    const seen: string[] = [];
    const record = async () => {
      const r = await routes();
      const step = `${r.stable}/${r.canary}`;
      if (seen[seen.length - 1] !== step) seen.push(step);
      return r;
    };
    // The weights at rest are read before the release: the controller may set the first step's
    // before the first sample after it.
    await record();
    await release(MESH_CANARY, 'v2');
    const paused = await until('paused at its last step', async () => ({ status: await rollout(MESH_CANARY), routes: await record() }),
      ({ status }) => status.phase === 'Paused' && status.currentPodHash !== before.stableRS && (status.currentStepIndex ?? 0) >= 5, 60_000);
    expect(paused.routes).toMatchObject({ stable: 50, canary: 50, subsets: { stable: before.stableRS, canary: paused.status.currentPodHash } });
    await promoteRollout(controlPlane.kubeConfig, NAMESPACE, MESH_CANARY);
    const done = await until('Healthy on v2, all traffic on it', async () => ({ status: await rollout(MESH_CANARY), routes: await record() }),
      ({ status, routes: r }) => status.phase === 'Healthy' && status.stableRS === status.currentPodHash && r.canary === 0);
    expect(done.routes).toMatchObject({ stable: 100, canary: 0, subsets: { stable: done.status.stableRS } });
    // Each step's weights, in order; the samples every half second may miss none of them (2 s a step).
    expect(seen.slice(0, 4)).toEqual(['100/0', '90/10', '75/25', '50/50']);
    expect(seen[seen.length - 1]).toBe('100/0');
  });
});
