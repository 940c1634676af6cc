/**
 * The deploy tool's rules for Argo Rollouts (src/deploy/release.ts), on Rollout, AnalysisRun and
 * Service objects recorded from the real controller v1.10.1 driving prod's engines on a test
 * control plane (test/deploy/fixtures/argo-rollouts/, managedFields dropped): when the deploy is
 * done waiting, how `status` reports a release, the patches `promote` and `abort` send, the
 * refusals, and how a controller-switched Service selector is applied. The cluster test
 * (test/cluster/release-cli.test.ts) runs the same against the controller.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Cluster } from '../../src/deploy/cluster';
import { KubeObject } from '../../src/deploy/objects';
import {
  ABORT_PATCH, abortRefusal, analysisText, findRollout, latestAnalysisRun, pauseSeconds, podCounts, promotePatch, promoteRefusal, releaseVerdict, remainingPauseSeconds,
  runRelease, withControllerSelector, withControllerFields, controllerEdits, rollbackPromotes,
} from '../../src/deploy/release';
import { Revision, RevisionOutcome, historyLines, revisionStatus } from '../../src/deploy/revisions';
import { rollbackTarget } from '../../src/deploy/rollback';
import { rolloutState, waitForRollout } from '../../src/deploy/rollout';

const FIXTURES = path.join(__dirname, 'fixtures', 'argo-rollouts');
const recorded = (name: string): KubeObject => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as KubeObject;
const runs = (): KubeObject[] => (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'analysisruns.json'), 'utf8')) as { items: KubeObject[] }).items;

/** A copy of `object` with `change` applied to a deep clone. */
function edited(object: KubeObject, change: (copy: KubeObject & { spec: any; status: any }) => void): KubeObject { // eslint-disable-line @typescript-eslint/no-explicit-any
  const copy = structuredClone(object) as KubeObject & { spec: any; status: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  change(copy);
  return copy;
}

/** The Deployment a recorded Rollout takes its template from, at `generation`. */
const deploymentAt = (rollout: KubeObject, generation: number): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: rollout.metadata.name, namespace: rollout.metadata.namespace, generation },
});

/** When the recorded pauses started: 2026-12-05T00:29:30Z. */
const PAUSED_AT = Date.parse('2026-12-05T00:29:30Z');

