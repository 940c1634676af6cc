/**
 * `nautilus preflight|diff|deploy|status` (src/deploy) against a real control plane shaped like
 * dev: fake nodes, the volume binder, real admission, controllers and scheduler. The CLI runs
 * in-process through `runCli` with the control plane's kubeconfig, reading `dist/dev` variants
 * synthesized by the real synthesis into temporary directories; kubectl is the pinned one.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { platformCharts } from '../../charts/platform-charts';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { DEV } from '../../src/environments/platform-environments';
import { APPLYSET_GROUP_KINDS_ANNOTATION, APPLYSET_ID_LABEL, APPLYSET_PART_OF_LABEL, APPLYSET_TOOLING_ANNOTATION, applySetId, kubectlApplySetFlag, parentName } from '../../src/deploy/applyset';
import { CliIo } from '../../src/deploy/cli';
import { DEFAULT_HISTORY_LIMIT } from '../../src/deploy/revisions';
import { synthesizePlatform } from '../../src/synth/synthesize';
import { platformInput } from '../support/platform';
import { kubeRequest, ManifestObject } from './apply';
import { ArgoRollouts, ensureArgoRollouts, startArgoRollouts } from './argo-rollouts';
import { ensureControlPlaneBinaries } from './binaries';
import { CliRun, getJson, runNautilus } from './nautilus-cli';
import { ControlPlane, startControlPlane } from './control-plane';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds, readDistManifests } from './dist-manifests';
import { applyAll } from './environment-cluster';
import { environmentNodes } from './environment-nodes';
import { createFakeNodes } from './fake-nodes';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

const run = promisify(execFile);

jest.setTimeout(180_000);
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

/** The engine whose image changes in the "one engine changed" variant. */
const CHANGED_ENGINE = 'strategy';
/** The engine the "engine removed" variant drops (no other engine depends on it). */
const REMOVED_ENGINE = 'websocket';


let controlPlane: ControlPlane;
let binder: VolumeBinder | undefined;
/** dev's edge engines are Rollouts: the controller rolls them out. */
let rollouts: ArgoRollouts | undefined;
let scratch: string;
/** dist roots (each holding `dev/`): as synthesized, one engine's image changed, one engine removed. */
const dists: Record<'base' | 'changed' | 'removed', string> = { base: '', changed: '', removed: '' };

/** Runs the CLI in-process against the test control plane. */
function nautilus(args: readonly string[], extra: Partial<CliIo> = {}): Promise<CliRun> {
  return runNautilus(controlPlane.kubeconfigPath, args, extra);
}

async function kubectl(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(path.join(controlPlane.binDir, 'kubectl'), ['--kubeconfig', controlPlane.kubeconfigPath, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The objects a diff lists as changed, e.g. `Deployment nautilus-engines/strategy`. */
function diffedObjects(stdout: string): string[] {
  return [...stdout.matchAll(/^\+\+\+ (?:dist\/)?(.+)$/gm)].map((match) => match[1]).filter((name) => name !== '/dev/null').sort();
}

/** The objects a diff lists for pruning. */
function prunedObjects(stdout: string): string[] {
  return [...stdout.matchAll(/^--- live\/(.+)\n\+\+\+ \/dev\/null$/gm)].map((match) => match[1]).sort();
}

function get(apiPath: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return getJson(controlPlane.kubeConfig, apiPath);
}

/** A copy of dev's synthesized dist/ with `extra` objects in one more file. */
function distWith(name: string, extra: readonly ManifestObject[]): string {
  const root = path.join(scratch, name, 'dist');
  // dist/ is a link to the current build: copy the files, not the link, or the base would change too.
  fs.cpSync(dists.base, root, { recursive: true, dereference: true });
  fs.writeFileSync(path.join(root, 'dev', '0005-extra.yaml'), extra.map((object) => JSON.stringify(object)).join('\n---\n'));
  return root;
}

/** A small pod that passes nautilus-engines' restricted Pod Security and fits its quota; `nowhere` makes it unschedulable. */
function smallPod(app: string, options: { nowhere?: boolean; restartPolicy?: string } = {}): Record<string, unknown> {
  return {
    metadata: { labels: { app } },
    spec: {
      ...(options.nowhere ? { nodeSelector: { 'nautilus.io/nowhere': 'true' } } : {}),
      ...(options.restartPolicy ? { restartPolicy: options.restartPolicy } : {}),
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'app', image: `registry.example/${app}:1`,
        resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '32Mi' } },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      }],
    },
  };
}

function batchJob(name: string, options: { activeDeadlineSeconds?: number; nowhere?: boolean }): ManifestObject {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'nautilus-engines' },
    spec: { backoffLimit: 0, ...(options.activeDeadlineSeconds ? { activeDeadlineSeconds: options.activeDeadlineSeconds } : {}), template: smallPod(name, { nowhere: options.nowhere, restartPolicy: 'Never' }) },
  } as ManifestObject;
}

function cronJob(name: string): ManifestObject {
  const job = batchJob(name, {}) as unknown as { spec: Record<string, unknown> };
  return {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: 'nautilus-engines' },
    spec: { schedule: '30 22 * * 1-5', concurrencyPolicy: 'Forbid', jobTemplate: { spec: job.spec } },
  } as ManifestObject;
}

