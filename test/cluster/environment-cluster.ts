import { KubeConfig } from '@kubernetes/client-node';
import { EnvironmentSpec } from '../../src/environments/environment';
import { applyManifests, ApplyWarning, ManifestObject } from './apply';
import { ArgoRollouts, startArgoRollouts } from './argo-rollouts';
import { ClusterState, readClusterState } from './cluster-state';
import { ControlPlane, startControlPlane } from './control-plane';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds, readDistManifests } from './dist-manifests';
import { environmentNodes } from './environment-nodes';
import { createFakeNodes } from './fake-nodes';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

/** Field manager the environment tests apply `dist/` with. */
export const FIELD_MANAGER = 'nautilus-k8s-environment-test';

/** How applying a set of manifests went: every error and every warning, not just the first. */
export interface ApplyReport {
  /** Objects applied. */
  readonly applied: number;
  /** `Kind namespace/name: message` for each object the API server rejected. */
  readonly errors: readonly string[];
  /** `Kind namespace/name: message` for each Warning header (PodSecurity, deprecations, ...). */
  readonly warnings: readonly string[];
}

/** A control plane with an environment's nodes and a storage provisioner, and `dist/<env>` applied. */
export interface EnvironmentCluster {
  readonly environment: EnvironmentSpec;
  readonly controlPlane: ControlPlane;
  readonly kubeConfig: KubeConfig;
  readonly binder: VolumeBinder;
  /** What applying `dist/<env>` returned. */
  readonly report: ApplyReport;
  /** The objects of `dist/<env>`. */
  readonly manifests: readonly ManifestObject[];
  /** Milliseconds spent in each phase of the bring-up. */
  readonly timings: Readonly<Record<string, number>>;
  /** Stops the binder and the control plane. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Applies the objects one by one (namespaces and CRDs first, as kubectl does) with
 * strict field validation and collects every error and warning instead of stopping at
 * the first, so one run lists everything that is wrong.
 */
export async function applyAll(kc: KubeConfig, objects: readonly ManifestObject[], fieldManager = FIELD_MANAGER): Promise<ApplyReport> {
  const first = ['Namespace', 'CustomResourceDefinition'];
  const ordered = [...objects.filter((o) => first.includes(o.kind)), ...objects.filter((o) => !first.includes(o.kind))];
  const errors: string[] = [];
  const warnings: ApplyWarning[] = [];
  for (const object of ordered) {
    try {
      const result = await applyManifests(kc, [object], { fieldManager });
      warnings.push(...result.warnings);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { applied: ordered.length, errors, warnings: warnings.map((warning) => `${warning.object}: ${warning.message}`) };
}

/**
 * Brings up a cluster shaped like `environment` and applies `dist/<env>` to it:
 *
 * 1. starts a control plane and the fake nodes of {@link environmentNodes};
 * 2. starts the volume binder (the storage provisioner stand-in);
 * 3. installs what the cluster or its operators provide: the CRDs of
 *    `imports/crds/`, the monitoring stack's namespace, storage classes the
 *    environment uses without creating, and, where the environment has
 *    progressive delivery, the Argo Rollouts controller;
 * 4. applies the namespaces of `dist/<env>`, then the credential Secrets a
 *    secret manager would provision in them, then every other object.
 *
 * `transform` may alter the manifests first (the broken-manifest tests break some
 * on purpose). Setup problems (steps 1 to 3, the Secrets) throw; the manifests' own errors
 * and warnings are returned in `report` for the test to assert on. On a throw
 * everything started is stopped.
 */
export async function startEnvironmentCluster(
  environment: EnvironmentSpec,
  options: { readonly transform?: (manifests: ManifestObject[]) => ManifestObject[] } = {},
): Promise<EnvironmentCluster> {
  const manifests = (options.transform ?? ((objects) => objects))(readDistManifests(environment));
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (phase: string) => {
    const now = Date.now();
    timings[phase] = now - mark;
    mark = now;
  };
  // HPAs raise their Deployments to minReplicas on their first sync, one period
  // after creation: 2 s instead of 15 s keeps that out of every rollout wait.
  const controlPlane = await startControlPlane({ horizontalPodAutoscalerSyncPeriodSeconds: 2 });
  let binder: VolumeBinder | undefined;
  let rollouts: ArgoRollouts | undefined;
  const stop = async () => {
    await rollouts?.stop();
    await binder?.stop();
    await controlPlane.stop();
  };
  try {
    lap('control plane');
    const kc = controlPlane.kubeConfig;
    await createFakeNodes(kc, environmentNodes(environment));
    lap('nodes');
    binder = startVolumeBinder(kc);
    await installOrThrow(kc, [...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment)], 'cluster prerequisites');
    // An environment with progressive delivery runs the Argo Rollouts controller: without it, its
    // Rollouts would never create a pod.
    if (environment.progressiveDelivery) rollouts = await startArgoRollouts(controlPlane);
    lap('prerequisites');

    const namespaces = manifests.filter((object) => object.kind === 'Namespace');
    const rest = manifests.filter((object) => object.kind !== 'Namespace');
    const namespaceReport = await applyAll(kc, namespaces);
    const platformNamespaces = namespaces.map((ns) => ns.metadata?.name ?? '').filter((name) => name.startsWith('nautilus-'));
    await installOrThrow(kc, credentialSecrets(platformNamespaces), 'credential Secrets');
    const restReport = await applyAll(kc, rest);
    lap('apply');
    const report: ApplyReport = {
      applied: namespaceReport.applied + restReport.applied,
      errors: [...namespaceReport.errors, ...restReport.errors],
      warnings: [...namespaceReport.warnings, ...restReport.warnings],
    };
    return { environment, controlPlane, kubeConfig: kc, binder, report, manifests, timings, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function installOrThrow(kc: KubeConfig, objects: readonly ManifestObject[], what: string): Promise<void> {
  const report = await applyAll(kc, objects, 'nautilus-k8s-test-harness');
  if (report.errors.length > 0 || report.warnings.length > 0) {
    throw new Error(`installing the ${what} failed:\n${[...report.errors, ...report.warnings].join('\n')}`);
  }
}

/** The last state read and what `check` found in it. */
export interface Settled {
  readonly state: ClusterState;
  readonly problems: readonly string[];
}

/**
 * Reads the cluster state every `intervalMs` until `check` finds no problem or
 * `timeoutMs` passes, and returns the last state with its problems: the
 * controllers, scheduler and kwok need a few seconds to converge, and a test
 * then asserts on what is left.
 */
export async function settle(
  kc: KubeConfig,
  check: (state: ClusterState) => readonly string[],
  timeoutMs = 90_000,
  intervalMs = 1_000,
): Promise<Settled> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await readClusterState(kc);
    const problems = check(state);
    if (problems.length === 0 || Date.now() > deadline) {
      return { state, problems };
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