describe('when a deploy is done waiting for a Rollout', () => {
  it('a Healthy Rollout whose controller has read its Deployment\'s template is rolled out', () => {
    const healthy = recorded('canary-healthy');
    expect(rolloutState(healthy, { workload: deploymentAt(healthy, 1) })).toEqual({ done: true, failed: false, detail: 'Healthy, 2/2 ready on 67469f75c7' });
  });

  it('a Rollout still Healthy on the old template is not done until the controller has read and acted on the new one', () => {
    const healthy = recorded('canary-healthy');
    // The Deployment was just applied (generation 2); the Rollout still names generation 1.
    expect(rolloutState(healthy, { workload: deploymentAt(healthy, 2) })).toEqual({
      done: false, failed: false, detail: 'the Argo Rollouts controller has not read the new pod template of Deployment risk-engine yet',
    });
    // The annotation follows first (the controller's informer), then the status.
    const read = edited(healthy, (r) => { r.metadata.annotations!['rollout.argoproj.io/workload-generation'] = '2'; });
    expect(rolloutState(read, { workload: deploymentAt(healthy, 2) })).toMatchObject({ done: false, detail: 'the Argo Rollouts controller has not acted on the new pod template of Deployment risk-engine yet' });
    // status.observedGeneration is a string.
    const newSpec = edited(healthy, (r) => { r.metadata.generation = 2; });
    expect(rolloutState(newSpec)).toMatchObject({ done: false, detail: 'the Argo Rollouts controller has not observed the new generation yet' });
  });

  it('a canary at a pause: {} step awaits promotion: not done, not failed, and waiting will not change it', () => {
    const paused = recorded('canary-awaiting-promotion');
    expect(rolloutState(paused, { workload: deploymentAt(paused, 2) })).toEqual({
      done: false, failed: false, awaitingPromotion: true,
      detail: 'Paused, awaiting promotion (pause until promoted); step 1/2 (pause until promoted); canary weight 50% (1/2 pods new); stable 67469f75c7, new 56fcdb74bf',
    });
  });

  it('a blue/green preview without auto-promotion awaits promotion', () => {
    expect(rolloutState(recorded('bluegreen-awaiting-promotion'))).toEqual({
      done: false, failed: false, awaitingPromotion: true,
      detail: 'Paused, awaiting promotion (preview until promoted); preview on the new pods, active Service on stable (0% of traffic on the new version); stable 699fd4cfff, new 67fc6c7759',
    });
  });

  it('a Rollout paused by hand or by an inconclusive analysis awaits a person too', () => {
    const byHand = edited(recorded('canary-awaiting-promotion'), (r) => { r.spec.paused = true; });
    expect(rolloutState(byHand)).toMatchObject({ awaitingPromotion: true, detail: expect.stringMatching(/^Paused, awaiting promotion \(paused by hand \(spec\.paused\)\)/) });
    const inconclusive = edited(recorded('canary-awaiting-promotion'), (r) => {
      r.status.pauseConditions = [{ reason: 'InconclusiveAnalysisRun', startTime: '2026-12-05T00:29:40Z' }];
      r.status.message = 'InconclusiveAnalysisRun';
    });
    expect(rolloutState(inconclusive)).toMatchObject({ awaitingPromotion: true, detail: expect.stringMatching(/^Paused, awaiting promotion \(paused: its analysis was inconclusive\)/) });
  });

  it('a timed pause, canary step or blue/green auto-promotion, is just progressing, with the time left', () => {
    const timed = edited(recorded('canary-awaiting-promotion'), (r) => { r.spec.strategy.canary.steps[1].pause = { duration: '5m' }; });
    expect(rolloutState(timed, { now: PAUSED_AT + 48_000 })).toEqual({
      done: false, failed: false,
      detail: 'Paused (CanaryPauseStep); step 1/2 (pause 5m, 4m12s left); canary weight 50% (1/2 pods new); stable 67469f75c7, new 56fcdb74bf',
    });
    expect(remainingPauseSeconds(timed, PAUSED_AT + 48_000)).toBe(252);
    const automatic = edited(recorded('bluegreen-awaiting-promotion'), (r) => {
      r.spec.strategy.blueGreen.autoPromotionEnabled = true;
      r.spec.strategy.blueGreen.autoPromotionSeconds = 120;
    });
    expect(rolloutState(automatic, { now: PAUSED_AT + 30_000 })).toMatchObject({ done: false, failed: false, detail: expect.stringMatching(/^Paused \(BlueGreenPause\); preview on the new pods/) });
    expect(rolloutState(automatic, { now: PAUSED_AT + 30_000 }).awaitingPromotion).toBeUndefined();
  });

  it('a promoted blue/green release in its post-promotion analysis, and a Rollout being unpaused or aborted, are progressing', () => {
    expect(rolloutState(recorded('bluegreen-post-promotion-analysis'))).toEqual({
      done: false, failed: false,
      detail: 'Progressing: waiting for analysis to complete; active Service on the new version (100% of traffic), stable 699fd4cfff kept for the switch-back window; stable 699fd4cfff, new 67fc6c7759',
    });
    const unpausing = edited(recorded('canary-awaiting-promotion'), (r) => { r.status.pauseConditions = null; });
    expect(rolloutState(unpausing)).toEqual({ done: false, failed: false, detail: 'being unpaused by the Argo Rollouts controller' });
    expect(rolloutState(recorded('canary-aborting'))).toEqual({ done: false, failed: false, detail: 'being aborted: the Argo Rollouts controller returns it to the stable version' });
  });

  it('a Degraded Rollout has failed, quoting the controller\'s message: aborted by a person, or by its analysis', () => {
    expect(rolloutState(recorded('canary-aborted'))).toEqual({
      done: false, failed: true,
      detail: 'aborted: RolloutAborted: Rollout aborted update to revision 2; step 0/2 (setWeight 50); canary weight 0% (0/2 pods new); stable 5f9bb96bc4, new 7c6fd846b; '
        + 'the stable version runs. Fix: roll back to the revision before (nautilus rollback), or deploy a fixed version',
    });
    expect(rolloutState(recorded('canary-analysis-error'))).toMatchObject({
      failed: true,
      detail: expect.stringContaining('aborted: RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: Metric "requests" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1)'),
    });
  });

  it('pause durations read as the controller reads them', () => {
    expect([pauseSeconds('5m'), pauseSeconds('1h30m'), pauseSeconds('30'), pauseSeconds(45), pauseSeconds('90s'), pauseSeconds('soon')]).toEqual([300, 5400, 30, 45, 90, undefined]);
  });
});

