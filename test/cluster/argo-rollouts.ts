import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { KubeObject } from '../../src/deploy/objects';
import { promotePatch as productPromotePatch } from '../../src/deploy/release';
import { HostProcess, messageOf, sleep, statusOf } from './support/host-process';
import { kubeRequest, ManifestObject } from './apply';
import { ensureCachedBuild } from './binaries';
import { ControlPlane, freePorts } from './control-plane';
import { readCrds } from './dist-manifests';
import { applyAll } from './environment-cluster';

/**
 * The Argo Rollouts controller (github.com/argoproj/argo-rollouts, `rollouts-controller`) against a
 * test control plane, so that canary and blue/green Rollouts are driven by the real controller. It
 * runs as a process of this machine, as kube-controller-manager does, with a client certificate for
 * the identity upstream's install gives it (the ServiceAccount `argo-rollouts/argo-rollouts`) and
 * upstream's own ClusterRole bound to it, so a permission upstream's RBAC lacks fails here as it
 * would in a cluster.
 */

/** The version scripts/control-plane/build-argo-rollouts.sh builds (and caches under); bump both together. */
export const ARGO_ROLLOUTS_VERSION = 'v1.10.1';

const BUILD_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'control-plane', 'build-argo-rollouts.sh');

/** What the build script caches: the controller and the ClusterRole of the same release. */
export interface ArgoRolloutsBuild {
  /** The `rollouts-controller` binary. */
  readonly binary: string;
  /** Upstream's `manifests/role/argo-rollouts-clusterrole.yaml` of the same release. */
  readonly clusterRole: string;
}

/** The controller and its ClusterRole, built first (about 2.5 minutes cold) when the cache lacks them. */
export async function ensureArgoRollouts(): Promise<ArgoRolloutsBuild> {
  const dir = await ensureCachedBuild(BUILD_SCRIPT, `the Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION}`);
  return { binary: path.join(dir, 'bin', 'rollouts-controller'), clusterRole: path.join(dir, 'manifests', 'argo-rollouts-clusterrole.yaml') };
}

/** The namespace upstream installs the controller in; it also reads its configuration there. */
export const ARGO_ROLLOUTS_NAMESPACE = 'argo-rollouts';

/**
 * The user the controller's client certificate names: the username of upstream's ServiceAccount, so
 * upstream's ClusterRoleBinding (subject `ServiceAccount argo-rollouts/argo-rollouts`) applies to it
 * unchanged. RBAC matches a ServiceAccount subject by that username, whatever authenticated it.
 */
export const ARGO_ROLLOUTS_USER = `system:serviceaccount:${ARGO_ROLLOUTS_NAMESPACE}:argo-rollouts`;

/** The group every ServiceAccount's token carries, carried by the certificate too. */
const SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';

/** The API group of the controller's CRDs. */
const ARGO_GROUP = 'argoproj.io';
const FIELD_MANAGER = 'nautilus-k8s-test-harness';
const DEFAULT_START_TIMEOUT_MS = 60_000;