/** A Deployment without `replicas`, so an autoscaler can own them. */
function smallDeployment(name: string): ManifestObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'nautilus-engines' },
    spec: { selector: { matchLabels: { app: name } }, template: smallPod(name) },
  } as ManifestObject;
}

function autoscaler(target: string, metric: Record<string, unknown>): ManifestObject {
  return {
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: target, namespace: 'nautilus-engines' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, minReplicas: 1, maxReplicas: 2, metrics: [metric] },
  } as ManifestObject;
}

/** Runs `attempt` until `done` accepts its result (every half second, up to `timeoutMs`); returns the last result. */
async function eventually<T>(attempt: () => Promise<T>, done: (result: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (done(result) || Date.now() >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function synthesizeDev(root: string, change: (input: ReturnType<typeof platformInput>) => ReturnType<typeof platformInput>): string {
  synthesizePlatform(change(platformInput({ environments: [DEV] })), path.join(root, 'dist'), platformCharts);
  return path.join(root, 'dist');
}

beforeAll(async () => {
  await ensureControlPlaneBinaries();
  await ensureArgoRollouts();
}, BUILD_TIMEOUT_MS);

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-deploy-cli-'));
  dists.base = synthesizeDev(path.join(scratch, 'base'), (input) => input);
  dists.changed = synthesizeDev(path.join(scratch, 'changed'), (input) => ({
    ...input,
    imageTags: new Map([...input.imageTags].map(([engine, tag]) => [engine, engine === CHANGED_ENGINE ? 'sha-fedcba9876543210' : tag])),
  }));
  dists.removed = synthesizeDev(path.join(scratch, 'removed'), (input) => ({
    ...input,
    catalog: PLATFORM_ENGINES.filter((engine) => engine.name !== REMOVED_ENGINE),
    imageTags: new Map([...input.imageTags].filter(([engine]) => engine !== REMOVED_ENGINE)),
  }));

  controlPlane = await startControlPlane({ horizontalPodAutoscalerSyncPeriodSeconds: 2 });
  await createFakeNodes(controlPlane.kubeConfig, environmentNodes(DEV));
  binder = startVolumeBinder(controlPlane.kubeConfig);
  rollouts = await startArgoRollouts(controlPlane);
}, 240_000);

afterAll(async () => {
  await rollouts?.stop();
  await binder?.stop();
  await controlPlane?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('nautilus on a dev-shaped control plane', () => {
  it('preflight fails clearly on a missing CRD and a missing Secret, changing nothing', async () => {
    const bare = await nautilus(['preflight', 'dev', '--dist', dists.base]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/the cluster does not serve ServiceMonitor \(monitoring\.coreos\.com\/v1\).*Fix: install the Prometheus operator's CRDs/);
    expect(bare.stderr).toMatch(/Secret nautilus-data\/timescaledb-credentials is missing .*namespace nautilus-data does not exist yet/);
    expect(bare.stderr).toMatch(/namespace monitoring does not exist and dist\/ does not create it \(\d+ object\(s\) go there, e\.g\. .+\)\. Fix: install the monitoring stack there first/);
    expect(bare.stderr).toContain('nothing was changed');
    expect((await get('/api/v1/namespaces/nautilus-engines')).status).toBe(404);

    // What the cluster's operators (CRDs, the monitoring stack's namespace) and secret manager provide, except one Secret.
    const provided = await applyAll(controlPlane.kubeConfig, [...readCrds(), ...monitoringStackNamespace(DEV), ...clusterProvidedStorageClasses(DEV)], 'nautilus-k8s-test-harness');
    expect(provided.errors).toEqual([]);
    const namespaces = ['nautilus-latency', 'nautilus-engines', 'nautilus-data'];
    const nsObjects: ManifestObject[] = namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    const secrets = credentialSecrets(namespaces).filter((s) => !(s.metadata?.namespace === 'nautilus-engines' && s.metadata?.name === 'redis-credentials'));
    expect((await applyAll(controlPlane.kubeConfig, [...nsObjects, ...secrets], 'secret-manager')).errors).toEqual([]);

    const oneMissing = await nautilus(['preflight', 'dev', '--dist', dists.base]);
    expect(oneMissing.code).toBe(1);
    const problems = oneMissing.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(problems).toEqual([
      expect.stringMatching(/^ {2}- Secret nautilus-engines\/redis-credentials is missing \(read by \d+ object\(s\), e\.g\. Deployment nautilus-engines\/.+\)\. Fix: create it with keys password from your secret manager$/),
    ]);

    expect((await applyAll(controlPlane.kubeConfig, credentialSecrets(['nautilus-engines']), 'secret-manager')).errors).toEqual([]);
    const ok = await nautilus(['preflight', 'dev', '--dist', dists.base]);
    expect(ok.stderr).not.toContain('preflight failed');
    expect(ok.code).toBe(0);
  });

  it('deploys dev from scratch and waits for the rollout; then diff is empty', async () => {
    const deployed = await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '120']);
    expect(deployed.stderr).not.toMatch(/failed|refused/);
    expect(deployed.code).toBe(0);
    // The three namespaces the secret manager created are taken over (labels added), the rest is new.
    expect(deployed.stdout).toMatch(/^dev: \d+ to create, 3 to change, 0 to prune, 0 unchanged$/m);
    expect(deployed.stdout).toMatch(/deploy dev: done, \d+ workloads rolled out/);
    expect(deployed.stderr).toMatch(/rollout: (\d+)\/\1 workloads ready/);
    expect(deployed.stderr).toMatch(/recorded as revision 1 of dev \(rolled out\); see nautilus history dev/);

    // The ApplySet parent, as KEP-3659 spells it.
    const parent = await get(`/apis/nautilus.io/v1alpha1/applysets/${parentName('dev')}`);
    expect(parent.status).toBe(200);
    const metadata = parent.body.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
    expect(metadata.labels[APPLYSET_ID_LABEL]).toBe(applySetId('dev'));
    expect(metadata.annotations[APPLYSET_TOOLING_ANNOTATION]).toMatch(/^nautilus-k8s\/\d+\.\d+\.\d+$/);
    expect(metadata.annotations[APPLYSET_GROUP_KINDS_ANNOTATION]).toContain('Deployment.apps');
    const deployment = await get('/apis/apps/v1/namespaces/nautilus-engines/deployments/strategy');
    expect((deployment.body.metadata as { labels: Record<string, string> }).labels[APPLYSET_PART_OF_LABEL]).toBe(applySetId('dev'));

    // Objects arrive as synthesized, also the fields client-node's typed models rename because
    // they are named like reserved words: a NetworkPolicy rule's `from` (dropped, every rule
    // would admit all sources) and a LimitRange's `default`.
    const paths: Record<string, string> = { NetworkPolicy: '/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/', LimitRange: '/api/v1/namespaces/%s/limitranges/' };
    const checked = readDistManifests(DEV).filter((object) => paths[object.kind]);
    expect(checked.some((object) => JSON.stringify(object.spec).includes('"from":'))).toBe(true);
    for (const object of checked) {
      const live = await get(`${paths[object.kind].replace('%s', object.metadata!.namespace!)}${object.metadata!.name}`);
      expect({ name: `${object.kind} ${object.metadata!.name}`, spec: live.body.spec }).toMatchObject({ name: `${object.kind} ${object.metadata!.name}`, spec: object.spec as object });
    }

    const diff = await nautilus(['diff', 'dev', '--dist', dists.base]);
    expect(diff.stdout).toMatch(/^dev: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(diffedObjects(diff.stdout)).toEqual([]);
    expect(diff.code).toBe(0);

    const status = await nautilus(['status', 'dev', '--dist', dists.base]);
    expect(status.stdout).toMatch(/^ {2}Deployment nautilus-engines\/strategy +ok +1\/1 ready, 1\/1 updated$/m);
    expect(status.stdout.trim().split('\n').pop()).toBe('healthy');
    expect(status.code).toBe(0);
  });

  it("diff after changing one engine shows exactly that engine's objects; deploy rolls it out", async () => {
    const diff = await nautilus(['diff', 'dev', '--dist', dists.changed]);
    expect(diff.code).toBe(1);
    expect(diffedObjects(diff.stdout)).toEqual([`Deployment nautilus-engines/${CHANGED_ENGINE}`]);
    expect(diff.stdout).toMatch(/^-\s+image: .*strategy:sha-0123456789abcdef$/m);
    expect(diff.stdout).toMatch(/^\+\s+image: .*strategy:sha-fedcba9876543210$/m);
    expect(diff.stdout).toMatch(/^dev: 0 to create, 1 to change, 0 to prune, \d+ unchanged$/m);

    const deployed = await nautilus(['deploy', 'dev', '--dist', dists.changed, '--timeout', '120']);
    expect(deployed.code).toBe(0);
    const live = await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${CHANGED_ENGINE}`);
    const containers = ((live.body.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers);
    expect(containers[0].image).toMatch(/sha-fedcba9876543210$/);
    expect((await nautilus(['diff', 'dev', '--dist', dists.changed])).code).toBe(0);
  });

  it('reports a field another manager owns instead of overwriting it; --force-conflicts takes it over', async () => {
    // Someone else sets a label our manifests also set, to another value.
    const intruder = await kubeRequest(controlPlane.kubeConfig, '/api/v1/namespaces/nautilus-engines/services/strategy', {
      method: 'PATCH',
      query: { fieldManager: 'intruder', force: 'true' },
      contentType: 'application/apply-patch+yaml',
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'strategy', namespace: 'nautilus-engines', labels: { 'app.kubernetes.io/part-of': 'someone-else' } } }),
    });
    expect(intruder.status).toBe(200);

    const refused = await nautilus(['deploy', 'dev', '--dist', dists.changed]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^conflict: Service nautilus-engines\/strategy:\n {2}\.metadata\.labels\.app\.kubernetes\.io\/part-of: conflict with "intruder"/m);
    expect(refused.stderr).toContain('--force-conflicts');
    const stillTheirs = await get('/api/v1/namespaces/nautilus-engines/services/strategy');
    expect((stillTheirs.body.metadata as { labels: Record<string, string> }).labels['app.kubernetes.io/part-of']).toBe('someone-else');

    const forced = await nautilus(['deploy', 'dev', '--dist', dists.changed, '--force-conflicts', '--timeout', '60']);
    expect(forced.code).toBe(0);
    const ours = await get('/api/v1/namespaces/nautilus-engines/services/strategy');
    expect((ours.body.metadata as { labels: Record<string, string> }).labels['app.kubernetes.io/part-of']).toBe('nautilus');
  });

  it('prunes the objects of a removed engine, and kubectl apply --prune --applyset agrees on the set', async () => {
    const before = await nautilus(['deploy', 'dev', '--dist', dists.removed, '--dry-run']);
    expect(before.code).toBe(0);
    const ours = prunedObjects(before.stdout);
    expect(ours.length).toBeGreaterThanOrEqual(4);
    expect(ours.every((name) => name.endsWith(`/${REMOVED_ENGINE}`) || name.includes(`/${REMOVED_ENGINE}-`))).toBe(true);
    expect(ours).toEqual(expect.arrayContaining([`Deployment nautilus-engines/${REMOVED_ENGINE}`, `Service nautilus-engines/${REMOVED_ENGINE}`]));
    // --dry-run changed nothing.
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(200);

    // kubectl refuses to touch a set another tool manages (KEP-3659); hand it over for a server-side
    // dry run and compare what kubectl would prune with our list, then hand it back.
    const parentPath = `/apis/nautilus.io/v1alpha1/applysets/${parentName('dev')}`;
    const tooling = ((await get(parentPath)).body.metadata as { annotations: Record<string, string> }).annotations[APPLYSET_TOOLING_ANNOTATION];
    const refused = await kubectl(['apply', '--server-side', '--prune', `--applyset=${kubectlApplySetFlag('dev')}`, '--dry-run=server', '-f', path.join(dists.removed, 'dev')], { KUBECTL_APPLYSET: 'true' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('is managed by tooling "nautilus-k8s" instead of "kubectl"');

    const setTooling = (value: string) => kubeRequest(controlPlane.kubeConfig, parentPath, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ metadata: { annotations: { [APPLYSET_TOOLING_ANNOTATION]: value } } }),
    });
    expect((await setTooling('kubectl/v1.36.3')).status).toBe(200);
    const kubectlRun = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '--prune', `--applyset=${kubectlApplySetFlag('dev')}`, '--dry-run=server', '-f', path.join(dists.removed, 'dev')],
      { KUBECTL_APPLYSET: 'true' },
    );
    expect((await setTooling(tooling)).status).toBe(200);
    expect({ code: kubectlRun.code, stderr: kubectlRun.stderr }).toMatchObject({ code: 0 });
    // `deployment.apps/portfolio pruned (server dry run)` -> `Deployment nautilus-engines/portfolio`
    const kubectlPruned = kubectlRun.stdout.split('\n').filter((line) => / pruned \(server dry run\)$/.test(line)).map((line) => line.split(' ')[0]);
    const asKubectl = (name: string) => {
      const [kind, id] = name.split(' ');
      const group = /^(Deployment|StatefulSet|DaemonSet)$/.test(kind) ? '.apps' : kind === 'HorizontalPodAutoscaler' ? '.autoscaling'
        : kind === 'PodDisruptionBudget' ? '.policy' : kind === 'NetworkPolicy' ? '.networking.k8s.io' : kind === 'ServiceMonitor' ? '.monitoring.coreos.com'
          : kind === 'Rollout' || kind === 'AnalysisTemplate' ? '.argoproj.io' : kind === 'HTTPRoute' ? '.gateway.networking.k8s.io' : '';
      return `${kind.toLowerCase()}${group}/${id.split('/').pop()}`;
    };
    expect(kubectlPruned.sort()).toEqual(ours.map(asKubectl).sort());

    const pruned = await nautilus(['deploy', 'dev', '--dist', dists.removed, '--timeout', '60']);
    expect(pruned.code).toBe(0);
    for (const name of ours) expect(pruned.stderr).toContain(`pruned ${name}`);
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(404);
    expect((await get(`/api/v1/namespaces/nautilus-engines/services/${REMOVED_ENGINE}`)).status).toBe(404);
    const after = await nautilus(['diff', 'dev', '--dist', dists.removed]);
    expect(after.stdout).toMatch(/^dev: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(after.code).toBe(0);
  });

  it('stops at Ctrl-C before the first change, or between two objects with the set covering old and new; a rerun finishes', async () => {
    const interruptedWhen = (pattern: RegExp, stream: 'stdout' | 'stderr') => {
      let interrupt: (() => void) | undefined;
      let text = '';
      return nautilus(['deploy', 'dev', '--dist', dists.base], {
        onInterrupt: (handler) => {
          interrupt = handler;
          return () => undefined;
        },
        [stream]: (chunk: string) => {
          text += chunk;
          if (pattern.test(chunk)) interrupt?.();
        },
      }).then((result) => ({ ...result, [stream]: text }));
    };
    // While the plan is shown: nothing is changed.
    const early = await interruptedWhen(/^dev: \d+ to create/m, 'stdout');
    expect(early.code).toBe(130);
    expect(early.stderr).toContain('interrupted before any change; nothing was changed');
    // As the first object is about to be applied: the parent already covers old and new.
    const during = await interruptedWhen(/^applying \d+ objects/m, 'stderr');
    expect(during.code).toBe(130);
    expect(during.stderr).toMatch(/interrupted after \d+ of \d+ objects: every object is whole, the ApplySet still covers old and new; rerun deploy to finish/);
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(404);
    const parent = await get(`/apis/nautilus.io/v1alpha1/applysets/${parentName('dev')}`);
    expect((parent.body.metadata as { annotations: Record<string, string> }).annotations[APPLYSET_GROUP_KINDS_ANNOTATION]).toContain('Deployment.apps');

    const rerun = await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '120']);
    expect(rerun.code).toBe(0);
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(200);
  });

  it('times out naming a workload that never becomes ready, with its last events', async () => {
    const broken = path.join(scratch, 'broken', 'dist');
    // dist/ is a link to the current build: copy the files, not the link, or the base would change too.
    fs.cpSync(dists.base, broken, { recursive: true, dereference: true });
    const neverReady = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'never-ready', namespace: 'nautilus-engines' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'never-ready' } },
        template: {
          metadata: { labels: { app: 'never-ready' } },
          spec: {
            // No node carries this label: the pod stays Pending.
            nodeSelector: { 'nautilus.io/nowhere': 'true' },
            securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'app', image: 'registry.example/never-ready:1',
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '64Mi' } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            }],
          },
        },
      },
    };
    fs.writeFileSync(path.join(broken, 'dev', '0004-never-ready.yaml'), JSON.stringify(neverReady));
    const started = Date.now();
    const result = await nautilus(['deploy', 'dev', '--dist', broken, '--timeout', '8']);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.stderr).toMatch(/deploy dev: 1 workload\(s\) did not become ready within 8 s:\n {2}- Deployment nautilus-engines\/never-ready: 0\/1 ready/);
    expect(result.stderr).toMatch(/Warning FailedScheduling Pod\/never-ready-.*didn't match Pod's node affinity\/selector/);

    const status = await nautilus(['status', 'dev', '--dist', broken]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/^ {2}Deployment nautilus-engines\/never-ready +PENDING 0\/1 ready/m);
    expect(status.stdout).toMatch(/^ {2}Pod nautilus-engines\/never-ready-\S+: Unschedulable: .*node affinity\/selector/m);
    expect(status.stdout.trim().split('\n').pop()).toBe('UNHEALTHY');

    // Back to dist/ as synthesized: the stray Deployment is pruned.
    const cleaned = await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '60']);
    expect(cleaned.code).toBe(0);
    expect(cleaned.stderr).toContain('pruned Deployment nautilus-engines/never-ready');
  });

  it("waits for a Job until it succeeds and stops at a failed one with its pods' events; a CronJob is current once applied, its failed last Job unhealthy", async () => {
    // kwok's pod-complete stage finishes every running pod a Job owns with exit code 0: this Job succeeds.
    const batch = distWith('batch', [batchJob('one-off', {}), cronJob('nightly')]);
    const deployed = await nautilus(['deploy', 'dev', '--dist', batch, '--timeout', '60']);
    expect(deployed.stderr).not.toMatch(/failed|did not become ready/);
    expect(deployed.code).toBe(0);
    const oneOff = await get('/apis/batch/v1/namespaces/nautilus-engines/jobs/one-off');
    expect((oneOff.body.status as { succeeded?: number }).succeeded).toBe(1);

    const fine = await nautilus(['status', 'dev', '--dist', batch]);
    expect(fine.stdout).toMatch(/^ {2}Job nautilus-engines\/one-off +ok +1\/1 succeeded$/m);
    expect(fine.stdout).toMatch(/^ {2}CronJob nautilus-engines\/nightly +ok +schedule "30 22 \* \* 1-5"; last scheduled never; last succeeded never; 0 active$/m);
    expect(fine.stdout.trim().split('\n').pop()).toBe('healthy');
    expect(fine.code).toBe(0);

    // A run of the CronJob fails: its pod cannot be scheduled within activeDeadlineSeconds. Created
    // as `kubectl create job --from=cronjob/nightly` does, so the CronJob controller tracks it.
    const nightly = await get('/apis/batch/v1/namespaces/nautilus-engines/cronjobs/nightly');
    const uid = (nightly.body.metadata as { uid: string }).uid;
    const cronRun = (name: string, options: { activeDeadlineSeconds?: number; nowhere?: boolean }): ManifestObject => ({
      ...batchJob(name, options),
      metadata: { name, namespace: 'nautilus-engines', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid, controller: true }] },
    });
    expect((await applyAll(controlPlane.kubeConfig, [cronRun('nightly-failed', { activeDeadlineSeconds: 2, nowhere: true })], 'someone')).errors).toEqual([]);
    const failedRun = await eventually(() => nautilus(['status', 'dev', '--dist', batch]), (status) => /CronJob nautilus-engines\/nightly +FAILED/.test(status.stdout));
    expect(failedRun.stdout).toMatch(/^ {2}CronJob nautilus-engines\/nightly +FAILED +schedule "30 22 \* \* 1-5"; .*; last Job nightly-failed failed: DeadlineExceeded: Job was active longer than specified deadline$/m);
    expect(failedRun.stdout.trim().split('\n').pop()).toBe('UNHEALTHY');
    expect(failedRun.code).toBe(1);

    // A later run succeeds: healthy again, with the success time the CronJob controller recorded.
    expect((await applyAll(controlPlane.kubeConfig, [cronRun('nightly-rerun', {})], 'someone')).errors).toEqual([]);
    const rerun = await eventually(() => nautilus(['status', 'dev', '--dist', batch]), (status) => /CronJob nautilus-engines\/nightly +ok .*last succeeded 20/.test(status.stdout));
    expect(rerun.stdout).toMatch(/^ {2}CronJob nautilus-engines\/nightly +ok +schedule "30 22 \* \* 1-5"; last scheduled never; last succeeded \d{4}-\d\d-\d\dT[\d:]+Z; 0 active$/m);
    expect(rerun.code).toBe(0);

    // A Job applied directly that fails: the wait stops at once and quotes its events and its (deleted) pod's.
    const doomed = distWith('doomed', [batchJob('one-off', {}), cronJob('nightly'), batchJob('doomed', { activeDeadlineSeconds: 3, nowhere: true })]);
    const started = Date.now();
    const failed = await nautilus(['deploy', 'dev', '--dist', doomed, '--timeout', '120']);
    expect(failed.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(failed.stderr).toMatch(/deploy dev: 1 workload\(s\) failed, which waiting will not change; not ready:\n {2}- Job nautilus-engines\/doomed: failed: DeadlineExceeded Job was active longer than specified deadline/);
    expect(failed.stderr).toMatch(/Warning DeadlineExceeded Job\/doomed: Job was active longer than specified deadline/);
    expect(failed.stderr).toMatch(/Warning FailedScheduling Pod\/doomed-[a-z0-9]{5}: .*didn't match Pod's node affinity\/selector/);
    const doomedStatus = await nautilus(['status', 'dev', '--dist', doomed]);
    expect(doomedStatus.stdout).toMatch(/^ {2}Job nautilus-engines\/doomed +FAILED +failed: DeadlineExceeded/m);
    expect(doomedStatus.code).toBe(1);

    // A CronJob someone suspended will not run: the wait stops at it.
    const suspend = await kubeRequest(controlPlane.kubeConfig, '/apis/batch/v1/namespaces/nautilus-engines/cronjobs/nightly', {
      method: 'PATCH', contentType: 'application/merge-patch+json', body: JSON.stringify({ spec: { suspend: true } }),
    });
    expect(suspend.status).toBe(200);
    const suspended = await nautilus(['deploy', 'dev', '--dist', batch, '--timeout', '120']);
    expect(suspended.code).toBe(1);
    expect(suspended.stderr).toContain('pruned Job nautilus-engines/doomed');
    expect(suspended.stderr).toMatch(/^ {2}- CronJob nautilus-engines\/nightly: suspended \(spec\.suspend is true\): its schedule does not run\. Fix: set spec\.suspend to false$/m);
    expect((await nautilus(['status', 'dev', '--dist', batch])).stdout).toMatch(/^ {2}CronJob nautilus-engines\/nightly +SUSPEND /m);

    const cleaned = await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '60']);
    expect(cleaned.code).toBe(0);
    for (const name of ['Job nautilus-engines/one-off', 'CronJob nautilus-engines/nightly']) expect(cleaned.stderr).toContain(`pruned ${name}`);
  });

  it('status counts an autoscaler that cannot read its metrics as unhealthy, naming each; --ignore-autoscaler-metrics tolerates only that', async () => {
    // The test control plane has no metrics-server and no custom metrics API: neither HPA can read its metric.
    const scaled = distWith('autoscaled', [
      smallDeployment('autoscaled-cpu'),
      autoscaler('autoscaled-cpu', { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }),
      smallDeployment('autoscaled-rps'),
      autoscaler('autoscaled-rps', { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '1k' } } }),
    ]);
    const deployed = await nautilus(['deploy', 'dev', '--dist', scaled, '--timeout', '60']);
    expect(deployed.code).toBe(0);

    const status = await eventually(() => nautilus(['status', 'dev', '--dist', scaled]), (result) => (result.stdout.match(/ FAILING /g) ?? []).length === 2);
    expect(status.stdout).toMatch(/^AUTOSCALERS$/m);
    expect(status.stdout).toMatch(/^ {2}HorizontalPodAutoscaler nautilus-engines\/autoscaled-cpu +FAILING replicas 1 \(min 1, max 2\); cpu <unknown>\/70%; cannot scale: ScalingActive=False FailedGetResourceMetric: .*cpu/m);
    expect(status.stdout).toMatch(/^ {2}HorizontalPodAutoscaler nautilus-engines\/autoscaled-rps +FAILING replicas 1 \(min 1, max 2\); requests_per_second <unknown>\/1k; cannot scale: ScalingActive=False FailedGetPodsMetric: .*requests_per_second/m);
    // Nothing else is wrong: the workloads are rolled out.
    expect(status.stdout).not.toMatch(/PENDING|FAILED|MISSING|NOT MET/);
    expect(status.stdout.trim().split('\n').pop()).toBe('UNHEALTHY');
    expect(status.code).toBe(1);

    const tolerated = await nautilus(['status', 'dev', '--dist', scaled, '--ignore-autoscaler-metrics']);
    expect(tolerated.stdout).toMatch(/^ {2}HorizontalPodAutoscaler nautilus-engines\/autoscaled-cpu +ignored replicas 1 .*FailedGetResourceMetric: .* \(--ignore-autoscaler-metrics\)$/m);
    expect(tolerated.stdout.trim().split('\n').pop()).toBe('healthy');
    expect(tolerated.code).toBe(0);

    // An autoscaler whose target is gone cannot scale either, and no option hides that.
    const noTarget = distWith('no-target', [
      autoscaler('autoscaled-cpu', { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }),
    ]);
    expect((await nautilus(['deploy', 'dev', '--dist', noTarget, '--timeout', '60'])).code).toBe(0);
    const orphan = await eventually(
      () => nautilus(['status', 'dev', '--dist', noTarget, '--ignore-autoscaler-metrics']),
      (result) => / FAILING .*AbleToScale=False/.test(result.stdout),
    );
    expect(orphan.stdout).toMatch(/^ {2}HorizontalPodAutoscaler nautilus-engines\/autoscaled-cpu +FAILING .*cannot scale: AbleToScale=False FailedGetScale: /m);
    expect(orphan.code).toBe(1);

    const cleaned = await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '60']);
    expect(cleaned.code).toBe(0);
    expect(cleaned.stderr).toContain('pruned HorizontalPodAutoscaler nautilus-engines/autoscaled-cpu');
  });

  it('an expired token and a forbidden verb are each one line naming the cluster, the cause and the fix', async () => {
    // The cluster and its CA as the admin's (the file is JSON), the user a token the API server does not know.
    const admin = JSON.parse(fs.readFileSync(controlPlane.kubeconfigPath, 'utf8')) as { users: Array<{ user: Record<string, string> }> };
    admin.users[0].user = { token: 'expired-token' };
    const expired = path.join(scratch, 'expired.kubeconfig');
    fs.writeFileSync(expired, JSON.stringify(admin));
    const withKubeconfig = (kubeconfig: string): Promise<CliRun> => runNautilus(kubeconfig, ['status', 'dev', '--dist', dists.base]);
    const refused = await withKubeconfig(expired);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/status dev failed: cluster https:\/\/127\.0\.0\.1:\d+ \(context [^)]+\) refused the context's credentials \(HTTP 401 Unauthorized: an expired or revoked token or certificate\)\. Fix: renew them/);

    const nobody = controlPlane.issueKubeconfig('nobody', 'nobody');
    const forbidden = await withKubeconfig(nobody);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/status dev failed: cluster https:\/\/127\.0\.0\.1:\d+ \(context [^)]+\) forbids it: .*"nobody" cannot (get|list) .*\. Fix: grant the context's user that verb on that resource \(RBAC\)/);
  });

  it('asks before pruning in prod: without --yes and without a terminal nothing is changed', async () => {
    // A member of prod's set that prod's manifests do not have. (The cluster is shaped like dev, so
    // prod's own manifests are replaced by one ConfigMap: the rule depends on the environment only.)
    const stray: ManifestObject = {
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: 'stray', namespace: 'nautilus-engines', labels: { [APPLYSET_PART_OF_LABEL]: applySetId('prod') } },
      data: { left: 'over' },
    };
    expect((await applyAll(controlPlane.kubeConfig, [stray], 'someone')).errors).toEqual([]);
    const prodDist = path.join(scratch, 'prod', 'dist');
    fs.mkdirSync(path.join(prodDist, 'prod'), { recursive: true });
    const kept = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace: 'nautilus-engines' }, data: { a: 'b' } };
    fs.writeFileSync(path.join(prodDist, 'prod', '0000-cluster.yaml'), JSON.stringify(kept));

    const refused = await nautilus(['deploy', 'prod', '--dist', prodDist]);
    expect(refused.stdout).toMatch(/^prod: 1 to create, 0 to change, 1 to prune, 0 unchanged$/m);
    expect(refused.stderr).toContain('deploy refused: prod asks before pruning and there is no terminal to ask on; nothing was changed. Fix: rerun with --yes, or --no-prune');
    expect(refused.code).toBe(1);
    let asked = '';
    const declined = await nautilus(['deploy', 'prod', '--dist', prodDist], {
      confirm: async (question) => {
        asked = question;
        return false;
      },
    });
    expect(asked).toBe('prune 1 object(s) from prod (listed above)? [y/N] ');
    expect(declined.stderr).toContain('deploy cancelled; nothing was changed');
    expect(declined.code).toBe(1);
    expect((await get('/api/v1/namespaces/nautilus-engines/configmaps/stray')).status).toBe(200);
    expect((await get('/api/v1/namespaces/nautilus-engines/configmaps/kept')).status).toBe(404);
    expect((await get(`/apis/nautilus.io/v1alpha1/applysets/${parentName('prod')}`)).status).toBe(404);

    const confirmed = await nautilus(['deploy', 'prod', '--dist', prodDist, '--yes']);
    expect(confirmed.code).toBe(0);
    expect(confirmed.stderr).toContain('pruned ConfigMap nautilus-engines/stray');
    expect((await get('/api/v1/namespaces/nautilus-engines/configmaps/stray')).status).toBe(404);

    // A rollback of prod asks too.
    fs.writeFileSync(path.join(prodDist, 'prod', '0000-cluster.yaml'), JSON.stringify({ ...kept, data: { a: 'c' } }));
    expect((await nautilus(['deploy', 'prod', '--dist', prodDist])).code).toBe(0);
    const unasked = await nautilus(['rollback', 'prod']);
    expect(unasked.stderr).toContain('rollback refused: prod asks before a rollback and there is no terminal to ask on; nothing was changed. Fix: rerun with --yes');
    expect(unasked.code).toBe(1);
    const rolledBack = await nautilus(['rollback', 'prod'], {
      confirm: async (question) => {
        asked = question;
        return true;
      },
    });
    expect(asked).toBe('roll prod back to revision 1 (listed above)? [y/N] ');
    expect(rolledBack.code).toBe(0);
    expect(((await get('/api/v1/namespaces/nautilus-engines/configmaps/kept')).body.data as Record<string, string>).a).toBe('b');
    // dev's set is untouched by prod's.
    expect((await nautilus(['diff', 'dev', '--dist', dists.base])).code).toBe(0);
  });
});

describe('deploy history', () => {
  it('every deploy that changed dev is a revision in the cluster; the newest 10 are kept and listed', async () => {
    const history = await nautilus(['history', 'dev']);
    expect(history.code).toBe(0);
    const [header, ...rows] = history.stdout.trim().split('\n');
    expect(header).toMatch(/^REVISION +TIME +COMMIT +OUTCOME +CHANGES +BY$/);
    expect(rows).toHaveLength(DEFAULT_HISTORY_LIMIT);
    const numbers = rows.map((row) => Number(row.split(/\s+/)[0]));
    // More deploys changed dev above than are kept: the oldest are gone, the rest are consecutive.
    expect(numbers[0]).toBeGreaterThan(1);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0] + i));
    // The oldest kept shows its object count, the others what changed since the one before.
    expect(rows[0]).toMatch(/^\d+ +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +- +(rolled out|failed|interrupted) +\d+ objects +admin \(admin\)$/);
    for (const row of rows.slice(1)) expect(row).toMatch(/^\d+ +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +- +(rolled out|failed|interrupted|applied, not waited for) +\+\d+ ~\d+ -\d+ objects, \d+ new images? +admin \(admin\)$/);
    expect(history.stdout).toMatch(/^\d+ .* failed /m);
    expect(rows[rows.length - 1]).toMatch(/ rolled out /);
    // As stored: one ApplySetRevision per kept revision, labelled with its environment and number.
    const listed = await get(`/apis/nautilus.io/v1alpha1/applysetrevisions?labelSelector=${encodeURIComponent('nautilus.io/environment=dev')}`);
    const items = listed.body.items as Array<{ metadata: { name: string; labels: Record<string, string> }; manifests: string }>;
    expect(items.map((item) => Number(item.metadata.labels['nautilus.io/revision'])).sort((a, b) => a - b)).toEqual(numbers);
    // dev's record stays far under the API server's 1.5 MiB request limit.
    for (const item of items) expect(item.manifests.length).toBeLessThan(256 * 1024);

    // diff --revision compares the cluster with a recorded revision: the latest is what runs, a
    // failed one differs, and an unknown one names the revisions kept.
    const latest = numbers[numbers.length - 1];
    const same = await nautilus(['diff', 'dev', '--revision', String(latest)]);
    expect(same.stderr).toMatch(new RegExp(`^diff dev: revision ${latest}, \\d+ objects, cluster `, 'm'));
    expect(same.stdout).toMatch(/^dev: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(same.code).toBe(0);
    const failed = Number(rows.find((row) => / failed /.test(row))!.split(/\s+/)[0]);
    const differs = await nautilus(['diff', 'dev', '--revision', String(failed)]);
    expect(differs.stdout).toMatch(/^dev: \d+ to create, \d+ to change, \d+ to prune, \d+ unchanged$/m);
    expect(differs.stdout).not.toMatch(/^dev: 0 to create, 0 to change, 0 to prune/m);
    expect(differs.code).toBe(1);
    const unknown = await nautilus(['diff', 'dev', '--revision', '999']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`diff dev failed: the cluster has no revision 999 of dev (it keeps ${numbers[0]} to ${latest}). Fix: pick one that nautilus history dev lists`);
    expect((await nautilus(['status', 'dev', '--revision', '1'])).stderr).toMatch(/^--revision is for diff/);
  });
});

describe('the npm scripts', () => {
  it.each([['deploy'], ['diff'], ['status']])('npm run %s -- --help prints the usage', async (script) => {
    const { stdout } = await run('npm', ['run', '--silent', script, '--', '--help'], { cwd: path.resolve(__dirname, '..', '..') });
    expect(stdout).toMatch(/^Usage: nautilus <command> <environment> \[options\]/);
    expect(stdout).toContain('--force-conflicts');
  });

  it('the bundled tool (bin/nautilus.js) talks to the cluster as runCli does', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'status', '--', 'dev', '--dist', dists.base, '--kubeconfig', controlPlane.kubeconfigPath], {
      cwd: path.resolve(__dirname, '..', '..'),
    });
    expect(stdout).toMatch(/^ {2}Deployment nautilus-engines\/strategy +ok +1\/1 ready, 1\/1 updated$/m);
    expect(stdout.trim().split('\n').pop()).toBe('healthy');
  });
});
