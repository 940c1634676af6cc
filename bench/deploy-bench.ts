/**
 * The deploy tool against kubectl on the test control plane (a real etcd and kube-apiserver), with
 * prod's manifests, every figure measured in the same run:
 * - `nautilus diff prod` with nothing to change, against `kubectl diff --server-side`;
 * - a no-op `nautilus deploy prod --no-wait`, against a no-op `kubectl apply --server-side`;
 * - `nautilus status prod` and `nautilus history prod` with 10 revisions (goal: under 1 s each);
 * - `nautilus rollback prod --no-wait` against a deploy of the same manifests (the same one
 *   object changes each time);
 * - the size of prod's revision record against the 1 MiB object limit.
 * Both tools run as the user runs them: a new process each time (the tool from its bundle).
 *
 *   npm run bench:deploy              print the table
 *   npm run bench:deploy -- --record  also write bench/DEPLOY-RESULTS.md
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { parseAllDocuments, stringify } from 'yaml';
import { platformCharts } from '../charts/platform-charts';
import { FIELD_MANAGER } from '../src/deploy/apply-command';
import { asMember } from '../src/deploy/applyset';
import { KubeObject } from '../src/deploy/objects';
import { PROD } from '../src/environments/platform-environments';
import { synthesizePlatform } from '../src/synth/synthesize';
import { platformInput } from '../test/support/platform';
import { kubeRequest } from '../test/cluster/apply';
import { ensureControlPlaneBinaries } from '../test/cluster/binaries';
import { ControlPlane, startControlPlane } from '../test/cluster/control-plane';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from '../test/cluster/dist-manifests';
import { applyAll } from '../test/cluster/environment-cluster';

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = 5;
/** The engine whose image tag differs between the two builds the rollback rows switch between. */
const CHANGED_ENGINE = 'strategy';

interface Timed {
  readonly ms: number;
  readonly code: number;
}