/** Options for {@link startArgoRollouts}. */
export interface ArgoRolloutsOptions {
  /**
   * Upper bound for the start-up (binary already built, CRDs included), in milliseconds.
   * @default 60000
   */
  readonly startTimeoutMs?: number;
  /**
   * The controller's `--loglevel`: debug, info, warn or error.
   * @default 'info'
   */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Keep the temporary directory (the controller's log) after `stop()` or a failed start.
   * @default false
   */
  readonly keepWorkDir?: boolean;
}

/** A running controller, returned by {@link startArgoRollouts}. */
export interface ArgoRollouts {
  /** Process id; it is also the process-group id (the controller leads its own group). */
  readonly pid: number;
  /** File that receives the controller's stdout and stderr (removed by `stop()` unless `keepWorkDir`). */
  readonly logPath: string;
  /** The controller's own Prometheus endpoint, `http://127.0.0.1:<port>/metrics` (`rollout_info`, `rollout_phase`, ...). */
  readonly metricsUrl: string;
  /** Its liveness endpoint, `http://127.0.0.1:<port>/healthz`. */
  readonly healthzUrl: string;
  /** The controller's log so far. */
  log(): string;
  /** Stops the controller (its process group, SIGTERM then SIGKILL) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the Argo Rollouts controller against `controlPlane` and resolves once it serves `/healthz`
 * and `/metrics` and has synced its informers (its `Started controller` line). First it installs what
 * upstream's install.yaml does around it: the five argoproj.io CRDs (`imports/crds/`, skipped when
 * already Established), the `argo-rollouts` namespace with its ServiceAccount, configuration
 * ConfigMap and notification Secret, and upstream's ClusterRole bound to that ServiceAccount. The
 * controller gets a client certificate for the ServiceAccount's username ({@link ARGO_ROLLOUTS_USER})
 * and nothing else: no admin rights.
 *
 * On failure everything started is stopped and one error names the controller, its version, the
 * time it was given, why, and the last error line of its log. Always call `stop()` (e.g. in
 * `afterAll`); exit and signal handlers and a watchdog process kill the controller and remove its
 * directory if the test process dies first.
 */
export async function startArgoRollouts(controlPlane: ControlPlane, options: ArgoRolloutsOptions = {}): Promise<ArgoRollouts> {
  const build = await ensureArgoRollouts();
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const started = Date.now();
  const deadline = started + startTimeoutMs;
  const kc = controlPlane.kubeConfig;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-argo-rollouts-'));
  // POD_NAMESPACE is how upstream's pod tells it the namespace of its configuration.
  const controller = new HostProcess('rollouts-controller', workDir, options.keepWorkDir ?? false, { POD_NAMESPACE: ARGO_ROLLOUTS_NAMESPACE });
  try {
    await installArgoCrds(kc, deadline);
    const report = await applyAll(kc, argoRolloutsObjects(readClusterRole(build.clusterRole)), FIELD_MANAGER);
    if (report.errors.length > 0) throw new Error(`installing its namespace and RBAC failed:\n${report.errors.join('\n')}`);

    const kubeconfig = controlPlane.issueKubeconfig('argo-rollouts', ARGO_ROLLOUTS_USER, SERVICE_ACCOUNTS_GROUP);
    // The controller binds every interface (v1.10.1 has no flag to change it): ports free on all of them.
    const [metricsPort, healthzPort] = await freePorts(2, '0.0.0.0');
    controller.start(build.binary, argoRolloutsArgs({ kubeconfig, metricsPort, healthzPort, logLevel: options.logLevel ?? 'info' }));
    const healthzUrl = `http://127.0.0.1:${healthzPort}/healthz`;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    await controller.waitFor('/healthz to answer 200', deadline, async () => (await statusOf(healthzUrl)) === 200);
    await controller.waitFor('/metrics to answer 200', deadline, async () => (await statusOf(metricsUrl)) === 200);
    // /healthz answers before the informers are listed; workers start only after this line.
    await controller.waitFor('its informer caches to sync ("Started controller" in its log)', deadline, async () => /msg="Started controller"/.test(controller.log()));
    return {
      pid: controller.pid,
      logPath: controller.logPath,
      metricsUrl,
      healthzUrl,
      log: () => controller.log(),
      stop: () => controller.stop(),
    };
  } catch (error) {
    const log = controller.pid ? controller.log() : undefined;
    const seconds = (Date.now() - started) / 1000;
    await controller.stop();
    const logFile = options.keepWorkDir ? controller.logPath : undefined;
    throw new Error(argoRolloutsStartFailure(messageOf(error), log, seconds, logFile));
  }
}

/**
 * The one message a controller that did not start stops the test with: what it is, how long it was
 * given, why (`reason`: it exited, or what it never reached) and the line of its log that says so
 * (`log` undefined: the process was not started). `logFile` is named only when it is kept.
 */
export function argoRolloutsStartFailure(reason: string, log: string | undefined, seconds: number, logFile?: string): string {
  return `the Argo Rollouts controller ${ARGO_ROLLOUTS_VERSION} (rollouts-controller) did not start within ${Math.ceil(seconds)} s: `
    + `${reason}; its log${logFile ? ` (${logFile})` : ''} ends: ${log === undefined ? '(no log: it was not started)' : argoRolloutsFailure(log)}`;
}

/**
 * The line of the controller's log that says why it stopped: its last error (logrus `level=error` or
 * `level=fatal`, `panic:`, cobra's `Error:`, klog's `E`/`F` lines), or its last line. The command
 * line the harness writes first (`$ ...`) is not the controller's.
 */
export function argoRolloutsFailure(log: string): string {
  const lines = log.trim().split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('$ '));
  return [...lines].reverse().find((line) => /level=(error|fatal|panic)\b|^(panic:|Error:|[EF]\d{4} )/.test(line)) ?? lines[lines.length - 1] ?? '(empty log)';
}

/** The controller's command line for a test: no leader election, free ports, a kubeconfig of its own. */
export function argoRolloutsArgs(options: {
  readonly kubeconfig: string;
  readonly metricsPort: number;
  readonly healthzPort: number;
  readonly logLevel: string;
}): string[] {
  return [
    `--kubeconfig=${options.kubeconfig}`,
    // One controller per control plane: a Lease would only delay the start by its acquisition.
    '--leader-elect=false',
    // It listens on every interface (0.0.0.0, not configurable in v1.10.1); free ports keep two
    // test processes apart.
    `--metricsPort=${options.metricsPort}`,
    `--healthzPort=${options.healthzPort}`,
    `--loglevel=${options.logLevel}`,
    // logrus's text format whatever the output, so the log reads the same as upstream's pod logs.
    '--logformat=text',
  ];
}

/**
 * What upstream's install.yaml creates around the controller, with `clusterRole` (upstream's own,
 * from the same release) bound as upstream binds it: to the ServiceAccount whose username the
 * controller's certificate names. The ConfigMap and Secret are upstream's empty ones: the controller
 * reads its plugin and notification configuration from them.
 */
export function argoRolloutsObjects(clusterRole: ManifestObject): ManifestObject[] {
  const labels = { 'app.kubernetes.io/component': 'rollouts-controller', 'app.kubernetes.io/name': 'argo-rollouts', 'app.kubernetes.io/part-of': 'argo-rollouts' };
  const namespace = ARGO_ROLLOUTS_NAMESPACE;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'argo-rollouts', namespace, labels } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argo-rollouts-config', namespace, labels } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'argo-rollouts-notification-secret', namespace, labels }, type: 'Opaque' },
    clusterRole,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'argo-rollouts', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole.metadata?.name ?? 'argo-rollouts' },
      subjects: [{ kind: 'ServiceAccount', name: 'argo-rollouts', namespace }],
    },
  ];
}

