/**
 * The real Argo Rollouts controller (argo-rollouts.ts) on a control plane with kwok nodes, with
 * upstream's RBAC and nothing more: a canary Rollout walks its steps (half the pods on the new
 * template, a timed pause, then all of them) and ends with the new template stable; a blue/green
 * Rollout keeps its active Service on the old pods until it is promoted the way
 * `kubectl argo rollouts promote` promotes, then switches it and scales the old pods down after
 * `scaleDownDelaySeconds`. The objects are hand-written: this proves the harness, not the
 * generated manifests.
 */
import { ARGO_ROLLOUTS_METRICS } from '../../src/constructs/monitoring/prometheus-rules';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, V1ReplicaSet } from '@kubernetes/client-node';
import { applyManifests, ManifestObject } from './apply';
import {
  ARGO_ROLLOUTS_VERSION, ArgoRollouts, argoRolloutsStartFailure, promotePatch, promoteRollout, RolloutForPromotion, startArgoRollouts,
} from './argo-rollouts';
import { ControlPlane, startControlPlane } from './control-plane';
import { createFakeNodes } from './fake-nodes';

// Cold, the controller is built first (about 2.5 minutes), and the control plane too when missing.
jest.setTimeout(30 * 60_000);

const NAMESPACE = 'rollouts';
const FIELD_MANAGER = 'nautilus-k8s-test';
/** The label the controller adds to its ReplicaSets, their pods and the Services it points at them. */
const HASH_LABEL = 'rollouts-pod-template-hash';

/** The status fields the test follows. */
interface Rollout extends RolloutForPromotion {
  readonly status?: RolloutForPromotion['status'] & {
    readonly phase?: string;
    readonly message?: string;
    readonly availableReplicas?: number;
  };
}

/** One look at a Rollout and its ReplicaSets. */
interface Sample {
  readonly at: number;
  readonly rollout: Rollout;
  /** Per pod template hash: desired and ready replicas of its ReplicaSet. */
  readonly replicaSets: Readonly<Record<string, { readonly replicas: number; readonly ready: number; readonly scaleDownDeadline?: string }>>;
}

function podTemplate(app: string, image: string): Record<string, unknown> {
  return {
    metadata: { labels: { app } },
    spec: {
      containers: [{
        name: 'app',
        image,
        ports: [{ name: 'http', containerPort: 8080 }],
        resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '32Mi' } },
      }],
    },
  };
}

function service(name: string, app: string): ManifestObject {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NAMESPACE },
    spec: { selector: { app }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
}

function canaryRollout(image: string): ManifestObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'canary-demo', namespace: NAMESPACE },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'canary-demo' } },
      template: podTemplate('canary-demo', image),
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }] } },
    },
  };
}

function blueGreenRollout(image: string): ManifestObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'bluegreen-demo', namespace: NAMESPACE },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'bluegreen-demo' } },
      template: podTemplate('bluegreen-demo', image),
      strategy: {
        blueGreen: { activeService: 'bluegreen-active', previewService: 'bluegreen-preview', autoPromotionEnabled: false, scaleDownDelaySeconds: 5 },
      },
    },
  };
}

let controlPlane: ControlPlane | undefined;
let controller: ArgoRollouts | undefined;
let kc: KubeConfig;

async function apply(objects: readonly ManifestObject[]): Promise<void> {
  const result = await applyManifests(kc, objects, { fieldManager: FIELD_MANAGER });
  expect(result.warnings).toEqual([]);
}

async function sample(name: string): Promise<Sample> {
  const rollout = await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'argoproj.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'rollouts', name,
  }) as Rollout;
  const list = await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: NAMESPACE, labelSelector: `app=${name}` });
  const replicaSets = Object.fromEntries(list.items.map((rs: V1ReplicaSet) => [rs.metadata?.labels?.[HASH_LABEL] ?? '', {
    replicas: rs.spec?.replicas ?? 0,
    ready: rs.status?.readyReplicas ?? 0,
    scaleDownDeadline: rs.metadata?.annotations?.['scale-down-deadline'],
  }]));
  return { at: Date.now(), rollout, replicaSets };
}

