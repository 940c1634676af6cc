/**
 * `nautilus rollback` (src/deploy/rollback.ts) on a real control plane shaped like dev (fake
 * nodes, the volume binder, real admission, controllers and scheduler): a recorded revision is
 * deployed again from the cluster's own record, without a checkout or a synthesis, and nothing
 * that holds data is touched. The CLI runs in-process through `runCli`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments, stringify } from 'yaml';
import { platformCharts } from '../../charts/platform-charts';
import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { CliIo } from '../../src/deploy/cli';
import { DEV } from '../../src/environments/platform-environments';
import { synthesizePlatform } from '../../src/synth/synthesize';
import { platformInput } from '../support/platform';
import { kubeRequest, ManifestObject } from './apply';
import { ArgoRollouts, ensureArgoRollouts, startArgoRollouts } from './argo-rollouts';
import { ensureControlPlaneBinaries } from './binaries';
import { CliRun, getJson, runNautilus } from './nautilus-cli';
import { ControlPlane, startControlPlane } from './control-plane';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from './dist-manifests';
import { applyAll } from './environment-cluster';
import { environmentNodes } from './environment-nodes';
import { createFakeNodes } from './fake-nodes';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

jest.setTimeout(180_000);
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

const CHANGED_ENGINE = 'strategy';
const REMOVED_ENGINE = 'websocket';
const CHANGED_CONFIG_MAP = 'prometheus-adapter-nautilus';
const REVISIONS = '/apis/nautilus.io/v1alpha1/applysetrevisions';


let controlPlane: ControlPlane;
let binder: VolumeBinder | undefined;
let rollouts: ArgoRollouts | undefined;
let scratch: string;
/** dist roots (each holding `dev/`). */
const dists = { base: '', changed: '', oldRedis: '', neverReady: '' };

/** Runs the CLI in-process against the test control plane. */
function nautilus(args: readonly string[], extra: Partial<CliIo> = {}): Promise<CliRun> {
  return runNautilus(controlPlane.kubeconfigPath, args, extra);
}

function get(apiPath: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return getJson(controlPlane.kubeConfig, apiPath);
}

function synthesizeDev(name: string, change: (input: ReturnType<typeof platformInput>) => ReturnType<typeof platformInput>): string {
  const root = path.join(scratch, name, 'dist');
  synthesizePlatform(change(platformInput({ environments: [DEV] })), root, platformCharts);
  return root;
}

/** Rewrites the objects of every file of `<root>/dev/` through `edit`. */
function editObjects(root: string, edit: (object: ManifestObject) => ManifestObject): void {
  const directory = path.join(root, 'dev');
  for (const file of fs.readdirSync(directory).filter((f) => f.endsWith('.yaml'))) {
    const objects = parseAllDocuments(fs.readFileSync(path.join(directory, file), 'utf8')).map((d) => d.toJSON() as ManifestObject | null);
    fs.writeFileSync(path.join(directory, file), objects.filter((o): o is ManifestObject => o !== null).map((o) => stringify(edit(o))).join('---\n'));
  }
}

/** The revision numbers history lists, and each row. */
async function history(): Promise<Array<{ revision: number; row: string }>> {
  const listed = await nautilus(['history', 'dev']);
  expect(listed.code).toBe(0);
  return listed.stdout.trim().split('\n').slice(1).map((row) => ({ revision: Number(row.split(/\s+/)[0]), row }));
}

/** What holds the stores' data: each claim with its uid and the volume bound to it. */
async function storeClaims(): Promise<string[]> {
  const claims = await get('/api/v1/namespaces/nautilus-data/persistentvolumeclaims');
  const items = claims.body.items as Array<{ metadata: { name: string; uid: string }; spec: { volumeName?: string } }>;
  const volumes = await get('/api/v1/persistentvolumes');
  const byName = new Map((volumes.body.items as Array<{ metadata: { name: string; uid: string } }>).map((v) => [v.metadata.name, v.metadata.uid]));
  return items.map((c) => `${c.metadata.name} ${c.metadata.uid} -> ${c.spec.volumeName} ${byName.get(c.spec.volumeName ?? '')}`).sort();
}

