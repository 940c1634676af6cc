/**
 * Autoscaling on real load: dev with autoscaling (real-node-environment.ts) on a real kubelet, with
 * metrics-server behind the control plane's aggregation layer serving the pods' CPU as measured by
 * the kubelet. Two engines' generated HorizontalPodAutoscalers, untouched: frontend's scales on CPU
 * only, smart-order-router's on CPU and `requests_per_second`, a Pods metric that nothing serves
 * here (no custom metrics adapter: see the README). A load generator inside the node sends real
 * HTTP requests to both engines' Services. Asserts:
 *   - `kubectl top` reads the real pods' CPU through metrics.k8s.io;
 *   - at rest, frontend's HPA reads CPU and holds its minimum; smart-order-router's reports
 *     `ScalingActive=False FailedGetPodsMetric` (a metric is missing and CPU alone would not scale up);
 *   - under load, both scale out on CPU within the tier's scale-up policy, smart-order-router's
 *     although `requests_per_second` still cannot be read; the time from load start to the first
 *     scale-out is measured;
 *   - when the load stops, neither scales in: frontend's HPA keeps the scaled-out count because of
 *     the tier's ten-minute scale-down stabilization window (`ScaleDownStabilized`), and
 *     smart-order-router's refuses to compute a lower count while a metric is missing;
 *   - scale-in follows the generated scale-down behavior: with frontend's tier given a scale-down
 *     pace at the test's scale through the catalog (`Tier.withRuntime`: a 20-second window, one pod
 *     per 10 s, where the tier says ten minutes and one pod per two minutes) and production's
 *     replica bounds (2 to 6), the rendered HPA, applied, scales frontend out under load again and,
 *     when the load stops, brings it down one pod per period, after the window, to its minimum.
 * The tier's own ten minutes and two minutes are not waited out: the window is shown holding, the
 * pace is shown at test scale.
 */
import { ChildProcess, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AppsV1Api, AutoscalingV2Api, CoreV1Api, CoreV1Event, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { imagesOf, KubeObject } from '../../src/deploy/objects';
import { Duration } from '../../src/model/duration';
import { poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { REQUESTS_PER_SECOND } from '../../src/planning/monitoring';
import { applyManifests, ManifestObject } from './apply';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from './dist-manifests';
import { RealNodeCluster, ensureRealNodeBinaries, startRealNodeCluster } from './real-node';
import { realNodeAutoscaledEnvironment } from './real-node-environment';
import { buildEngineImages, buildStoreStandIns, synthesizeEnvironment } from './real-node-setup';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

// Warm: about 2 minutes. Cold, the images and metrics-server are built first.
jest.setTimeout(15 * 60_000);

/** The engines under load: one HPA on CPU only, one on CPU and requests_per_second. */
const CPU_ONLY = 'frontend';
const WITH_REQUESTS_METRIC = 'smart-order-router';
const LOADED = [CPU_ONLY, WITH_REQUESTS_METRIC];
/** smart-order-router's upstream: enabled so its URL is generated, not deployed (upstreams are not part of readiness). */
const environment = realNodeAutoscaledEnvironment([...LOADED, 'market-data'], 'reduced');
const pool = environment.nodePools[0];
const NODE_NAME = `${pool.name}-${pool.zones[0]}-0`;
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job']);
/** The load generator stops by itself after this long, or this many requests, whichever comes first. */
const LOAD_MAX_SECONDS = 150;
const LOAD_MAX_REQUESTS = 1_000_000;
const LOAD_THREADS_PER_TARGET = 4;
/** frontend's scale-down pace at the test's scale (the tier's: ten minutes' window, one pod per two minutes). */
const TEST_SCALE_DOWN = { stabilization: Duration.seconds(20), period: Duration.seconds(10), pods: 1 };

let workDir: string;
let cluster: RealNodeCluster | undefined;
let binder: VolumeBinder | undefined;
let objects: ManifestObject[];
let load: ChildProcess | undefined;
let loadStarted = 0;
/** Measured by the scale-out test, read by the ones after it. */
const scaledOut = new Map<string, { seconds: number; replicas: number; cpu?: number }>();

function generated(kind: string, name: string): ManifestObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the synthesized manifests`);
  return found;
}

function namespaceOf(engine: string): string {
  return generated('Deployment', engine).metadata!.namespace!;
}

async function autoscaler(engine: string): Promise<V2HorizontalPodAutoscaler> {
  return cluster!.controlPlane.kubeConfig.makeApiClient(AutoscalingV2Api)
    .readNamespacedHorizontalPodAutoscaler({ name: engine, namespace: namespaceOf(engine) });
}

async function replicasOf(engine: string): Promise<number> {
  const deployment = await cluster!.controlPlane.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: engine, namespace: namespaceOf(engine) });
  return deployment.spec?.replicas ?? 0;
}

function condition(hpa: V2HorizontalPodAutoscaler, type: string) {
  return hpa.status?.conditions?.find((c) => c.type === type);
}

/** The CPU utilization (percent of request) the HPA last read, if it read one. */
function cpuUtilization(hpa: V2HorizontalPodAutoscaler): number | undefined {
  return hpa.status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.current.averageUtilization;
}

/** The CPU utilization the HPA aims at (the plan's, 70 % of request unless the catalog says otherwise). */
function cpuTarget(hpa: V2HorizontalPodAutoscaler): number {
  const target = hpa.spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.target.averageUtilization;
  if (target === undefined) throw new Error(`HPA ${hpa.metadata?.name} has no CPU utilization target`);
  return target;
}

async function autoscalerEvents(engine: string): Promise<CoreV1Event[]> {
  const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  return (await core.listNamespacedEvent({ namespace: namespaceOf(engine), fieldSelector: `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${engine}` })).items;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, periodMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, periodMs));
  }
}

async function autoscalerSummary(engines: readonly string[]): Promise<string> {
  const lines = await Promise.all(engines.map(async (engine) => {
    const hpa = await autoscaler(engine);
    return `${engine}: replicas ${await replicasOf(engine)}, cpu ${cpuUtilization(hpa)}%, conditions ${JSON.stringify(hpa.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`))}`;
  }));
  return lines.join('\n');
}

