/**
 * Releases through the deploy tool (src/deploy/release.ts) on a control plane shaped like prod with
 * the real Argo Rollouts controller v1.10.1 (startEnvironmentCluster): a deploy of new versions of
 * a pinned canary engine (risk-engine, position-keeper: `setWeight: 50`, then `pause: {}`) and a
 * blue/green one (backend: `autoPromotionEnabled: false`) returns as soon as the releases wait for a
 * person, recorded `awaiting promotion`, instead of waiting out its timeout; `status` shows each
 * Rollout's phase, step, weight, hashes and analysis; a second deploy and a diff, during the
 * release and after it, change nothing and leave the controller's selector keys on the blue/green
 * Services; `promote` (and `--full`) finishes backend and risk-engine, `abort` returns
 * position-keeper to its stable version. The CLI runs in-process through `runCli`.
 *
 * Timing. The generated AnalysisTemplates query the monitoring stack's Prometheus by its in-cluster
 * name (kube-prometheus-stack-prometheus.monitoring.svc.cluster.local), which the controller, a
 * process of this machine, cannot resolve. A canary's background analysis starts at its pause step
 * (`startingStep: 1`), blue/green's post-promotion analysis at the promotion; after the templates'
 * `initialDelay` of one minute their measurements error, and about 70 s after its start the
 * controller aborts the release. Pointing the analyses elsewhere (`progressiveDelivery.
 * prometheusAddress`) would make them error the same way, so the test keeps the real templates and
 * ends every release it starts well within 50 s of its analysis starting (promote, promote --full,
 * abort); nothing here waits for an analysis to conclude.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { platformCharts } from '../../charts/platform-charts';
import { PROD } from '../../src/environments/platform-environments';
import { synthesizePlatform } from '../../src/synth/synthesize';
import { platformInput } from '../support/platform';
import { ManifestObject } from './apply';
import { ensureArgoRollouts } from './argo-rollouts';
import { ensureControlPlaneBinaries } from './binaries';
import { applyAll, EnvironmentCluster, startEnvironmentCluster } from './environment-cluster';
import { CliRun, getJson, runNautilus } from './nautilus-cli';

jest.setTimeout(120_000);
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

/** Released by canary: steps `setWeight: 50`, `pause: {}` in prod. */
const PROMOTED_CANARY = 'risk-engine';
const ABORTED_CANARY = 'position-keeper';
/** Released blue/green, promoted by a person in prod. */
const BLUE_GREEN = 'backend';
const NEW_TAG = 'sha-fedcba9876543210';
const HASH_LABEL = 'rollouts-pod-template-hash';

let cluster: EnvironmentCluster;
let scratch: string;
/** dist roots (each holding `prod/`): as synthesized, and with new images for the three engines. */
const dists = { base: '', released: '' };

function nautilus(args: readonly string[]): Promise<CliRun> {
  return runNautilus(cluster.controlPlane.kubeconfigPath, args);
}

interface LiveRollout {
  readonly status?: { phase?: string; abort?: boolean; stableRS?: string; currentPodHash?: string; blueGreen?: { activeSelector?: string } };
}

async function rollout(namespace: string, name: string): Promise<LiveRollout> {
  return (await getJson(cluster.kubeConfig, `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/rollouts/${name}`)).body as LiveRollout;
}

async function selector(service: string): Promise<Record<string, string>> {
  const found = await getJson(cluster.kubeConfig, `/api/v1/namespaces/nautilus-engines/services/${service}`);
  return (found.body.spec as { selector: Record<string, string> }).selector;
}