function timed(command: string, args: readonly string[], accept: readonly number[] = [0]): Timed {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (!accept.includes(result.status ?? -1)) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
  return { ms, code: result.status ?? -1 };
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function synthesizeProd(root: string, tag: string): string {
  const input = platformInput({ environments: [PROD] });
  synthesizePlatform({
    ...input,
    imageTags: new Map([...input.imageTags].map(([engine, t]) => [engine, engine === CHANGED_ENGINE ? tag : t])),
  }, path.join(root, 'dist'), platformCharts);
  return path.join(root, 'dist');
}

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-deploy-bench-'));
  let controlPlane: ControlPlane | undefined;
  const stop = async () => {
    await controlPlane?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const dists = [synthesizeProd(path.join(scratch, 'a'), 'sha-aaaaaaaaaaaaaaaa'), synthesizeProd(path.join(scratch, 'b'), 'sha-bbbbbbbbbbbbbbbb')];
    await ensureControlPlaneBinaries();
    controlPlane = await startControlPlane();
    const cp = controlPlane;
    const namespaces = ['nautilus-latency', 'nautilus-engines', 'nautilus-data', 'nautilus-gpu'];
    const provided = await applyAll(cp.kubeConfig, [
      ...readCrds(), ...monitoringStackNamespace(PROD), ...clusterProvidedStorageClasses(PROD),
      ...namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
      ...credentialSecrets(namespaces),
      // prod's TimescaleDB backs up to an object store, with credentials the secret manager provides.
      ...(PROD.timescaledb.backup.kind === 'object-store'
        ? [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: PROD.timescaledb.backup.credentialsSecret, namespace: 'nautilus-data' }, stringData: { 'access-key-id': 'bench', 'secret-access-key': 'bench' } }]
        : []),
    ], 'secret-manager');
    if (provided.errors.length > 0) throw new Error(`setting up the cluster failed: ${provided.errors.join('; ')}`);

    const kubectl = path.join(cp.binDir, 'kubectl');
    const nautilus = (args: readonly string[], accept?: readonly number[]) =>
      timed(process.execPath, ['bin/nautilus.js', ...args, '--kubeconfig', cp.kubeconfigPath], accept);
    const files = path.join(dists[0], 'prod');
    const objects = fs.readdirSync(files).filter((f) => f.endsWith('.yaml'))
      .reduce((n, f) => n + fs.readFileSync(path.join(files, f), 'utf8').split(/^---$/m).filter((d) => /\bkind:/.test(d)).length, 0);

    // Revisions 1..10: prod deployed alternately from the two builds (one Deployment differs).
    for (let i = 0; i < 10; i += 1) nautilus(['deploy', 'prod', '--dist', dists[i % 2], '--no-wait', '--yes']);
    // kubectl applies exactly what the tool applies (the objects labelled as members of the set),
    // as the same field manager, so that both compare the same configuration with the same owner.
    // (A second manager co-owning an atomic struct the server defaults, such as an env var's
    // fieldRef, conflicts with the first on every apply: a Kubernetes quirk, not a difference.)
    const asApplied = path.join(scratch, 'kubectl', 'prod');
    fs.mkdirSync(asApplied, { recursive: true });
    for (const file of fs.readdirSync(path.join(dists[1], 'prod')).filter((f) => f.endsWith('.yaml'))) {
      const documents = parseAllDocuments(fs.readFileSync(path.join(dists[1], 'prod', file), 'utf8')).map((d) => d.toJSON() as KubeObject | null);
      fs.writeFileSync(path.join(asApplied, file), documents.filter((o): o is KubeObject => o !== null).map((o) => stringify(asMember(o, 'prod'))).join('---\n'));
    }
    const kubectlArgs = ['--kubeconfig', cp.kubeconfigPath, '--server-side', '--field-manager', FIELD_MANAGER, '-f', asApplied];

    const rows: Array<[string, number[]]> = [
      ['kubectl diff --server-side (baseline)', []], ['nautilus diff prod', []],
      ['kubectl apply --server-side, no-op (baseline)', []], ['nautilus deploy prod --no-wait, no-op', []],
      ['nautilus status prod', []], ['nautilus history prod (10 revisions)', []],
      ['nautilus deploy prod --no-wait, one Deployment changed', []], ['nautilus rollback prod --no-wait, the same change', []],
    ];
    for (let round = 0; round < ROUNDS; round += 1) {
      // Interleaved, so that a slow moment of the machine weighs on every row alike.
      rows[0][1].push(timed(kubectl, ['diff', ...kubectlArgs]).ms);
      rows[1][1].push(nautilus(['diff', 'prod', '--dist', dists[1]]).ms);
      rows[2][1].push(timed(kubectl, ['apply', ...kubectlArgs]).ms);
      rows[3][1].push(nautilus(['deploy', 'prod', '--dist', dists[1], '--no-wait', '--yes']).ms);
      rows[4][1].push(nautilus(['status', 'prod'], [0, 1]).ms);
      rows[5][1].push(nautilus(['history', 'prod']).ms);
      // From b: a deploy of a changes strategy's image; a rollback to the previous revision (b) changes it back.
      rows[6][1].push(nautilus(['deploy', 'prod', '--dist', dists[0], '--no-wait', '--yes']).ms);
      rows[7][1].push(nautilus(['rollback', 'prod', '--no-wait', '--yes']).ms);
    }
    const listed = await kubeRequest(cp.kubeConfig, `/apis/nautilus.io/v1alpha1/applysetrevisions?labelSelector=${encodeURIComponent('nautilus.io/environment=prod')}`);
    const records = (JSON.parse(listed.body) as { items: unknown[] }).items;
    const recordBytes = Math.max(...records.map((item) => Buffer.byteLength(JSON.stringify(item))));

    const ms = rows.map(([, samples]) => median(samples));
    const ratio = (i: number, baseline: number) => (ms[i] / ms[baseline]).toFixed(2);
    const table = [
      `prod: ${objects} objects. Median of ${ROUNDS} runs, ${os.cpus().length} cores, Node ${process.version}; each command a new process.`,
      '',
      '| command | median | ratio |',
      '|---|---|---|',
      `| ${rows[0][0]} | ${ms[0].toFixed(0)} ms | 1.00 |`,
      `| ${rows[1][0]} | ${ms[1].toFixed(0)} ms | ${ratio(1, 0)} × kubectl diff |`,
      `| ${rows[2][0]} | ${ms[2].toFixed(0)} ms | 1.00 |`,
      `| ${rows[3][0]} | ${ms[3].toFixed(0)} ms | ${ratio(3, 2)} × kubectl apply |`,
      `| ${rows[4][0]} | ${ms[4].toFixed(0)} ms | goal < 1000 ms |`,
      `| ${rows[5][0]} | ${ms[5].toFixed(0)} ms | goal < 1000 ms |`,
      `| ${rows[6][0]} | ${ms[6].toFixed(0)} ms | 1.00 |`,
      `| ${rows[7][0]} | ${ms[7].toFixed(0)} ms | ${ratio(7, 6)} × the deploy |`,
      '',
      `Largest revision record of prod: ${(recordBytes / 1024).toFixed(1)} KiB (${((recordBytes / (1024 * 1024)) * 100).toFixed(1)} % of the 1 MiB object limit).`,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (process.argv.includes('--record')) {
      fs.writeFileSync(path.join(__dirname, 'DEPLOY-RESULTS.md'), `# Deploy tool against kubectl\n\nRecorded by \`npm run bench:deploy -- --record\` on the test control plane.\n\n${table}\n`);
    }
  } finally {
    await stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