/**
 * Real HTTP load from inside the node (its network namespace, where kube-proxy's Service rules
 * are): threads sending GETs, each on a new connection, to each URL until stopped, for at most
 * LOAD_MAX_SECONDS and LOAD_MAX_REQUESTS. Prints the answered and failed counts when it ends.
 */
const LOAD_GENERATOR = `
import signal, sys, threading, time, urllib.request
seconds, limit, threads_per_url, urls = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
deadline = time.monotonic() + seconds
lock = threading.Lock()
answered, failed, stop = [0], [0], threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
def worker(url):
    while not stop.is_set() and time.monotonic() < deadline:
        with lock:
            if answered[0] + failed[0] >= limit:
                return
        try:
            urllib.request.urlopen(url, timeout=2).read()
            with lock: answered[0] += 1
        except Exception:
            with lock: failed[0] += 1
workers = [threading.Thread(target=worker, args=(url,), daemon=True) for url in urls for _ in range(threads_per_url)]
for w in workers: w.start()
while any(w.is_alive() for w in workers): time.sleep(0.2)
print(f"answered={answered[0]} failed={failed[0]}", flush=True)
`;

function stopLoad(): Promise<string> {
  const child = load;
  load = undefined;
  if (!child || child.exitCode !== null) return Promise.resolve('');
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  // 'close', not 'exit': nsenter goes at once, the generator (in the node's PID namespace) prints its counts after.
  const closed = new Promise<string>((resolve) => child.on('close', () => resolve(output.trim())));
  try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
  return closed;
}