/** Runs `attempt` until `done` accepts its result (every half second, up to `timeoutMs`); returns the last result. */
async function eventually<T>(attempt: () => Promise<T>, done: (result: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (done(result) || Date.now() >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The status line of one workload. */
function statusLine(stdout: string, object: string): string {
  return stdout.split('\n').find((line) => line.startsWith(`  ${object} `)) ?? `(no line for ${object})`;
}

function synthesizeProd(name: string, tags: Readonly<Record<string, string>>): string {
  const root = path.join(scratch, name, 'dist');
  const input = platformInput({ environments: [PROD] });
  synthesizePlatform({ ...input, imageTags: new Map([...input.imageTags].map(([engine, tag]) => [engine, tags[engine] ?? tag])) }, root, platformCharts);
  return root;
}

beforeAll(async () => {
  await ensureControlPlaneBinaries();
  await ensureArgoRollouts();
}, BUILD_TIMEOUT_MS);

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-release-cli-'));
  dists.base = synthesizeProd('base', {});
  dists.released = synthesizeProd('released', { [PROMOTED_CANARY]: NEW_TAG, [ABORTED_CANARY]: NEW_TAG, [BLUE_GREEN]: NEW_TAG });
  // The cluster's side only: nodes, CRDs, the controller, the namespaces and the Secrets a secret
  // manager provisions; the deploy tool applies everything else.
  cluster = await startEnvironmentCluster(PROD, { transform: (objects) => objects.filter((object) => object.kind === 'Namespace') });
  const backup = PROD.timescaledb.backup;
  if (backup.kind === 'object-store') {
    const secret: ManifestObject = {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: backup.credentialsSecret, namespace: 'nautilus-data' },
      stringData: { 'access-key-id': 'test', 'secret-access-key': 'test' },
    } as ManifestObject;
    expect((await applyAll(cluster.kubeConfig, [secret], 'secret-manager')).errors).toEqual([]);
  }
  const first = await nautilus(['deploy', 'prod', '--dist', dists.base, '--yes', '--timeout', '120']);
  expect(first.stdout).toMatch(/^deploy prod: done, \d+ workloads rolled out/m);
  expect(first.code).toBe(0);
  // Every Rollout Healthy at its autoscaler's minimum. The controller manager's autoscalers find
  // the Rollout kind once their discovery is refreshed (every 30 s): until then they cannot scale.
  const settled = await eventually(() => nautilus(['status', 'prod', '--ignore-autoscaler-metrics']), (run) => run.code === 0, 60_000);
  expect(settled.stdout.split('\n').filter((line) => !/ (ok     |ignored) /.test(line) && line.startsWith('  '))).toEqual([]);
  expect(settled.code).toBe(0);
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('releases through nautilus on a prod-shaped control plane with the Argo Rollouts controller', () => {
  const hashes: Record<string, { stable: string; released: string }> = {};

  it('a deploy of new versions returns, recorded awaiting promotion, as soon as the releases wait for a person', async () => {
    const started = Date.now();
    const deployed = await nautilus(['deploy', 'prod', '--dist', dists.released, '--yes', '--timeout', '300']);
    const seconds = (Date.now() - started) / 1000;
    expect(deployed.stderr).toMatch(/^rollout: \d+\/\d+ workloads ready; 3 awaiting promotion \(Rollout nautilus-latency\/risk-engine, Rollout nautilus-latency\/position-keeper, Rollout nautilus-engines\/backend\)$/m);
    expect(deployed.stdout).toMatch(/^deploy prod: applied, \d+ workloads rolled out; 3 release\(s\) paused until a person promotes them/m);
    expect(deployed.stdout).toMatch(/^ {2}- Rollout nautilus-latency\/risk-engine: Paused, awaiting promotion \(pause until promoted\); step 1\/2 \(pause until promoted\); canary weight 50% \(1\/2 pods new\); stable \w+, new \w+$/m);
    expect(deployed.stdout).toMatch(/^ {2}- Rollout nautilus-engines\/backend: Paused, awaiting promotion \(preview until promoted\); preview on the new pods, active Service on stable \(0% of traffic on the new version\); stable \w+, new \w+$/m);
    expect(deployed.stdout).toContain('    continue: nautilus promote prod risk-engine   (or stop it: nautilus abort prod risk-engine)');
    expect(deployed.stderr).toMatch(/^recorded as revision 2 of prod \(awaiting promotion\)/m);
    expect(deployed.code).toBe(0);
    // Not the 300 s timeout: the releases reach their pause within seconds on kwok's nodes.
    expect(seconds).toBeLessThan(40);

    for (const [namespace, name] of [['nautilus-latency', PROMOTED_CANARY], ['nautilus-latency', ABORTED_CANARY], ['nautilus-engines', BLUE_GREEN]]) {
      const status = (await rollout(namespace, name)).status ?? {};
      expect(status.currentPodHash).not.toBe(status.stableRS);
      hashes[name] = { stable: status.stableRS ?? '', released: status.currentPodHash ?? '' };
    }
    const history = await nautilus(['history', 'prod']);
    expect(history.stdout).toMatch(/^2 +\S+ +- +awaiting promotion +\+0 ~3 -0 objects, 3 new images +admin \(admin\)$/m);
  });

  it('status shows each release\'s phase, step, weight, hashes and analysis; healthy, naming the commands that continue', async () => {
    const status = await nautilus(['status', 'prod', '--ignore-autoscaler-metrics']);
    const canary = hashes[PROMOTED_CANARY];
    expect(status.stdout).toMatch(/^revision 2 of prod: applied, awaiting promotion of risk-engine, position-keeper, backend when recorded, \S+ by admin \(admin\)$/m);
    expect(statusLine(status.stdout, 'Rollout nautilus-latency/risk-engine')).toMatch(new RegExp(
      ` paused  Paused \\(CanaryPauseStep\\); step 1/2 \\(pause until promoted\\); canary weight 50% \\(1 of 2 ready pods new; step sets 50%\\); stable ${canary.stable}, new ${canary.released}; `
      + `analysis risk-engine-${canary.released}-2: Running\\. Awaiting promotion: nautilus promote prod risk-engine \\(or nautilus abort prod risk-engine\\)$`,
    ));
    const blueGreen = hashes[BLUE_GREEN];
    expect(statusLine(status.stdout, 'Rollout nautilus-engines/backend')).toMatch(new RegExp(
      ` paused  Paused \\(BlueGreenPause\\); preview on the new pods \\(\\d+ ready\\), active Service on stable \\(0% of traffic on the new version\\); stable ${blueGreen.stable}, new ${blueGreen.released}\\. `
      + 'Awaiting promotion: nautilus promote prod backend',
    ));
    expect(statusLine(status.stdout, 'Deployment nautilus-engines/backend')).toMatch(/ ok +0\/0 ready, 0\/0 updated; holds the pod template of Rollout nautilus-engines\/backend, which runs the pods$/);
    expect(statusLine(status.stdout, 'Rollout nautilus-engines/strategy')).toMatch(/ ok +Healthy; step 6\/6; on \w+$/);
    expect(status.stdout.trim().split('\n').pop()).toBe('healthy; 3 release(s) awaiting promotion: nautilus promote prod risk-engine, nautilus promote prod position-keeper, nautilus promote prod backend');
    expect(status.code).toBe(0);
  });

  it('a second deploy and a diff during the release change nothing, report no conflict and leave the controller\'s selector keys', async () => {
    expect(await selector(BLUE_GREEN)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].stable });
    expect(await selector(`${BLUE_GREEN}-preview`)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].released });
    const diff = await nautilus(['diff', 'prod', '--dist', dists.released]);
    expect(diff.stdout).toMatch(/^prod: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(diff.stdout).not.toContain('conflict');
    expect(diff.code).toBe(0);
    const again = await nautilus(['deploy', 'prod', '--dist', dists.released, '--yes']);
    expect(again.stderr).toContain('nothing to apply');
    expect(again.stdout).toMatch(/3 release\(s\) paused until a person promotes them/);
    expect(again.stderr).not.toMatch(/recorded as revision/);
    expect(again.code).toBe(0);
    expect(await selector(BLUE_GREEN)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].stable });
    expect(await selector(`${BLUE_GREEN}-preview`)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].released });
  });

  it('promote switches backend\'s traffic to the new version, --full ends its release; promote ends risk-engine\'s', async () => {
    const blueGreen = hashes[BLUE_GREEN];
    const promoted = await nautilus(['promote', 'prod', BLUE_GREEN]);
    expect(promoted.stdout).toMatch(/^promote prod backend: Rollout nautilus-engines\/backend promoted \(was: Paused, awaiting promotion \(preview until promoted\);/);
    expect(promoted.code).toBe(0);
    const switched = await eventually(() => selector(BLUE_GREEN), (s) => s[HASH_LABEL] === blueGreen.released);
    expect(switched[HASH_LABEL]).toBe(blueGreen.released);
    // Switched, it waits for its post-promotion analysis: a plain promote has nothing left to do.
    const inAnalysis = await eventually(() => nautilus(['status', 'prod', '--ignore-autoscaler-metrics']),
      (run) => / PENDING Progressing \(waiting for analysis to complete\)/.test(statusLine(run.stdout, 'Rollout nautilus-engines/backend')));
    expect(statusLine(inAnalysis.stdout, 'Rollout nautilus-engines/backend')).toMatch(new RegExp(
      ` PENDING Progressing \\(waiting for analysis to complete\\); active Service on the new version \\(100% of traffic\\), stable ${blueGreen.stable} kept for the switch-back window; `
      + `stable ${blueGreen.stable}, new ${blueGreen.released}; analysis backend-${blueGreen.released}-\\d+-post: (Running|Pending)$`,
    ));
    expect(inAnalysis.code).toBe(1);
    const nothing = await nautilus(['promote', 'prod', BLUE_GREEN]);
    expect(nothing.stderr).toBe('promote prod backend failed: Rollout nautilus-engines/backend (engine backend) has nothing to promote yet: its active Service is on the new version already, '
      + 'and it waits for its post-promotion analysis. Fix: wait (nautilus status prod shows it), or skip the rest of its release with nautilus promote prod backend --full\n');
    expect(nothing.code).toBe(1);
    const full = await nautilus(['promote', 'prod', BLUE_GREEN, '--full']);
    expect(full.stdout).toMatch(/^promote prod backend: Rollout nautilus-engines\/backend fully promoted: every remaining step, pause and analysis is skipped/);
    expect(full.code).toBe(0);

    const canary = await nautilus(['promote', 'prod', PROMOTED_CANARY]);
    expect(canary.stdout).toMatch(/^promote prod risk-engine: Rollout nautilus-latency\/risk-engine promoted \(was: Paused, awaiting promotion \(pause until promoted\); step 1\/2/);
    expect(canary.code).toBe(0);

    for (const [namespace, name] of [['nautilus-engines', BLUE_GREEN], ['nautilus-latency', PROMOTED_CANARY]]) {
      const done = await eventually(() => rollout(namespace, name), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === hashes[name].released);
      expect({ name, phase: done.status?.phase, stable: done.status?.stableRS }).toEqual({ name, phase: 'Healthy', stable: hashes[name].released });
    }
    expect(await selector(BLUE_GREEN)).toMatchObject({ [HASH_LABEL]: blueGreen.released });
    expect(await selector(`${BLUE_GREEN}-preview`)).toMatchObject({ [HASH_LABEL]: blueGreen.released });
  });

  it('after the releases a diff and a deploy still change nothing and keep the switched selectors', async () => {
    const diff = await nautilus(['diff', 'prod', '--dist', dists.released]);
    expect(diff.stdout).toMatch(/^prod: 0 to create, 0 to change, 0 to prune, \d+ unchanged$/m);
    expect(diff.code).toBe(0);
    const again = await nautilus(['deploy', 'prod', '--dist', dists.released, '--yes']);
    expect(again.stderr).toContain('nothing to apply');
    // position-keeper still waits for its person.
    expect(again.stdout).toMatch(/1 release\(s\) paused until a person promotes them.*\n {2}- Rollout nautilus-latency\/position-keeper: /);
    expect(again.code).toBe(0);
    expect(await selector(BLUE_GREEN)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].released });
    const status = await nautilus(['status', 'prod', '--ignore-autoscaler-metrics']);
    expect(statusLine(status.stdout, 'Rollout nautilus-latency/risk-engine')).toMatch(new RegExp(` ok +Healthy; step 2/2; on ${hashes[PROMOTED_CANARY].released}; analysis risk-engine-${hashes[PROMOTED_CANARY].released}-2: `));
    expect(statusLine(status.stdout, 'Rollout nautilus-engines/backend')).toMatch(new RegExp(` ok +Healthy; on ${hashes[BLUE_GREEN].released}; analysis backend-`));
    expect(status.code).toBe(0);
  });

  it('abort returns position-keeper to its stable version; status says it is aborted and unhealthy, with the fix', async () => {
    const canary = hashes[ABORTED_CANARY];
    const aborted = await nautilus(['abort', 'prod', ABORTED_CANARY]);
    expect(aborted.stdout).toMatch(new RegExp(`^abort prod position-keeper: Rollout nautilus-latency/position-keeper aborted \\(was: Paused, awaiting promotion .*\\); `
      + `the controller scales the new version down and returns everything to the stable one \\(${canary.stable}\\)`));
    expect(aborted.code).toBe(0);
    const degraded = await eventually(() => rollout('nautilus-latency', ABORTED_CANARY), (r) => r.status?.phase === 'Degraded');
    expect(degraded.status).toMatchObject({ phase: 'Degraded', abort: true, stableRS: canary.stable });
    const status = await eventually(() => nautilus(['status', 'prod', '--ignore-autoscaler-metrics']),
      (run) => / canary weight 0% \(0 of 2 ready pods new/.test(statusLine(run.stdout, 'Rollout nautilus-latency/position-keeper')));
    expect(statusLine(status.stdout, 'Rollout nautilus-latency/position-keeper')).toMatch(new RegExp(
      ` ABORTED Degraded \\(RolloutAborted: Rollout aborted update to revision 2\\); step 0/2 \\(setWeight 50\\); canary weight 0% \\(0 of 2 ready pods new; step sets 0%\\); `
      + `stable ${canary.stable}, new ${canary.released}; analysis position-keeper-${canary.released}-2: terminated before its first measurement\\. `
      + 'The stable version runs; the new one is scaled down\\. Fix: nautilus rollback prod to the revision it came from, or deploy a fixed version$',
    ));
    expect(status.stdout.trim().split('\n').pop()).toBe('UNHEALTHY');
    expect(status.code).toBe(1);
  });

  it('refuses, naming the engine and the fix: nothing to abort or promote, an engine released as a Deployment, an unknown engine, no engine', async () => {
    const refusals: Array<[string[], string]> = [
      [['abort', 'prod', ABORTED_CANARY], 'abort prod position-keeper failed: Rollout nautilus-latency/position-keeper (engine position-keeper) is already aborted'],
      [['promote', 'prod', ABORTED_CANARY], 'promote prod position-keeper failed: Rollout nautilus-latency/position-keeper (engine position-keeper) was aborted'],
      [['promote', 'prod', PROMOTED_CANARY], `promote prod risk-engine failed: Rollout nautilus-latency/risk-engine (engine risk-engine) has nothing to promote: it is Healthy on its stable version ${hashes[PROMOTED_CANARY].released}`],
      [['abort', 'prod', BLUE_GREEN], 'abort prod backend failed: Rollout nautilus-engines/backend (engine backend) has no release in progress to abort'],
      [['promote', 'prod', 'analytics'], 'promote prod analytics failed: analytics rolls out as a Deployment in prod (Deployment nautilus-engines/analytics), not as an Argo Rollout'],
      [['abort', 'prod', 'nope'], 'abort prod nope failed: no engine "nope" in prod\'s manifests; its Rollouts are backend, frontend, integration-engine, market-data, order-manager, '
        + 'position-keeper, risk-engine, smart-order-router, strategy, websocket. Fix: check the name (nautilus status prod lists the workloads)'],
    ];
    for (const [args, message] of refusals) {
      const refused = await nautilus(args);
      expect({ args, stderr: refused.stderr.slice(0, message.length), code: refused.code }).toEqual({ args, stderr: message, code: 1 });
    }
    const noEngine = await nautilus(['promote', 'prod']);
    expect(noEngine.stderr).toBe('promote prod: which engine? expected nautilus promote prod <engine> (nautilus status prod lists the Rollouts)\n');
    expect(noEngine.code).toBe(2);
    expect((await nautilus(['abort', 'prod', BLUE_GREEN, '--full'])).stderr).toMatch(/^--full is for promote/);
    // None of them changed anything.
    expect((await nautilus(['diff', 'prod', '--dist', dists.released])).code).toBe(0);
  });

  it('rollback goes through the Rollouts: each restored version is promoted in full and returns at once, none waits for a person', async () => {
    const rolledBack = await nautilus(['rollback', 'prod', '--yes', '--timeout', '90']);
    // Both streams, so that a failure shows the promotions the tool reported.
    expect(`${rolledBack.stdout}\n${rolledBack.stderr}`).toMatch(/^rollback prod: done, revision 1 restored, \d+ workloads rolled out/m);
    // risk-engine runs the released version as its stable one: going back is a release of the old
    // version (it would wait at its pause for a person), promoted in full. position-keeper's stable
    // version is the restored one (its release was aborted): the controller returns to it by itself.
    // backend's old colour still runs (within its scale-down delay), so the controller switches back
    // to it at once; whether the tool sees it mid-switch, and promotes it, depends on timing.
    expect(rolledBack.stderr).toContain('Rollout nautilus-latency/risk-engine: restoring revision 1\'s version, promoted in full (its steps, pauses and analysis skipped)');
    expect(rolledBack.stderr).not.toContain('Rollout nautilus-latency/position-keeper: restoring');
    expect(rolledBack.stdout).not.toMatch(/awaiting promotion|paused until a person/);
    expect(rolledBack.code).toBe(0);
    for (const [namespace, engine] of [['nautilus-latency', PROMOTED_CANARY], ['nautilus-latency', ABORTED_CANARY], ['nautilus-engines', BLUE_GREEN]]) {
      const live = await eventually(() => rollout(namespace, engine), (r) => r.status?.phase === 'Healthy');
      expect({ engine, status: live.status }).toMatchObject({ engine, status: { phase: 'Healthy', stableRS: hashes[engine].stable, currentPodHash: hashes[engine].stable } });
    }
    expect(await selector(BLUE_GREEN)).toMatchObject({ [HASH_LABEL]: hashes[BLUE_GREEN].stable });
    const history = await nautilus(['history', 'prod']);
    expect(history.stdout.trim().split('\n').pop()).toMatch(/rolled out, rollback to 1/);
  });
});