function readClusterRole(file: string): ManifestObject {
  const role = parse(fs.readFileSync(file, 'utf8')) as ManifestObject | null;
  if (role?.kind !== 'ClusterRole') throw new Error(`${file} is not a ClusterRole; rebuild the cache with scripts/control-plane/build-argo-rollouts.sh`);
  return role;
}

/**
 * Installs the argoproj.io CRDs of `imports/crds/` (Rollout, AnalysisTemplate,
 * ClusterAnalysisTemplate, AnalysisRun, Experiment: the controller's informers list all five) unless
 * every one is already Established, and waits until they are. Server-side: each is about 600 KB,
 * over the 256 KB a client-side apply's last-applied annotation may hold.
 */
async function installArgoCrds(kc: KubeConfig, deadline: number): Promise<void> {
  const crds = readCrds().filter((crd) => (crd.spec as { group?: string } | undefined)?.group === ARGO_GROUP);
  if (crds.length === 0) throw new Error(`imports/crds/ has no ${ARGO_GROUP} CRD; run \`npm run import\``);
  const established = async (name: string) => {
    const response = await kubeRequest(kc, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    if (response.status !== 200) return false;
    const crd = JSON.parse(response.body) as { status?: { conditions?: { type: string; status: string }[] } };
    return crd.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True') ?? false;
  };
  const names = crds.map((crd) => crd.metadata?.name ?? '');
  const missing = [];
  for (const [index, name] of names.entries()) {
    if (!(await established(name))) missing.push(crds[index]);
  }
  if (missing.length === 0) return;
  const report = await applyAll(kc, missing, FIELD_MANAGER);
  if (report.errors.length > 0) throw new Error(`installing the ${ARGO_GROUP} CRDs failed:\n${report.errors.join('\n')}`);
  for (const crd of missing) {
    const name = crd.metadata?.name ?? '';
    while (!(await established(name))) {
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not Established in time`);
      await sleep(200);
    }
  }
}

/**
 * Promotes a Rollout the way `kubectl argo rollouts promote NAME` (and `--full`) of the same release
 * does: reads it, computes {@link promotePatch}, sends the status part as a JSON merge patch to the
 * `status` subresource first, then the spec part to the Rollout.
 * @see https://github.com/argoproj/argo-rollouts/blob/v1.10.1/pkg/kubectl-argo-rollouts/cmd/promote/promote.go (PromoteRollout)
 */
export async function promoteRollout(kc: KubeConfig, namespace: string, name: string, options: { readonly full?: boolean } = {}): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const target = { group: ARGO_GROUP, version: 'v1alpha1', namespace, plural: 'rollouts', name };
  const rollout = await api.getNamespacedCustomObject(target) as RolloutForPromotion;
  const patch = promotePatch(rollout, options);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  if (patch.status) await api.patchNamespacedCustomObjectStatus({ ...target, body: { status: patch.status } }, mergePatch);
  if (patch.spec) await api.patchNamespacedCustomObject({ ...target, body: { spec: patch.spec } }, mergePatch);
}

/** The parts of a Rollout {@link promotePatch} reads. */
export interface RolloutForPromotion {
  readonly spec?: {
    readonly paused?: boolean;
    readonly strategy?: { readonly canary?: { readonly steps?: readonly unknown[] }; readonly blueGreen?: unknown };
  };
  readonly status?: {
    readonly currentStepIndex?: number;
    readonly pauseConditions?: readonly { readonly reason: string; readonly startTime?: string }[] | null;
    readonly controllerPause?: boolean;
    readonly currentPodHash?: string;
    readonly stableRS?: string;
    readonly canary?: { readonly currentStepAnalysisRunStatus?: { readonly status?: string } };
  };
}

/**
 * The merge patches `kubectl argo rollouts promote` sends for `rollout` (its `getPatches`, without
 * the deprecated skip flags): `status` for the status subresource, `spec` for the Rollout; either
 * may be absent. The product's own (`nautilus promote`, src/deploy/release.ts), without the single
 * patch it keeps for servers that have no status subresource.
 * @see https://github.com/argoproj/argo-rollouts/blob/v1.10.1/pkg/kubectl-argo-rollouts/cmd/promote/promote.go (getPatches)
 */
export function promotePatch(rollout: RolloutForPromotion, options: { readonly full?: boolean } = {}): { spec?: Record<string, unknown>; status?: Record<string, unknown> } {
  const { spec, status } = productPromotePatch({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: '' }, ...rollout } as KubeObject, options);
  return { spec, status };
}