// Cold, the programs are built first, in a hook of their own with a bound that allows it (about 20
// minutes on 2 cores beside the other lanes, when this file comes first in its lane).
beforeAll(() => ensureRealNodeBinaries({ metricsServer: true }), 60 * 60_000);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-real-node-autoscaling-'));
  process.once('exit', () => fs.rmSync(workDir, { recursive: true, force: true }));

  await buildEngineImages(environment, LOADED);
  buildStoreStandIns();
  objects = synthesizeEnvironment(path.join(workDir, 'dist'), environment);
  // The loaded engines and the store smart-order-router needs to be Ready (an unready pod's CPU
  // does not count for its HPA); every other object of the environment, no other workload.
  const workloads = [...LOADED.map((engine) => generated('Deployment', engine)), generated('StatefulSet', 'redis')];
  const images = imagesOf(workloads as KubeObject[]);

  cluster = await startRealNodeCluster({
    name: NODE_NAME,
    labels: { ...poolLabels(pool), 'topology.kubernetes.io/zone': pool.zones[0] },
    taints: poolTaints(pool),
    images,
    metricsServer: true,
  });
  const kc = cluster.controlPlane.kubeConfig;
  binder = startVolumeBinder(kc, 500, path.join(cluster.node.workDir, 'volumes'));
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  await applyManifests(kc, [
    ...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment),
    ...credentialSecrets(namespaces.map((n) => n.metadata?.name ?? '').filter((n) => n.startsWith('nautilus-'))),
    ...objects.filter((o) => !WORKLOAD_KINDS.has(o.kind) || workloads.includes(o)),
  ], { fieldManager: 'nautilus-test-cluster' });

  // Each HPA raises its Deployment to minReplicas at its first sync; then every pod must be Ready.
  const apps = kc.makeApiClient(AppsV1Api);
  await until('the loaded engines at their minimum replicas, every pod Ready', 180_000, async () => {
    const ready = await Promise.all(LOADED.map(async (engine) => {
      const hpa = await autoscaler(engine);
      const deployment = await apps.readNamespacedDeployment({ name: engine, namespace: namespaceOf(engine) });
      return deployment.spec?.replicas === hpa.spec?.minReplicas && deployment.status?.readyReplicas === hpa.spec?.minReplicas;
    }));
    return ready.every(Boolean) ? true : undefined;
  }, 500).catch(async (error: Error) => { throw new Error(`${error.message}\n${await autoscalerSummary(LOADED)}\n${cluster!.node.logTails(15)}`); });
});