async function liveImage(engine: string): Promise<string> {
  const deployment = await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${engine}`);
  return (deployment.body.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0].image;
}

async function configMapNote(): Promise<string | undefined> {
  const configMap = await get(`/api/v1/namespaces/${DEV.monitoringNamespace}/configmaps/${CHANGED_CONFIG_MAP}`);
  return (configMap.body.data as Record<string, string>).note;
}

beforeAll(async () => {
  await ensureControlPlaneBinaries();
  await ensureArgoRollouts();
}, BUILD_TIMEOUT_MS);

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-rollback-'));
  dists.base = synthesizeDev('base', (input) => input);
  // Revision 2's changes: an image tag, a removed engine and a changed ConfigMap.
  dists.changed = synthesizeDev('changed', (input) => ({
    ...input,
    catalog: PLATFORM_ENGINES.filter((engine) => engine.name !== REMOVED_ENGINE),
    imageTags: new Map([...input.imageTags].filter(([engine]) => engine !== REMOVED_ENGINE)
      .map(([engine, tag]) => [engine, engine === CHANGED_ENGINE ? 'sha-fedcba9876543210' : tag])),
  }));
  editObjects(dists.changed, (object) => (object.kind === 'ConfigMap' && object.metadata?.name === CHANGED_CONFIG_MAP
    ? { ...object, data: { ...(object.data as Record<string, string>), note: 'revision 2' } } as ManifestObject
    : object));
  // Redis one minor release older: files written by 7.4 may not load in 7.2.
  dists.oldRedis = synthesizeDev('old-redis', (input) => ({
    ...input,
    stores: input.stores.map((store) => (store.name === PLATFORM_DATA_STORES.redis.name ? { ...store, image: 'redis:7.2.4-alpine' } : store)),
  }));
  // A Deployment whose pod no node can take: the deploy fails waiting.
  dists.neverReady = synthesizeDev('never-ready', (input) => input);
  editObjects(dists.neverReady, (object) => (object.kind === 'Deployment' && object.metadata?.name === CHANGED_ENGINE
    ? { ...object, spec: { ...(object.spec as object), template: { ...(object.spec as { template: { spec: object } }).template, spec: { ...(object.spec as { template: { spec: object } }).template.spec, nodeSelector: { 'nautilus.io/nowhere': 'true' } } } } } as ManifestObject
    : object));

  controlPlane = await startControlPlane();
  await createFakeNodes(controlPlane.kubeConfig, environmentNodes(DEV));
  binder = startVolumeBinder(controlPlane.kubeConfig);
  // dev's edge engines are Rollouts: the controller rolls them out (and back).
  rollouts = await startArgoRollouts(controlPlane);
  const namespaces = ['nautilus-latency', 'nautilus-engines', 'nautilus-data'];
  const provided = await applyAll(controlPlane.kubeConfig, [
    ...readCrds(), ...monitoringStackNamespace(DEV), ...clusterProvidedStorageClasses(DEV),
    ...namespaces.map((name): ManifestObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    ...credentialSecrets(namespaces),
  ], 'secret-manager');
  expect(provided.errors).toEqual([]);
}, 240_000);

afterAll(async () => {
  await rollouts?.stop();
  await binder?.stop();
  await controlPlane?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('nautilus rollback on a dev-shaped control plane', () => {
  let claimsAtFirst: string[];

  it('with no revision recorded there is nothing to roll back to, and nothing is applied', async () => {
    const none = await nautilus(['rollback', 'dev']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('rollback dev failed: the cluster keeps no revision of dev (never deployed by nautilus, or its ApplySetRevision records were deleted)');
    expect(none.stderr).toContain('Fix: check out the commit you want and deploy it (nautilus deploy dev)');
    expect((await get('/apis/apps/v1/namespaces/nautilus-engines/deployments')).body.items).toEqual([]);
  });

  it('rolls a changed engine, a removed engine and a changed ConfigMap back to revision 1, as revision 3; the stores\' claims are untouched', async () => {
    expect((await nautilus(['deploy', 'dev', '--dist', dists.base, '--timeout', '120'])).code).toBe(0);
    claimsAtFirst = await storeClaims();
    expect(claimsAtFirst.length).toBeGreaterThanOrEqual(2);
    // Each bound to its volume.
    expect(claimsAtFirst.filter((claim) => claim.includes('undefined'))).toEqual([]);
    const first = { image: await liveImage(CHANGED_ENGINE), note: await configMapNote() };

    const changed = await nautilus(['deploy', 'dev', '--dist', dists.changed, '--timeout', '120']);
    expect(changed.code).toBe(0);
    expect(await liveImage(CHANGED_ENGINE)).toMatch(/sha-fedcba9876543210$/);
    expect(await configMapNote()).toBe('revision 2');
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(404);

    // No --to: the newest revision before the latest that was applied whole, revision 1.
    const rolledBack = await nautilus(['rollback', 'dev', '--timeout', '120']);
    expect(rolledBack.stderr).toMatch(/^rollback dev: to revision 1 \(rolled out, .*\), \d+ objects, cluster /m);
    expect(rolledBack.stdout).toMatch(/^dev: [1-9]\d* to create, [1-9]\d* to change, 0 to prune, \d+ unchanged$/m);
    expect(rolledBack.stdout).toMatch(/^rollback dev: done, revision 1 restored, \d+ workloads rolled out/m);
    expect(rolledBack.stderr).toMatch(/recorded as revision 3 of dev \(rolled out, rollback to 1\)/);
    expect(rolledBack.code).toBe(0);

    // Every object as revision 1 had it, the removed engine back.
    expect(await liveImage(CHANGED_ENGINE)).toBe(first.image);
    expect(await configMapNote()).toBe(first.note);
    expect((await get(`/apis/apps/v1/namespaces/nautilus-engines/deployments/${REMOVED_ENGINE}`)).status).toBe(200);
    const same = await nautilus(['diff', 'dev', '--revision', '1']);
    expect(same.stdout).toMatch(/^dev: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(same.code).toBe(0);

    const rows = await history();
    expect(rows.map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(rows[2].row).toMatch(/^3 +\S+ +- +rolled out, rollback to 1 +\+\d+ ~\d+ -0 objects, \d+ new images? +admin \(admin\)$/);
    const status = await nautilus(['status', 'dev']);
    expect(status.stdout).toMatch(/^revision 3 of dev, rollback to 1: rolled out, \S+ by admin \(admin\)$/m);
    expect(status.code).toBe(0);
    expect(await storeClaims()).toEqual(claimsAtFirst);
  });

  it('a rollback interrupted while applying leaves whole objects under the ApplySet, status says so, and a rerun finishes it', async () => {
    expect((await nautilus(['deploy', 'dev', '--dist', dists.changed, '--timeout', '120'])).code).toBe(0);
    let interrupt: (() => void) | undefined;
    const interrupted = await nautilus(['rollback', 'dev', '--to', '1'], {
      onInterrupt: (handler) => {
        interrupt = handler;
        return () => undefined;
      },
      stderr: (chunk: string) => {
        if (/^applying \d+ objects/m.test(chunk)) interrupt?.();
      },
    });
    expect(interrupted.code).toBe(130);
    const rows = await history();
    const last = rows[rows.length - 1];
    expect(last.row).toMatch(/ interrupted, rollback to 1 /);

    const status = await nautilus(['status', 'dev']);
    expect(status.stdout).toMatch(new RegExp(`^revision ${last.revision} of dev, rollback to 1: INTERRUPTED while applying, .*Every object is whole, but some are still the previous revision's \\(the ApplySet covers both\\)\\. Fix: rerun nautilus rollback dev --to 1 to finish it$`, 'm'));
    expect(status.stdout.trim().split('\n').pop()).toBe('UNHEALTHY');
    expect(status.code).toBe(1);
    // Nothing was pruned or orphaned: the ApplySet still lists every kind of both revisions.
    const parent = await get('/apis/nautilus.io/v1alpha1/applysets/nautilus-dev');
    expect((parent.body.metadata as { annotations: Record<string, string> }).annotations['applyset.kubernetes.io/contains-group-kinds']).toContain('Deployment.apps');

    const rerun = await nautilus(['rollback', 'dev', '--to', '1', '--timeout', '120']);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`recorded as revision ${last.revision + 1} of dev \\(rolled out, rollback to 1\\)`));
    expect((await nautilus(['diff', 'dev', '--revision', '1'])).code).toBe(0);
    const healthy = await nautilus(['status', 'dev']);
    expect(healthy.code).toBe(0);
    expect(await storeClaims()).toEqual(claimsAtFirst);
  });

  it('a failed deploy is recorded as failed and rolled back from', async () => {
    const failed = await nautilus(['deploy', 'dev', '--dist', dists.neverReady, '--timeout', '5']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/recorded as revision (\d+) of dev \(failed\)/);
    const failedRevision = Number(/recorded as revision (\d+)/.exec(failed.stderr)![1]);

    const back = await nautilus(['rollback', 'dev', '--timeout', '120']);
    expect(back.stderr).toMatch(new RegExp(`^rollback dev: to revision ${failedRevision - 1} \\(rolled out`, 'm'));
    expect(back.code).toBe(0);
    expect((await nautilus(['status', 'dev'])).code).toBe(0);
    expect(await storeClaims()).toEqual(claimsAtFirst);
  });

  it('refuses to move a store\'s data format backwards, naming the store, the versions and the fix; nothing is applied', async () => {
    expect((await nautilus(['deploy', 'dev', '--dist', dists.oldRedis, '--no-wait'])).code).toBe(0);
    const older = (await history()).pop()!.revision;
    expect((await nautilus(['deploy', 'dev', '--dist', dists.base, '--no-wait'])).code).toBe(0);
    const before = (await history()).pop()!.revision;

    const refused = await nautilus(['rollback', 'dev', '--to', String(older)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`rollback refused: restoring revision ${older} would endanger data; nothing was changed:`);
    expect(refused.stderr).toMatch(new RegExp(`^ {2}- StatefulSet nautilus-data/redis: revision ${older} would move the data format backwards \\(redis 7\\.4 -> 7\\.2\\); .*Fix: restore a backup taken before the upgrade`, 'm'));
    expect((await history()).pop()!.revision).toBe(before);
    const redis = await get('/apis/apps/v1/namespaces/nautilus-data/statefulsets/redis');
    expect((redis.body.metadata as { annotations: Record<string, string> }).annotations['nautilus.io/data-format']).toBe('redis=7.4');
  });

  it('an unknown revision, a record of another environment, a corrupted record and a newer format are each one clear error; nothing is applied', async () => {
    const rows = await history();
    const latest = rows[rows.length - 1].revision;
    const unknown = await nautilus(['rollback', 'dev', '--to', '999']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`rollback dev failed: the cluster has no revision 999 of dev (it keeps ${rows[0].revision} to ${latest}). Fix: pick one that nautilus history dev lists`);
    expect((await nautilus(['rollback', 'dev', '--to', 'two'])).stderr).toMatch(/^--to two: expected a revision number/);
    expect((await nautilus(['deploy', 'dev', '--to', '1'])).stderr).toMatch(/^--to is for rollback/);

    const record = `${REVISIONS}/nautilus-dev-r${rows[0].revision}`;
    const patch = (body: object) => kubeRequest(controlPlane.kubeConfig, record, { method: 'PATCH', contentType: 'application/merge-patch+json', body: JSON.stringify(body) });
    const original = (await get(record)).body as { manifests: string; record: { environment: string } };

    expect((await patch({ record: { environment: 'prod' } })).status).toBe(200);
    const foreign = await nautilus(['rollback', 'dev', '--to', String(rows[0].revision)]);
    expect(foreign.stderr).toContain(`revision record nautilus-dev-r${rows[0].revision} is labelled dev but records a deploy of prod: its manifests belong to another environment`);
    expect(foreign.code).toBe(1);

    expect((await patch({ record: { environment: 'dev' }, manifests: original.manifests.slice(0, 200) })).status).toBe(200);
    const truncated = await nautilus(['rollback', 'dev', '--to', String(rows[0].revision)]);
    expect(truncated.stderr).toMatch(new RegExp(`revision record nautilus-dev-r${rows[0].revision} is corrupted \\(its manifests do not decompress: .*\\)\\. Fix: delete it \\(kubectl delete applysetrevision nautilus-dev-r${rows[0].revision}\\)`));
    expect(truncated.code).toBe(1);

    expect((await patch({ manifests: original.manifests, format: 2 })).status).toBe(200);
    const newer = await nautilus(['rollback', 'dev', '--to', String(rows[0].revision)]);
    expect(newer.stderr).toMatch(new RegExp(`revision record nautilus-dev-r${rows[0].revision} has format 2; this tool reads format 1\\. Fix: use the nautilus-k8s version that recorded it \\(nautilus-k8s/`));
    expect(newer.code).toBe(1);
    // History reads every record: it names the same one.
    expect((await nautilus(['history', 'dev'])).stderr).toContain(`revision record nautilus-dev-r${rows[0].revision} has format 2`);

    // Records deleted: nothing to roll back to.
    const removed = await kubeRequest(controlPlane.kubeConfig, `${REVISIONS}?labelSelector=${encodeURIComponent('nautilus.io/environment=dev')}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    const gone = await nautilus(['rollback', 'dev']);
    expect(gone.stderr).toContain('the cluster keeps no revision of dev');
    expect(gone.code).toBe(1);
    // None of the refused rollbacks changed the environment.
    expect((await nautilus(['diff', 'dev', '--dist', dists.base])).code).toBe(0);
    expect(await storeClaims()).toEqual(claimsAtFirst);
  });
});