/**
 * Samples the Rollout every 150 ms until `done` holds, and returns every sample: the canary's pause
 * lasts 2 s, so its steps are seen in passing rather than waited for.
 */
async function follow(name: string, what: string, done: (sample: Sample) => boolean, timeoutMs = 60_000): Promise<Sample[]> {
  const samples: Sample[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await sample(name);
    samples.push(current);
    if (done(current)) return samples;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for Rollout ${NAMESPACE}/${name} ${what}; last status: ${JSON.stringify(current.rollout.status)}, `
        + `ReplicaSets ${JSON.stringify(current.replicaSets)}\n${controller?.log().split('\n').slice(-15).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Healthy with every replica on one template, the stable one: the state a finished rollout leaves. */
function settledOn(replicas: number, hashOtherThan?: string) {
  return (s: Sample) => {
    const status = s.rollout.status;
    const hash = status?.currentPodHash;
    return status?.phase === 'Healthy' && hash !== undefined && hash !== hashOtherThan && status.stableRS === hash
      && s.replicaSets[hash]?.ready === replicas
      && Object.entries(s.replicaSets).every(([other, rs]) => other === hash || rs.replicas === 0);
  };
}

async function serviceHash(name: string): Promise<string | undefined> {
  const found = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name, namespace: NAMESPACE });
  return found.spec?.selector?.[HASH_LABEL];
}

beforeAll(async () => {
  controlPlane = await startControlPlane();
  kc = controlPlane.kubeConfig;
  await createFakeNodes(kc, [
    { name: 'kwok-a', cpu: '8', memory: '32Gi' },
    { name: 'kwok-b', cpu: '8', memory: '32Gi' },
  ]);
  const started = Date.now();
  controller = await startArgoRollouts(controlPlane);
  process.stderr.write(`Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION} ready in ${Date.now() - started} ms (CRDs and RBAC included)\n`);
  await apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
});

afterAll(async () => {
  await controller?.stop();
  await controlPlane?.stop();
});

describe('the Argo Rollouts controller', () => {
  test('is the pinned release, and says so on its own /metrics', async () => {
    const metrics = await (await fetch(controller!.metricsUrl)).text();
    expect(metrics).toContain(`argo_rollouts_controller_info{version="${ARGO_ROLLOUTS_VERSION}+unknown"} 1`);
  });

  test('walks a canary through its steps and ends with the new template stable', async () => {
    await apply([service('canary-demo', 'canary-demo'), canaryRollout('registry.example/demo:1.0.0')]);
    const [first] = (await follow('canary-demo', 'to be Healthy', settledOn(4))).slice(-1);
    const oldHash = first.rollout.status!.currentPodHash!;

    await apply([canaryRollout('registry.example/demo:1.1.0')]);
    const samples = await follow('canary-demo', 'to finish the canary', settledOn(4, oldHash));
    const updating = samples.filter((s) => s.rollout.status?.currentPodHash !== oldHash);
    const newHash = updating[updating.length - 1].rollout.status!.currentPodHash!;

    // The step index only moves forward: 0 (setWeight 50), 1 (pause), 2 (past the last step).
    const steps = updating.map((s) => s.rollout.status?.currentStepIndex ?? 0);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps[steps.length - 1]).toBe(2);
    // During the pause: half the pods on each template, the old one still stable.
    const paused = updating.filter((s) => s.rollout.status?.currentStepIndex === 1);
    expect(paused.length).toBeGreaterThan(0);
    expect(paused[0].rollout.status?.stableRS).toBe(oldHash);
    expect(paused.some((s) => s.replicaSets[newHash]?.ready === 2 && s.replicaSets[oldHash]?.replicas === 2
      && s.rollout.status?.pauseConditions?.some((c) => c.reason === 'CanaryPauseStep'))).toBe(true);
    // The pause held it 2 s from the start the controller recorded. That start is stored to the
    // second, truncated, so the pause seen lasts between 1 and 2 s.
    const pauseStart = paused.flatMap((s) => s.rollout.status?.pauseConditions ?? []).find((c) => c.reason === 'CanaryPauseStep')?.startTime;
    const resumed = updating.find((s) => (s.rollout.status?.currentStepIndex ?? 0) === 2)!;
    expect(resumed.at).toBeGreaterThanOrEqual(Date.parse(pauseStart!) + 2_000);
    expect(resumed.at - paused[0].at).toBeGreaterThanOrEqual(750); // at least 1 s, less a sampling interval

    const last = samples[samples.length - 1];
    expect(last.rollout.status).toMatchObject({ phase: 'Healthy', stableRS: newHash, currentPodHash: newHash });
    expect(last.replicaSets[oldHash]?.replicas).toBe(0);

    // The Service's endpoints are the new pods only.
    const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: NAMESPACE, labelSelector: 'kubernetes.io/service-name=canary-demo' });
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=canary-demo,${HASH_LABEL}=${newHash}` });
    const podNames = pods.items.map((pod) => pod.metadata?.name).sort();
    const endpointPods = slices.items.flatMap((slice) => slice.endpoints.filter((e) => e.conditions?.ready).map((e) => e.targetRef?.name)).sort();
    expect(podNames).toHaveLength(4);
    expect(endpointPods).toEqual(podNames);
  });

  test('keeps a blue/green active Service on the old pods until promoted, then switches it and scales the old pods down after the delay', async () => {
    await apply([
      service('bluegreen-active', 'bluegreen-demo'), service('bluegreen-preview', 'bluegreen-demo'), blueGreenRollout('registry.example/demo:1.0.0'),
    ]);
    const [first] = (await follow('bluegreen-demo', 'to be Healthy', settledOn(2))).slice(-1);
    const oldHash = first.rollout.status!.currentPodHash!;
    expect(await serviceHash('bluegreen-active')).toBe(oldHash);

    await apply([blueGreenRollout('registry.example/demo:1.1.0')]);
    const [waiting] = (await follow('bluegreen-demo', 'to pause before promotion with the preview ready', (s) => {
      const status = s.rollout.status;
      const hash = status?.currentPodHash;
      return hash !== undefined && hash !== oldHash && s.replicaSets[hash]?.ready === 2 && status?.phase === 'Paused'
        && (status.pauseConditions ?? []).some((c) => c.reason === 'BlueGreenPause');
    })).slice(-1);
    const newHash = waiting.rollout.status!.currentPodHash!;
    expect(waiting.rollout.status?.stableRS).toBe(oldHash);
    expect(await serviceHash('bluegreen-preview')).toBe(newHash);
    expect(await serviceHash('bluegreen-active')).toBe(oldHash);

    // What `kubectl argo rollouts promote` sends here: the pause condition cleared through the status
    // subresource (the controller pauses with conditions, not spec.paused).
    expect(promotePatch(waiting.rollout)).toEqual({ spec: undefined, status: { pauseConditions: null } });
    await promoteRollout(kc, NAMESPACE, 'bluegreen-demo');

    let switchedAt = 0;
    const samples = await follow('bluegreen-demo', 'to switch the active Service and scale the old pods down', (s) => {
      if (!switchedAt && s.rollout.status?.stableRS === newHash) switchedAt = s.at;
      return settledOn(2, oldHash)(s);
    });
    expect(await serviceHash('bluegreen-active')).toBe(newHash);
    expect(await serviceHash('bluegreen-preview')).toBe(newHash);
    // After the switch the old pods stay up until a deadline scaleDownDelaySeconds away. The deadline
    // is stored to the second, truncated: it comes 4 to 5 s after the switch.
    const afterSwitch = samples.filter((s) => s.at >= switchedAt);
    expect(afterSwitch[0].replicaSets[oldHash]).toMatchObject({ replicas: 2 });
    const deadline = Date.parse(afterSwitch.map((s) => s.replicaSets[oldHash]?.scaleDownDeadline).find(Boolean)!);
    expect(deadline - switchedAt).toBeGreaterThanOrEqual(3_500);
    expect(deadline - switchedAt).toBeLessThanOrEqual(5_000);
    const scaledDown = afterSwitch.find((s) => s.replicaSets[oldHash]?.replicas === 0)!;
    expect(scaledDown.at).toBeGreaterThanOrEqual(deadline);
    expect(samples[samples.length - 1].rollout.status).toMatchObject({ phase: 'Healthy', stableRS: newHash, currentPodHash: newHash });
  });

  test('reports both Rollouts finished on its /metrics, and was never refused by upstream\'s RBAC', async () => {
    const metrics = (await (await fetch(controller!.metricsUrl)).text()).split('\n');
    for (const [name, strategy, replicas] of [['canary-demo', 'canary', 4], ['bluegreen-demo', 'blueGreen', 2]]) {
      const labels = `name="${name}",namespace="${NAMESPACE}"`;
      // rollout_info's phase is the metrics' own (Completed, Progressing, Paused, Timeout, Error,
      // Abort, InvalidSpec, from the Progressing condition), not status.phase (Healthy, ...).
      expect(metrics).toContain(`rollout_info{${labels},phase="Completed",strategy="${strategy}",traffic_router=""} 1`);
      expect(metrics).toContain(`rollout_info_replicas_available{${labels}} ${replicas}`);
    }
    // Every series the generated alerts and dashboards read from the controller is one it exports.
    for (const series of Object.values(ARGO_ROLLOUTS_METRICS)) expect(metrics.some((line) => line.startsWith(`${series}{`))).toBe(true);
    expect(controller!.log().split('\n').filter((line) => /forbidden/i.test(line))).toEqual([]);
  });
});

describe('a controller that does not start', () => {
  test('is reported in one message naming it and why, and leaves no process or directory behind', async () => {
    const controllers = () => execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n')
      .filter((line) => line.includes('rollouts-controller --kubeconfig=') && line.includes(controlPlane!.workDir)).length;
    const directories = () => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('nautilus-argo-rollouts-')).sort();
    const before = { controllers: controllers(), directories: directories() };
    // Its deadline passes before /healthz can answer: the start fails after spawning the process.
    await expect(startArgoRollouts(controlPlane!, { startTimeoutMs: 1 })).rejects.toThrow(new RegExp(
      `^the Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION} \\(rollouts-controller\\) did not start within \\d+ s: `
      + 'timed out waiting for /healthz to answer 200 \\(last error: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+\\); its log ends: .+$'));
    expect({ controllers: controllers(), directories: directories() }).toEqual(before);
  });
});

describe('argoRolloutsStartFailure', () => {
  test('names the controller, its version, the time, the reason and the last error line, in one line', () => {
    const log = [
      'time="2026-01-01T00:00:00Z" level=info msg="Argo Rollouts controller starting"',
      'time="2026-01-01T00:00:01Z" level=fatal msg="invalid configuration: no configuration has been provided"',
    ].join('\n');
    expect(argoRolloutsStartFailure('rollouts-controller exited with code 1 while waiting for /healthz to answer 200', log, 0.4)).toBe(
      `the Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION} (rollouts-controller) did not start within 1 s: `
      + 'rollouts-controller exited with code 1 while waiting for /healthz to answer 200; its log ends: '
      + 'time="2026-01-01T00:00:01Z" level=fatal msg="invalid configuration: no configuration has been provided"',
    );
    expect(argoRolloutsStartFailure('x', 'level=info msg="Waiting"\n', 60, '/tmp/x.log')).toMatch(/its log \(\/tmp\/x\.log\) ends: level=info msg="Waiting"$/);
    expect(argoRolloutsStartFailure('x', '$ rollouts-controller --kubeconfig=k\n', 1)).toMatch(/ends: \(empty log\)$/);
    expect(argoRolloutsStartFailure('x', undefined, 1)).toMatch(/ends: \(no log: it was not started\)$/);
  });
});