afterAll(async () => {
  await stopLoad();
  await binder?.stop();
  await cluster?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('autoscaling on a real node, on real load', () => {
  test('the HPAs in the cluster are the generated ones: the tier\'s behavior, CPU, and requests_per_second where the catalog sets it', async () => {
    for (const engine of LOADED) {
      const hpa = await autoscaler(engine);
      const spec = generated('HorizontalPodAutoscaler', engine).spec as Record<string, unknown>;
      expect(JSON.parse(JSON.stringify(hpa.spec))).toEqual(spec);
    }
    const names = async (engine: string) => (await autoscaler(engine)).spec!.metrics!.map((m) => m.resource?.name ?? m.pods?.metric.name);
    expect(await names(CPU_ONLY)).toEqual(['cpu']);
    expect(await names(WITH_REQUESTS_METRIC)).toEqual(['cpu', REQUESTS_PER_SECOND.name]);
    // Ten quiet minutes before a pod is removed: the tier's policy, not weakened here.
    expect((await autoscaler(CPU_ONLY)).spec!.behavior!.scaleDown!.stabilizationWindowSeconds).toBe(600);
  });

  test('kubectl top reads the real pods\' CPU and memory through metrics.k8s.io', async () => {
    const kubectl = path.join(cluster!.controlPlane.binDir, 'kubectl');
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const pods = (await Promise.all(LOADED.map(async (engine) => (await core.listNamespacedPod({
      namespace: namespaceOf(engine), labelSelector: `app.kubernetes.io/name=${engine}`,
    })).items))).flat();
    const top = await until('kubectl top to list every loaded pod', 60_000, async () => {
      const result = spawnSync(kubectl, ['--kubeconfig', cluster!.controlPlane.kubeconfigPath, 'top', 'pod', '-n', namespaceOf(CPU_ONLY), '--no-headers'], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(result.stderr);
      const rows = new Map(result.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/)).map(([name, cpu, memory]) => [name, { cpu, memory }]));
      return pods.every((pod) => rows.has(pod.metadata!.name!)) ? rows : undefined;
    });
    for (const pod of pods) {
      const row = top.get(pod.metadata!.name!)!;
      expect(row.cpu).toMatch(/^\d+m$/);
      // A Node.js process holds tens of MiB resident: the kubelet measured the real container.
      expect(Number(/^(\d+)Mi$/.exec(row.memory)?.[1])).toBeGreaterThan(10);
    }
    const node = spawnSync(kubectl, ['--kubeconfig', cluster!.controlPlane.kubeconfigPath, 'top', 'node', '--no-headers'], { encoding: 'utf8' });
    expect(node.stdout).toMatch(new RegExp(`^${NODE_NAME}\\s+\\d+m\\s+\\d+%`));
  });

  test('at rest: frontend\'s HPA reads CPU and holds its minimum; smart-order-router\'s cannot read requests_per_second and does not act on CPU alone', async () => {
    await until('both HPAs to have read CPU below target', 90_000, async () => {
      const hpas = await Promise.all(LOADED.map(autoscaler));
      return hpas.every((hpa) => { const cpu = cpuUtilization(hpa); return cpu !== undefined && cpu < cpuTarget(hpa); }) ? true : undefined;
    }, 1000).catch(async (error: Error) => { throw new Error(`${error.message}\n${await autoscalerSummary(LOADED)}`); });
    const cpuOnly = await autoscaler(CPU_ONLY);
    expect(condition(cpuOnly, 'ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
    expect(await replicasOf(CPU_ONLY)).toBe(cpuOnly.spec!.minReplicas);

    const withRequests = await autoscaler(WITH_REQUESTS_METRIC);
    // CPU is read (its status is there), requests_per_second is not: the controller will not
    // compute a count lower than the current one while a metric it scales on is missing.
    expect(cpuUtilization(withRequests)).toBeDefined();
    expect(condition(withRequests, 'ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetPodsMetric' });
    expect(condition(withRequests, 'ScalingActive')!.message).toMatch(/unable to get metric requests_per_second/);
    expect(await replicasOf(WITH_REQUESTS_METRIC)).toBe(withRequests.spec!.minReplicas);
  });

  test('under load both scale out on CPU, within the tier\'s scale-up policy; smart-order-router\'s although requests_per_second cannot be read', async () => {
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const urls = await Promise.all(LOADED.map(async (engine) => {
      const service = await core.readNamespacedService({ name: engine, namespace: namespaceOf(engine) });
      const container = (generated('Deployment', engine).spec as { template: { spec: { containers: Array<{ livenessProbe: { httpGet: { path: string } } }> } } }).template.spec.containers[0];
      return `http://${service.spec!.clusterIP}:${service.spec!.ports![0].port}${container.livenessProbe.httpGet.path}`;
    }));
    const before = new Map(await Promise.all(LOADED.map(async (engine) => [engine, await replicasOf(engine)] as const)));

    const started = Date.now();
    loadStarted = started;
    load = cluster!.node.spawn(['python3', '-c', LOAD_GENERATOR, String(LOAD_MAX_SECONDS), String(LOAD_MAX_REQUESTS), String(LOAD_THREADS_PER_TARGET), ...urls]);
    await until('both Deployments to be scaled out', 120_000, async () => {
      for (const engine of LOADED) {
        if (scaledOut.has(engine)) continue;
        const replicas = await replicasOf(engine);
        if (replicas > before.get(engine)!) {
          const seconds = (Date.now() - started) / 1000;
          // The controller writes the scale first and its status (the utilization it acted on) after.
          const hpa = await until(`${engine}'s HPA status after its rescale`, 10_000, async () => {
            const read = await autoscaler(engine);
            return read.status?.desiredReplicas === replicas ? read : undefined;
          }, 100);
          scaledOut.set(engine, { seconds, replicas, cpu: cpuUtilization(hpa) });
        }
      }
      return scaledOut.size === LOADED.length ? true : undefined;
    }).catch(async (error: Error) => { throw new Error(`${error.message}\n${await autoscalerSummary(LOADED)}`); });
    process.stderr.write(`autoscaling on real load: first scale-out after ${LOADED.map((engine) => `${engine} ${scaledOut.get(engine)!.seconds.toFixed(1)} s `
      + `(${before.get(engine)} -> ${scaledOut.get(engine)!.replicas}, CPU ${scaledOut.get(engine)!.cpu}% of request)`).join(', ')} from load start\n`);

    for (const engine of LOADED) {
      const hpa = await autoscaler(engine);
      const { replicas } = scaledOut.get(engine)!;
      // The tier's scale-up policy: the larger of doubling and four pods per period, never above the maximum.
      const policies = hpa.spec!.behavior!.scaleUp!.policies!;
      const from = before.get(engine)!;
      const limit = Math.max(...policies.map((p) => (p.type === 'Percent' ? Math.ceil(from * (1 + p.value / 100)) : from + p.value)));
      expect(replicas).toBeLessThanOrEqual(Math.min(limit, hpa.spec!.maxReplicas));
      // The controller says why: CPU above target.
      const rescales = (await autoscalerEvents(engine)).filter((e) => e.reason === 'SuccessfulRescale');
      expect(rescales.map((e) => e.message)).toContainEqual(`New size: ${replicas}; reason: cpu resource utilization (percentage of request) above target`);
    }
    // smart-order-router scaled out while requests_per_second was still unreadable.
    const events = await autoscalerEvents(WITH_REQUESTS_METRIC);
    expect(events.some((e) => e.reason === 'FailedGetPodsMetric' && /requests_per_second/.test(e.message ?? ''))).toBe(true);
  });

  test('when the load stops, neither scales in: frontend\'s is held by the ten-minute stabilization window, smart-order-router\'s by the missing metric', async () => {
    expect(scaledOut.size).toBe(LOADED.length);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    const counts = await stopLoad();
    const [, answered] = /answered=(\d+)/.exec(counts) ?? [];
    expect(Number(answered)).toBeGreaterThan(0);
    // The engines answered them: their own request counters (the kubelet's probes add to them).
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    let served = 0;
    for (const engine of LOADED) {
      const pods = (await core.listNamespacedPod({ namespace: namespaceOf(engine), labelSelector: `app.kubernetes.io/name=${engine}` })).items;
      for (const pod of pods.filter((p) => p.status?.podIP)) {
        const container = pod.spec!.containers[0];
        const scraped = cluster!.node.httpGet(`http://${pod.status!.podIP}:${container.ports![0].containerPort}/metrics`);
        const pattern = new RegExp(`^nautilus_http_requests_total\\{path="${container.livenessProbe!.httpGet!.path}",status="200"\\} (\\d+)$`, 'm');
        served += Number(pattern.exec(scraped.body)?.[1] ?? 0);
      }
    }
    expect(served).toBeGreaterThanOrEqual(Number(answered));
    const stopped = Date.now();

    // Once CPU has fallen below target, frontend's recommendation is lower than its replicas, and
    // the controller applies the highest recommendation of the last ten minutes instead.
    const cpuOnly = await until(`${CPU_ONLY}'s HPA to hold a lower recommendation off`, 90_000, async () => {
      const hpa = await autoscaler(CPU_ONLY);
      return condition(hpa, 'AbleToScale')?.reason === 'ScaleDownStabilized' ? hpa : undefined;
    }, 500).catch(async (error: Error) => { throw new Error(`${error.message}\n${await autoscalerSummary(LOADED)}`); });
    expect(cpuUtilization(cpuOnly)).toBeLessThan(cpuTarget(cpuOnly));
    expect(condition(cpuOnly, 'AbleToScale')).toMatchObject({
      status: 'True', message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
    });
    expect(cpuOnly.status!.desiredReplicas).toBe(scaledOut.get(CPU_ONLY)!.replicas);

    const withRequests = await until(`${WITH_REQUESTS_METRIC}'s HPA to refuse a lower count`, 60_000, async () => {
      const hpa = await autoscaler(WITH_REQUESTS_METRIC);
      const cpu = cpuUtilization(hpa);
      return cpu !== undefined && cpu < cpuTarget(hpa) && condition(hpa, 'ScalingActive')?.reason === 'FailedGetPodsMetric' ? hpa : undefined;
    }, 500).catch(async (error: Error) => { throw new Error(`${error.message}\n${await autoscalerSummary(LOADED)}`); });
    expect(condition(withRequests, 'ScalingActive')!.status).toBe('False');

    for (const engine of LOADED) expect(await replicasOf(engine)).toBe(scaledOut.get(engine)!.replicas);
    process.stderr.write(`autoscaling on real load: ${answered} requests answered in ${loadSeconds.toFixed(1)} s (the engines counted ${served} on that path, probes included); `
      + `${((Date.now() - stopped) / 1000).toFixed(1)} s after the load stopped, `
      + `${CPU_ONLY} held at ${scaledOut.get(CPU_ONLY)!.replicas} (ScaleDownStabilized), ${WITH_REQUESTS_METRIC} at ${scaledOut.get(WITH_REQUESTS_METRIC)!.replicas} (FailedGetPodsMetric)\n`);
  });

  test('scale-in follows the generated scale-down behavior: at the test\'s pace, set on frontend\'s tier through the catalog, frontend steps down one pod per period to its minimum', async () => {
    // dev synthesized again with production's replica bounds (frontend: 2 to 6, room for several
    // steps) and frontend's tier at the test's pace: everything else of the HPA is the catalog's.
    const catalog = PLATFORM_ENGINES.map((engine) => (engine.name === CPU_ONLY
      ? { ...engine, tier: engine.tier.withRuntime({ autoscaling: { ...engine.tier.runtime.autoscaling!, scaleDown: TEST_SCALE_DOWN } }) }
      : engine));
    const variant = realNodeAutoscaledEnvironment([...LOADED, 'market-data'], 'full');
    const rendered = synthesizeEnvironment(path.join(workDir, 'dist-scale-in'), variant, catalog)
      .find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata?.name === CPU_ONLY)!;
    type Spec = { minReplicas: number; maxReplicas: number; behavior: { scaleUp: unknown; scaleDown: { stabilizationWindowSeconds: number; policies: unknown[] } } };
    const spec = rendered.spec as Spec;
    const before = generated('HorizontalPodAutoscaler', CPU_ONLY).spec as Spec;
    const scaling = (PLATFORM_ENGINES.find((e) => e.name === CPU_ONLY)!.workload as { scaling: { minReplicas: number; maxReplicas: number } }).scaling;
    expect({ minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas }).toEqual(scaling);
    expect(spec.behavior.scaleUp).toEqual(before.behavior.scaleUp);
    expect(spec.behavior.scaleDown).toEqual({
      ...before.behavior.scaleDown,
      stabilizationWindowSeconds: TEST_SCALE_DOWN.stabilization.milliseconds / 1000,
      policies: [{ type: 'Pods', value: TEST_SCALE_DOWN.pods, periodSeconds: TEST_SCALE_DOWN.period.milliseconds / 1000 }],
    });
    await applyManifests(cluster!.controlPlane.kubeConfig, [rendered], { fieldManager: 'nautilus-test-cluster' });
    expect(JSON.parse(JSON.stringify((await autoscaler(CPU_ONLY)).spec))).toEqual(rendered.spec);

    // Load again, on frontend only, until it has scaled out at least two pods above its minimum.
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const service = await core.readNamespacedService({ name: CPU_ONLY, namespace: namespaceOf(CPU_ONLY) });
    const url = `http://${service.spec!.clusterIP}:${service.spec!.ports![0].port}/health/live`;
    load = cluster!.node.spawn(['python3', '-c', LOAD_GENERATOR, String(LOAD_MAX_SECONDS), String(LOAD_MAX_REQUESTS), String(LOAD_THREADS_PER_TARGET), url]);
    const peak = await until(`${CPU_ONLY} to scale out to at least ${spec.minReplicas + 2}`, 90_000, async () => {
      const replicas = await replicasOf(CPU_ONLY);
      return replicas >= spec.minReplicas + 2 ? replicas : undefined;
    }, 250).catch(async (error: Error) => { await stopLoad(); throw new Error(`${error.message}\n${await autoscalerSummary([CPU_ONLY])}`); });
    // Let the controller finish the step it took (the scale-up policy allows up to 6 at once).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const from = await replicasOf(CPU_ONLY);
    await stopLoad();
    const stopped = Date.now();

    const steps: Array<{ replicas: number; at: number }> = [];
    await until(`${CPU_ONLY} to scale in to its minimum, ${spec.minReplicas}`, (TEST_SCALE_DOWN.stabilization.milliseconds + (from - spec.minReplicas) * TEST_SCALE_DOWN.period.milliseconds) + 60_000, async () => {
      const replicas = await replicasOf(CPU_ONLY);
      if (replicas !== (steps[steps.length - 1]?.replicas ?? from)) steps.push({ replicas, at: Date.now() });
      return replicas === spec.minReplicas ? true : undefined;
    }, 250).catch(async (error: Error) => { throw new Error(`${error.message}; steps ${JSON.stringify(steps)}\n${await autoscalerSummary([CPU_ONLY])}`); });
    // One pod per step; the first after the window, the others a period apart (less the
    // controller's 2-second sync and this poll's 250 ms).
    expect(steps.map((step) => step.replicas)).toEqual(Array.from({ length: from - spec.minReplicas }, (_, i) => from - 1 - i));
    expect(steps[0].at - stopped).toBeGreaterThanOrEqual(TEST_SCALE_DOWN.stabilization.milliseconds - 2500);
    const gaps = steps.slice(1).map((step, i) => step.at - steps[i].at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(TEST_SCALE_DOWN.period.milliseconds - 2500);
    const rescales = (await autoscalerEvents(CPU_ONLY)).filter((e) => e.reason === 'SuccessfulRescale').map((e) => e.message);
    for (const { replicas } of steps) expect(rescales).toContainEqual(`New size: ${replicas}; reason: All metrics below target`);
    process.stderr.write(`autoscaling on real load: scale-in at the test's pace (window ${TEST_SCALE_DOWN.stabilization.milliseconds / 1000} s, `
      + `${TEST_SCALE_DOWN.pods} pod per ${TEST_SCALE_DOWN.period.milliseconds / 1000} s): ${CPU_ONLY} scaled out to ${peak}, then ${from} -> `
      + `${steps.map((step) => `${step.replicas} at +${((step.at - stopped) / 1000).toFixed(1)} s`).join(', ')} after the load stopped\n`);
  });
});
