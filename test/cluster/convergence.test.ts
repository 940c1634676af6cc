/**
 * Apply converges: `kubectl apply -f dist/<env>/` (client-side, the README's path) run twice
 * with the pinned kubectl against a real API server reports every object `unchanged` the second
 * time. An object reported `configured` again means the manifests say something the server
 * stores differently (a number where it keeps a canonical quantity string, a field it drops or
 * fills in), so GitOps controllers would show it out of sync forever.
 *
 * One named exception: kubectl reports every PodDisruptionBudget `configured`. policy/v1 gives
 * `spec.selector` the `replace` patch strategy (kubernetes/kubernetes#99290), and kubectl's
 * three-way strategic merge (k8s.io/apimachinery strategicpatch `handleMapDiff`) puts a
 * replace-strategy field into the patch whether or not it changed, so the patch is never empty.
 * The server then changes nothing: the test checks that no PodDisruptionBudget's spec generation moves.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { ensureControlPlaneBinaries } from './binaries';
import { ControlPlane, startControlPlane } from './control-plane';
import { clusterProvidedStorageClasses, distDirectory, monitoringStackNamespace, readCrds, readDistManifests } from './dist-manifests';
import { waitForCrdKindsServed } from './apply';
import { applyAll } from './environment-cluster';

const run = promisify(execFile);

jest.setTimeout(120_000);
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

/** One line of `kubectl apply` output: `deployment.apps/risk-engine unchanged`. */
interface ApplyLine {
  readonly object: string;
  readonly outcome: string;
}

/** Kinds kubectl reports `configured` on every apply although nothing changes (see above). */
const ALWAYS_PATCHED_KINDS = ['poddisruptionbudget.policy'];

async function kubectl(controlPlane: ControlPlane, args: readonly string[]): Promise<string> {
  const { stdout } = await run(path.join(controlPlane.binDir, 'kubectl'), ['--kubeconfig', controlPlane.kubeconfigPath, '--cache-dir', path.join(path.dirname(controlPlane.kubeconfigPath), 'kubectl-cache'), ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/**
 * `metadata.generation` of the directory's objects of the always-patched kinds, by
 * `kind/namespace/name`. It moves only when the spec is written (resourceVersion would also move
 * on status updates by the controllers). Other kinds are left out: their apply reports
 * `unchanged`, and a controller may write their spec meanwhile (the HPA controller raising a
 * Deployment to its minimum, whenever its sync comes).
 */
async function generations(controlPlane: ControlPlane, directory: string): Promise<Record<string, number | undefined>> {
  const list = JSON.parse(await kubectl(controlPlane, ['get', '-f', directory, '-o', 'json'])) as {
    items: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; generation?: number } }[];
  };
  const alwaysPatched = (item: { apiVersion: string; kind: string }) => ALWAYS_PATCHED_KINDS.includes(`${item.kind.toLowerCase()}.${item.apiVersion.split('/')[0]}`);
  return Object.fromEntries(
    list.items.filter((item) => item.metadata.generation !== undefined && alwaysPatched(item))
      .map((item) => [`${item.kind}/${item.metadata.namespace ?? ''}/${item.metadata.name}`, item.metadata.generation]),
  );
}

/** Runs `kubectl apply -f <dir>` and returns one entry per object it reported. */
async function kubectlApply(controlPlane: ControlPlane, directory: string): Promise<ApplyLine[]> {
  const stdout = await kubectl(controlPlane, ['apply', '-f', directory]);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [object, ...rest] = line.trim().split(' ');
      return { object, outcome: rest.join(' ') };
    });
}

beforeAll(async () => {
  await ensureControlPlaneBinaries();
}, BUILD_TIMEOUT_MS);

describe.each(PLATFORM_ENVIRONMENTS.map((environment) => [environment.name, environment] as const))(
  'kubectl apply -f dist/%s/ twice',
  (_name, environment) => {
    let controlPlane: ControlPlane;

    beforeAll(async () => {
      controlPlane = await startControlPlane();
      // What the cluster's operators provide (the CRDs, the monitoring stack's namespace) and, in dev, the cluster's own storage class.
      const report = await applyAll(controlPlane.kubeConfig, [...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment)], 'nautilus-k8s-test-harness');
      expect(report.errors).toEqual([]);
      await waitForCrdKindsServed(controlPlane.kubeConfig, readCrds());
    }, 240_000);

    afterAll(async () => {
      await controlPlane?.stop();
    });

    it('creates every object, then reports every object unchanged', async () => {
      const objects = readDistManifests(environment).length;
      const first = await kubectlApply(controlPlane, distDirectory(environment));
      expect(first).toHaveLength(objects);
      expect(first.filter((line) => line.outcome !== 'created')).toEqual([]);

      const before = await generations(controlPlane, distDirectory(environment));
      // Every budget of the directory is read (dev, one replica per engine, has none).
      expect(Object.keys(before)).toHaveLength(readDistManifests(environment).filter((o) => o.kind === 'PodDisruptionBudget').length);
      const second = await kubectlApply(controlPlane, distDirectory(environment));
      expect(second).toHaveLength(objects);
      // Listing the offenders (not a count) names each object that does not converge.
      const alwaysPatched = (line: ApplyLine) => ALWAYS_PATCHED_KINDS.includes(line.object.split('/')[0]);
      expect(second.filter((line) => line.outcome !== 'unchanged' && !(alwaysPatched(line) && line.outcome === 'configured'))).toEqual([]);
      // ...and the exception's patches change nothing on the server.
      expect(await generations(controlPlane, distDirectory(environment))).toEqual(before);
    });
  },
);