describe('waiting for a deploy', () => {
  /** A cluster that answers reads with the given live objects. */
  const clusterOf = (objects: readonly KubeObject[]) => ({
    read: async (o: KubeObject) => objects.find((l) => l.kind === o.kind && l.metadata.name === o.metadata.name && l.metadata.namespace === o.metadata.namespace),
    events: async () => [],
    pods: async () => [],
  }) as unknown as Cluster;

  it('ends at once when everything else is rolled out and the rest awaits promotion, listing it', async () => {
    const rollout = recorded('canary-awaiting-promotion');
    const template = { ...deploymentAt(rollout, 2), spec: { replicas: 0 }, status: { observedGeneration: 2 } };
    const started = Date.now();
    const waited = await waitForRollout(clusterOf([rollout, template]), [template, rollout], { timeoutMs: 60_000, intervalMs: 10 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(waited).toMatchObject({ ok: true, failed: false, interrupted: false, notReady: [] });
    expect(waited.awaitingPromotion.map((a) => a.object.metadata.name)).toEqual(['risk-engine']);
  });

  it('keeps waiting for a Rollout whose controller has not read the new template, however Healthy it says it is', async () => {
    const rollout = recorded('canary-healthy');
    const template = { ...deploymentAt(rollout, 2), spec: { replicas: 0 }, status: { observedGeneration: 2 } };
    const waited = await waitForRollout(clusterOf([rollout, template]), [template, rollout], { timeoutMs: 50, intervalMs: 10 });
    expect(waited.ok).toBe(false);
    expect(waited.notReady.map((n) => `${n.object}: ${n.detail}`)).toEqual([
      'Rollout nautilus-latency/risk-engine: the Argo Rollouts controller has not read the new pod template of Deployment risk-engine yet',
    ]);
  });

  it('a timed-out canary says how long its pauses still last', async () => {
    const timed = edited(recorded('canary-awaiting-promotion'), (r) => {
      r.spec.strategy.canary.steps = [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 50 }, { pause: { duration: '10m' } }];
    });
    const waited = await waitForRollout(clusterOf([timed]), [timed], { timeoutMs: 10, intervalMs: 10 });
    expect(waited.notReady[0].detail).toMatch(/^Paused \(CanaryPauseStep\); step 1\/4 \(pause 5m, .*; its timed pauses still to come last (1[0-4]m\d*s?|15m) \(the release goes on; a --timeout that long waits for it\)$/);
  });
});

describe('nautilus status, one line per Rollout', () => {
  const pod = (name: string, hash: string, ready = true) => ({
    metadata: { name, labels: { 'rollouts-pod-template-hash': hash } },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  it('a canary awaiting promotion: phase, step, weight from its ready pods, both hashes, its analysis, and the command that continues it', () => {
    const rollout = recorded('canary-awaiting-promotion');
    const pods = podCounts(rollout, [pod('risk-engine-56fcdb74bf-abcde', '56fcdb74bf'), pod('risk-engine-67469f75c7-fghij', '67469f75c7'), pod('risk-engine-67469f75c7-klmno', '67469f75c7', false), pod('other-56fcdb74bf-pqrst', '56fcdb74bf')]);
    expect(releaseVerdict(rollout, { environment: 'prod', workload: deploymentAt(rollout, 2), pods, analysisRun: undefined })).toEqual({
      healthy: true, word: 'paused ', awaitingPromotion: true,
      detail: 'Paused (CanaryPauseStep); step 1/2 (pause until promoted); canary weight 50% (1 of 2 ready pods new; step sets 50%); stable 67469f75c7, new 56fcdb74bf; '
        + 'analysis risk-engine-56fcdb74bf-2: Running. Awaiting promotion: nautilus promote prod risk-engine (or nautilus abort prod risk-engine)',
    });
  });

  it('a blue/green release: on its preview, then promoted with its post-promotion analysis running, then Healthy', () => {
    const preview = recorded('bluegreen-awaiting-promotion');
    const pods = podCounts(preview, [pod('backend-67fc6c7759-abcde', '67fc6c7759'), pod('backend-699fd4cfff-fghij', '699fd4cfff')]);
    expect(releaseVerdict(preview, { environment: 'prod', pods })).toMatchObject({
      healthy: true, word: 'paused ',
      detail: 'Paused (BlueGreenPause); preview on the new pods (1 ready), active Service on stable (0% of traffic on the new version); stable 699fd4cfff, new 67fc6c7759. '
        + 'Awaiting promotion: nautilus promote prod backend (or nautilus abort prod backend)',
    });
    const promoted = recorded('bluegreen-post-promotion-analysis');
    expect(releaseVerdict(promoted, { environment: 'prod', pods, analysisRun: latestAnalysisRun(promoted, runs()) })).toEqual({
      healthy: false, word: 'PENDING', awaitingPromotion: false,
      detail: 'Progressing (waiting for analysis to complete); active Service on the new version (100% of traffic), stable 699fd4cfff kept for the switch-back window; '
        + 'stable 699fd4cfff, new 67fc6c7759; analysis backend-67fc6c7759-2-post: Running',
    });
    const full = recorded('bluegreen-fully-promoted');
    expect(releaseVerdict(full, { environment: 'prod' })).toEqual({
      healthy: true, word: 'ok     ', awaitingPromotion: false,
      detail: 'Healthy; on 67fc6c7759; analysis backend-67fc6c7759-2-post: terminated before it finished (the release was promoted or aborted)',
    });
  });

  it('an aborted canary is unhealthy, says the stable version runs and how to fix it; its analysis, terminated unmeasured, is not called a success', () => {
    const aborted = recorded('canary-aborted');
    const run = latestAnalysisRun(aborted, runs());
    expect(run?.metadata.name).toBe('position-keeper-7c6fd846b-2');
    expect(releaseVerdict(aborted, { environment: 'prod', analysisRun: run, pods: podCounts(aborted, [pod('position-keeper-5f9bb96bc4-abcde', '5f9bb96bc4'), pod('position-keeper-5f9bb96bc4-fghij', '5f9bb96bc4')]) })).toEqual({
      healthy: false, word: 'ABORTED', awaitingPromotion: false,
      detail: 'Degraded (RolloutAborted: Rollout aborted update to revision 2); step 0/2 (setWeight 50); canary weight 0% (0 of 2 ready pods new; step sets 0%); stable 5f9bb96bc4, new 7c6fd846b; '
        + 'analysis position-keeper-7c6fd846b-2: terminated before its first measurement. The stable version runs; the new one is scaled down. '
        + 'Fix: nautilus rollback prod to the revision it came from, or deploy a fixed version',
    });
  });

  it('a canary its analysis aborted names the analysis and the metric that errored', () => {
    const failed = recorded('canary-analysis-error');
    expect(analysisText(failed, latestAnalysisRun(failed, runs()))).toBe(
      'analysis order-manager-5754574f89-2: Error (Metric "requests" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1): "Error Message: Post '
      + '"http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090/api/v1/query": dial tcp: lookup kube-prometheus-stack-prometheus.monitoring.svc.cluster.local on 10.255.255.53:53: no such host")',
    );
    // Without the run's own message, the first metric that did not succeed, with its message.
    const run = edited(latestAnalysisRun(failed, runs())!, (r) => { delete r.status.message; });
    expect(analysisText(failed, run)).toMatch(/^analysis order-manager-5754574f89-2: Error \(metric "latency" Error: Post "http:\/\/kube-prometheus-stack-prometheus/);
    expect(releaseVerdict(failed, { environment: 'prod' })).toMatchObject({ healthy: false, word: 'ABORTED' });
  });
});

describe('nautilus promote and abort send the plugin\'s patches', () => {
  it('promote: a paused canary or blue/green release has its pause conditions cleared (status subresource)', () => {
    expect(promotePatch(recorded('canary-awaiting-promotion'))).toEqual({ status: { pauseConditions: null }, unified: { spec: { paused: false }, status: { pauseConditions: null } } });
    expect(promotePatch(recorded('bluegreen-awaiting-promotion'))).toMatchObject({ status: { pauseConditions: null } });
    expect(promotePatch(recorded('bluegreen-awaiting-promotion')).spec).toBeUndefined();
  });

  it('promote: a canary between steps moves to the next; one paused by hand is unpaused; an inconclusive analysis is passed', () => {
    const moving = edited(recorded('canary-awaiting-promotion'), (r) => { r.status.pauseConditions = null; r.status.currentStepIndex = 0; r.status.controllerPause = false; });
    expect(promotePatch(moving)).toMatchObject({ status: { pauseConditions: null, currentStepIndex: 1 } });
    const byHand = edited(recorded('canary-awaiting-promotion'), (r) => { r.spec.paused = true; });
    expect(promotePatch(byHand)).toMatchObject({ spec: { paused: false }, status: { pauseConditions: null } });
    const inconclusive = edited(recorded('canary-awaiting-promotion'), (r) => {
      r.status.canary = { currentStepAnalysisRunStatus: { name: 'x', status: 'Inconclusive' } };
      r.status.pauseConditions = [{ reason: 'InconclusiveAnalysisRun' }];
    });
    expect(promotePatch(inconclusive)).toMatchObject({ status: { pauseConditions: null, controllerPause: false, currentStepIndex: 2 } });
  });

  it('promote --full sets promoteFull unless the release is already stable', () => {
    expect(promotePatch(recorded('bluegreen-post-promotion-analysis'), { full: true })).toMatchObject({ status: { promoteFull: true } });
    expect(promotePatch(recorded('canary-healthy'), { full: true }).status).toBeUndefined();
  });

  it('abort sets status.abort', () => {
    expect(ABORT_PATCH).toEqual({ status: { abort: true } });
  });

  it('refusals name the engine, why there is nothing to do, and the fix', () => {
    const options = { environment: 'prod' };
    expect(promoteRefusal(recorded('canary-awaiting-promotion'), options)).toBeUndefined();
    expect(promoteRefusal(recorded('bluegreen-awaiting-promotion'), options)).toBeUndefined();
    expect(promoteRefusal(recorded('canary-healthy'), options)).toBe('Rollout nautilus-latency/risk-engine (engine risk-engine) has nothing to promote: it is Healthy on its stable version 67469f75c7, '
      + 'no release in progress. Fix: deploy a new version first (nautilus deploy prod)');
    expect(promoteRefusal(recorded('bluegreen-post-promotion-analysis'), options)).toBe('Rollout nautilus-engines/backend (engine backend) has nothing to promote yet: its active Service is on the new version already, '
      + 'and it waits for its post-promotion analysis. Fix: wait (nautilus status prod shows it), or skip the rest of its release with nautilus promote prod backend --full');
    expect(promoteRefusal(recorded('bluegreen-post-promotion-analysis'), { ...options, full: true })).toBeUndefined();
    expect(promoteRefusal(recorded('canary-aborted'), options)).toMatch(/^Rollout nautilus-latency\/position-keeper \(engine position-keeper\) was aborted \(RolloutAborted: .*\): a promote does not resume it\. Fix: deploy a fixed version/);
    expect(abortRefusal(recorded('canary-awaiting-promotion'), options)).toBeUndefined();
    expect(abortRefusal(recorded('bluegreen-post-promotion-analysis'), options)).toBeUndefined();
    expect(abortRefusal(recorded('canary-healthy'), options)).toBe('Rollout nautilus-latency/risk-engine (engine risk-engine) has no release in progress to abort: it is Healthy on its stable version 67469f75c7. '
      + 'Fix: to go back to an earlier version, nautilus rollback prod');
    expect(abortRefusal(recorded('canary-aborted'), options)).toMatch(/^Rollout nautilus-latency\/position-keeper \(engine position-keeper\) is already aborted \(.*\): its stable version 5f9bb96bc4 runs\. Nothing to do$/);
  });

  it('the engine\'s Rollout is found in the manifests; an unknown engine or one rolled as a Deployment is an error naming the fix', () => {
    const manifests = [recorded('canary-awaiting-promotion'), recorded('bluegreen-awaiting-promotion'), deploymentAt(recorded('canary-healthy'), 1),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'analytics', namespace: 'nautilus-engines' } }];
    expect(findRollout(manifests, 'prod', 'backend').kind).toBe('Rollout');
    expect(() => findRollout(manifests, 'prod', 'analytics')).toThrow('analytics rolls out as a Deployment in prod (Deployment nautilus-engines/analytics), not as an Argo Rollout: there is no release to promote or abort; '
      + 'nautilus deploy prod waits for it. Fix: name an engine released by a Rollout (its Rollouts are backend, risk-engine)');
    expect(() => findRollout(manifests, 'prod', 'nope')).toThrow('no engine "nope" in prod\'s manifests; its Rollouts are backend, risk-engine. Fix: check the name (nautilus status prod lists the workloads)');
    expect(() => findRollout(manifests.slice(3), 'dev', 'analytics')).toThrow(/rolls out as a Deployment in dev .*\(it has no Rollouts \(no engine of dev is released progressively\)\)$/);
  });

  /** A cluster that records the merge patches sent, answering 404 for the subresources in `noStatus`. */
  function recordingCluster(live: KubeObject, noStatus = false) {
    const sent: Array<{ subresource?: string; body: Record<string, unknown> }> = [];
    const cluster = {
      read: async () => live,
      mergePatch: async (_object: KubeObject, body: Record<string, unknown>, subresource?: 'status') => {
        if (subresource === 'status' && noStatus) return false;
        sent.push({ ...(subresource ? { subresource } : {}), body });
        return true;
      },
    } as unknown as Cluster;
    return { cluster, sent };
  }

  it('runs them as the plugin does: status subresource first, then the spec; the Rollout itself where there is no status subresource', async () => {
    const manifests = [recorded('canary-awaiting-promotion')];
    const paused = recordingCluster(edited(recorded('canary-awaiting-promotion'), (r) => { r.spec.paused = true; }));
    const line = await runRelease(paused.cluster, { command: 'promote', environment: 'prod', engine: 'risk-engine', full: false, manifests });
    expect(paused.sent).toEqual([{ subresource: 'status', body: { status: { pauseConditions: null } } }, { body: { spec: { paused: false } } }]);
    expect(line).toMatch(/^promote prod risk-engine: Rollout nautilus-latency\/risk-engine promoted \(was: Paused, awaiting promotion/);

    const old = recordingCluster(recorded('canary-awaiting-promotion'), true);
    await runRelease(old.cluster, { command: 'promote', environment: 'prod', engine: 'risk-engine', full: false, manifests });
    expect(old.sent).toEqual([{ body: { spec: { paused: false }, status: { pauseConditions: null } } }]);

    const aborting = recordingCluster(recorded('canary-awaiting-promotion'));
    expect(await runRelease(aborting.cluster, { command: 'abort', environment: 'prod', engine: 'risk-engine', full: false, manifests }))
      .toMatch(/^abort prod risk-engine: Rollout nautilus-latency\/risk-engine aborted .*returns everything to the stable one \(67469f75c7\)/);
    expect(aborting.sent).toEqual([{ subresource: 'status', body: { status: { abort: true } } }]);

    const healthy = recordingCluster(recorded('canary-healthy'));
    await expect(runRelease(healthy.cluster, { command: 'abort', environment: 'prod', engine: 'risk-engine', full: false, manifests })).rejects.toThrow(/has no release in progress to abort/);
    expect(healthy.sent).toEqual([]);
  });
});

describe('a Service whose selector the controller switches', () => {
  const live = recorded('service-bluegreen-active');
  const manifest: KubeObject = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'nautilus-engines' },
    spec: { selector: { 'app.kubernetes.io/instance': 'backend', 'app.kubernetes.io/name': 'backend' }, ports: [{ name: 'http', port: 8001 }] },
  };

  it('is applied with the controller\'s live hash, which replaces one read earlier', () => {
    const selector = (o: KubeObject) => (o.spec as { selector: Record<string, string> }).selector;
    expect(selector(withControllerSelector(manifest, live))).toEqual({ ...selector(manifest), 'rollouts-pod-template-hash': '699fd4cfff' });
    const stale = { ...manifest, spec: { ...(manifest.spec as object), selector: { ...selector(manifest), 'rollouts-pod-template-hash': '67fc6c7759' } } };
    expect(selector(withControllerSelector(stale, live))['rollouts-pod-template-hash']).toBe('699fd4cfff');
    expect(selector(manifest)['rollouts-pod-template-hash']).toBeUndefined();
  });

  it('only when the controller manages it', () => {
    const unmanaged = edited(live, (s) => { delete s.metadata.annotations!['argo-rollouts.argoproj.io/managed-by-rollouts']; });
    expect(withControllerSelector(manifest, unmanaged)).toBe(manifest);
    expect(withControllerSelector(manifest, undefined)).toBe(manifest);
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend', namespace: 'nautilus-engines' } };
    expect(withControllerSelector(configMap, live)).toBe(configMap);
  });
});

describe('the revision of a deploy that ended awaiting promotion', () => {
  const revision = (number: number, outcome: RevisionOutcome, extra: Partial<Revision> = {}): Revision => ({
    revision: number, environment: 'prod', time: '2026-12-05T00:29:31.000Z', user: 'admin', context: 'admin', tooling: 'nautilus-k8s/0.1.0', outcome, manifests: [], ...extra,
  });

  it('status says so, healthy, naming the engines; history shows the outcome', () => {
    expect(revisionStatus(revision(2, 'awaiting promotion', { awaitingPromotion: ['risk-engine', 'backend'], commit: '0123456789abcdef' }))).toEqual({
      healthy: true, line: 'revision 2 of prod: applied, awaiting promotion of risk-engine, backend when recorded, 2026-12-05T00:29:31Z by admin (admin), commit 0123456789ab',
    });
    expect(historyLines([revision(1, 'rolled out'), revision(2, 'awaiting promotion')])[2]).toMatch(/^2 +2026-12-05T00:29:31Z +- +awaiting promotion +\+0 ~0 -0 objects, 0 new images +admin \(admin\)$/);
  });

  it('a rollback restores it by default: applied whole and nothing failed (in prod every engine release ends so)', () => {
    const history = [revision(1, 'rolled out'), revision(2, 'awaiting promotion'), revision(3, 'failed'), revision(4, 'awaiting promotion')];
    expect(rollbackTarget(history, 'prod', undefined).revision).toBe(2);
  });
});

describe('a mesh canary\'s routes, which the controller edits at each step', () => {
  const host = 'strategy.nautilus-engines.svc.cluster.local';
  const pods = { 'app.kubernetes.io/instance': 'strategy', 'app.kubernetes.io/name': 'strategy' };
  const rule = (stableHash?: string, canaryHash?: string, managed = true): KubeObject => ({
    apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
    metadata: { name: 'strategy', namespace: 'nautilus-engines', ...(managed ? { annotations: { 'argo-rollouts.argoproj.io/managed-by-rollouts': 'strategy' } } : {}) },
    spec: {
      host,
      subsets: [
        { name: 'stable', labels: { ...pods, ...(stableHash ? { 'rollouts-pod-template-hash': stableHash } : {}) } },
        { name: 'canary', labels: { ...pods, ...(canaryHash ? { 'rollouts-pod-template-hash': canaryHash } : {}) } },
      ],
    },
  });
  const service = (stable: number, canary: number, canarySubset = 'canary'): KubeObject => ({
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'strategy', namespace: 'nautilus-engines' },
    spec: { hosts: [host], http: [{ name: 'primary', route: [{ destination: { host, subset: 'stable' }, weight: stable }, { destination: { host, subset: canarySubset }, weight: canary }] }] },
  });

  it('keeps the subsets\' hash labels the controller set', () => {
    expect(withControllerFields(rule(), rule('aaa', 'bbb'))).toEqual(rule('aaa', 'bbb'));
    expect(withControllerFields(rule(), rule('aaa', 'bbb', false))).toEqual(rule());
  });

  it('keeps the weights the controller set, where the live route splits between the same destinations', () => {
    expect(withControllerFields(service(100, 0), service(75, 25))).toEqual(service(75, 25));
    // A route the manifests changed is theirs.
    expect(withControllerFields(service(100, 0), service(75, 25, 'other'))).toEqual(service(100, 0));
    expect(controllerEdits(service(75, 25))).toBe(true);
    expect(controllerEdits(rule('aaa', 'bbb'))).toBe(true);
    expect(controllerEdits(rule(undefined, undefined, false))).toBe(false);
  });
});

describe('a rollback through a Rollout', () => {
  const rollout = (status: Record<string, unknown>): KubeObject => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'risk-engine', namespace: 'nautilus-latency' }, status });

  it('promotes in full a Rollout releasing the restored version, once, and never an aborted one', () => {
    expect(rollbackPromotes(rollout({ currentPodHash: 'old', stableRS: 'new' }))).toBe(true);
    expect(rollbackPromotes(rollout({ currentPodHash: 'old', stableRS: 'old' }))).toBe(false);
    expect(rollbackPromotes(rollout({ currentPodHash: 'old', stableRS: 'new', promoteFull: true }))).toBe(false);
    expect(rollbackPromotes(rollout({ currentPodHash: 'old', stableRS: 'new', abort: true }))).toBe(false);
    expect(rollbackPromotes({ ...rollout({ currentPodHash: 'old', stableRS: 'new' }), kind: 'Deployment' })).toBe(false);
  });
});
