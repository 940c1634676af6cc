/**
 * The deploy tool's pure rules: rollout status (kstatus), CronJob and autoscaler health, apply and prune order, ApplySet
 * bookkeeping, the Secrets preflight looks for. The cluster test (test/cluster/deploy-cli.test.ts)
 * runs the tool end to end.
 */
import { createHash } from 'crypto';
import { applySetId, asMember, recordFor, toolingName, unionRecord } from '../../src/deploy/applyset';
import { applyOrder, applyWaves, KubeObject } from '../../src/deploy/objects';
import { pruneOrder } from '../../src/deploy/plan';
import { secretReferences } from '../../src/model/secret-references';
import { podNamePattern, rolloutState } from '../../src/deploy/rollout';
import { autoscalerHealth, cronJobHealth } from '../../src/deploy/status';
import { DEV } from '../../src/environments/platform-environments';
import { synthObjects } from '../support/platform';

function workload(kind: string, spec: Record<string, unknown>, status: Record<string, unknown>, generation = 2): KubeObject {
  return { apiVersion: 'apps/v1', kind, metadata: { name: 'w', namespace: 'ns', generation }, spec, status };
}

describe('rolloutState', () => {
  it('waits until the controller has observed the new generation', () => {
    const state = rolloutState(workload('Deployment', { replicas: 1 }, { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 }));
    expect(state).toEqual({ done: false, failed: false, detail: 'the controller has not observed the new generation yet' });
  });

  it('a Deployment is done when every replica is updated, ready and available and no old one is left', () => {
    const base = { observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 };
    expect(rolloutState(workload('Deployment', { replicas: 3 }, base))).toMatchObject({ done: true, detail: '3/3 ready, 3/3 updated' });
    expect(rolloutState(workload('Deployment', { replicas: 3 }, { ...base, replicas: 4 }))).toMatchObject({ done: false, detail: '3/3 ready, 3/3 updated, 1 old' });
    expect(rolloutState(workload('Deployment', { replicas: 3 }, { ...base, availableReplicas: 2 }))).toMatchObject({ done: false });
  });

  it('a Deployment past its progress deadline has failed', () => {
    const state = rolloutState(workload('Deployment', { replicas: 1 }, {
      observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }],
    }));
    expect(state).toMatchObject({ done: false, failed: true, detail: 'progress deadline exceeded: too slow' });
  });

  it('a StatefulSet with a partition only needs the replicas above it updated', () => {
    const spec = { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } };
    const status = { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' };
    expect(rolloutState(workload('StatefulSet', spec, status))).toMatchObject({ done: true, detail: '3/3 ready, 1/1 updated (partition 2)' });
    const noPartition = { replicas: 3, updateStrategy: { type: 'RollingUpdate' } };
    expect(rolloutState(workload('StatefulSet', noPartition, { ...status, updatedReplicas: 3 }))).toMatchObject({ done: false });
    expect(rolloutState(workload('StatefulSet', noPartition, { ...status, updatedReplicas: 3, currentRevision: 'b' }))).toMatchObject({ done: true });
  });

  it('a Job is done when it succeeded and failed when its Failed condition is set', () => {
    const job = (status: Record<string, unknown>) => ({ ...workload('Job', { completions: 1 }, status), apiVersion: 'batch/v1' });
    expect(rolloutState(job({ succeeded: 1 }))).toMatchObject({ done: true });
    expect(rolloutState(job({ conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }))).toMatchObject({ failed: true, detail: 'failed: BackoffLimitExceeded' });
  });

  it('a running Job says how many pods run and failed', () => {
    const job = { ...workload('Job', { completions: 2 }, { succeeded: 1, active: 1, failed: 1 }), apiVersion: 'batch/v1' };
    expect(rolloutState(job)).toEqual({ done: false, failed: false, detail: '1/2 succeeded, 1 running, 1 failed pod(s)' });
  });

  it('a CronJob is current once applied, unless it is suspended', () => {
    const cronJob = (spec: Record<string, unknown>) => ({ ...workload('CronJob', { schedule: '30 22 * * 1-5', ...spec }, {}, 3), apiVersion: 'batch/v1' });
    // No observedGeneration: CronJobs do not report one.
    expect(rolloutState(cronJob({}))).toEqual({ done: true, failed: false, detail: 'scheduled' });
    expect(rolloutState(cronJob({ suspend: false }))).toMatchObject({ done: true });
    expect(rolloutState(cronJob({ suspend: true }))).toEqual({
      done: false, failed: true, detail: 'suspended (spec.suspend is true): its schedule does not run. Fix: set spec.suspend to false',
    });
  });

  it("finds a workload's pods by the names its controller gives them", () => {
    const named = (kind: string, name: string) => podNamePattern({ kind, metadata: { name } });
    expect(named('Deployment', 'redis').test('redis-5d8f7b9c4d-x2x7q')).toBe(true);
    expect(named('Deployment', 'redis').test('redis-sentinel-5d8f7b9c4d-x2x7q')).toBe(false);
    expect(named('StatefulSet', 'redis').test('redis-2')).toBe(true);
    expect(named('StatefulSet', 'redis').test('redis-sentinel-2')).toBe(false);
    expect(named('Job', 'train').test('train-7bq4z')).toBe(true);
    expect(named('Job', 'train').test('train-other-7bq4z')).toBe(false);
  });

  it('a DaemonSet is done when every scheduled pod is updated and ready', () => {
    const status = { observedGeneration: 2, desiredNumberScheduled: 2, numberReady: 2, updatedNumberScheduled: 1, numberAvailable: 2 };
    expect(rolloutState(workload('DaemonSet', {}, status))).toMatchObject({ done: false, detail: '2/2 ready, 1/2 updated' });
    expect(rolloutState(workload('DaemonSet', {}, { ...status, updatedNumberScheduled: 2 }))).toMatchObject({ done: true });
  });
});

describe('autoscalerHealth', () => {
  const hpa = (conditions: Record<string, string>[]): KubeObject => ({
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'ns' },
    spec: { minReplicas: 2, maxReplicas: 4, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
    status: { currentReplicas: 2, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 35 } } }], conditions },
  });
  const metricsUnreadable = { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'unable to get metrics for resource cpu' };

  it('is ok while it can scale', () => {
    expect(autoscalerHealth(hpa([{ type: 'AbleToScale', status: 'True' }, { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' }])))
      .toEqual({ healthy: true, word: 'ok     ', detail: 'replicas 2 (min 2, max 4); cpu 35%/70%' });
    expect(autoscalerHealth(hpa([])).detail).toBe('replicas 2 (min 2, max 4); cpu 35%/70%; not evaluated yet');
  });

  it('is unhealthy when it cannot read a metric (ScalingActive=False), with the reason', () => {
    expect(autoscalerHealth(hpa([{ type: 'AbleToScale', status: 'True' }, metricsUnreadable]))).toEqual({
      healthy: false, word: 'FAILING',
      detail: 'replicas 2 (min 2, max 4); cpu 35%/70%; cannot scale: ScalingActive=False FailedGetResourceMetric: unable to get metrics for resource cpu',
    });
  });

  it('tolerates unreadable metrics only when asked, and never a target it cannot scale', () => {
    expect(autoscalerHealth(hpa([metricsUnreadable]), { ignoreAutoscalerMetrics: true })).toMatchObject({ healthy: true, word: 'ignored' });
    const cannotScale = { type: 'AbleToScale', status: 'False', reason: 'FailedGetScale', message: 'deployments/scale "x" not found' };
    expect(autoscalerHealth(hpa([cannotScale]), { ignoreAutoscalerMetrics: true })).toMatchObject({ healthy: false, word: 'FAILING' });
    const invalid = { type: 'ScalingActive', status: 'False', reason: 'InvalidSelector' };
    expect(autoscalerHealth(hpa([invalid]), { ignoreAutoscalerMetrics: true })).toMatchObject({ healthy: false });
  });

  it('does not count a target scaled to zero on purpose', () => {
    expect(autoscalerHealth(hpa([{ type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled' }]))).toMatchObject({ healthy: true });
  });
});

describe('cronJobHealth', () => {
  const cronJob = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'train', namespace: 'ns', uid: 'cron-uid' },
    spec: { schedule: '30 22 * * 1-5', ...spec }, status,
  });
  const job = (name: string, startTime: string, condition: string | undefined, owner = 'cron-uid'): KubeObject => ({
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name, namespace: 'ns', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'train', uid: owner, controller: true }] },
    status: { startTime, conditions: condition ? [{ type: condition, status: 'True', reason: condition === 'Failed' ? 'DeadlineExceeded' : 'Completed', message: condition === 'Failed' ? 'Job was active longer than specified deadline' : undefined }] : [] },
  });

  it('reports the schedule, last schedule and success times and active Jobs', () => {
    const status = { lastScheduleTime: '2026-11-20T22:30:00Z', lastSuccessfulTime: '2026-11-20T23:10:04.000Z', active: [{ name: 'train-1' }] };
    expect(cronJobHealth(cronJob({ timeZone: 'Europe/London' }, status), [])).toEqual({
      healthy: true, word: 'ok     ',
      detail: 'schedule "30 22 * * 1-5" (Europe/London); last scheduled 2026-11-20T22:30:00Z; last succeeded 2026-11-20T23:10:04Z; 1 active',
    });
    expect(cronJobHealth(cronJob(), []).detail).toBe('schedule "30 22 * * 1-5"; last scheduled never; last succeeded never; 0 active');
  });

  it('is unhealthy when its most recent Job failed, naming the Job and the reason', () => {
    const jobs = [job('train-2', '2026-11-21T22:30:00Z', 'Failed'), job('train-1', '2026-11-20T22:30:00Z', 'Complete')];
    expect(cronJobHealth(cronJob(), jobs)).toMatchObject({
      healthy: false, word: 'FAILED ',
      detail: expect.stringMatching(/; last Job train-2 failed: DeadlineExceeded: Job was active longer than specified deadline$/),
    });
  });

  it('is healthy again once a later Job succeeds or runs, and ignores Jobs it does not own', () => {
    const failedThenOk = [job('train-1', '2026-11-20T22:30:00Z', 'Failed'), job('train-2', '2026-11-21T22:30:00Z', 'Complete')];
    expect(cronJobHealth(cronJob(), failedThenOk).healthy).toBe(true);
    expect(cronJobHealth(cronJob(), [job('train-1', '2026-11-20T22:30:00Z', 'Failed'), job('train-2', '2026-11-21T22:30:00Z', undefined)]).healthy).toBe(true);
    expect(cronJobHealth(cronJob(), [job('other-1', '2026-11-21T22:30:00Z', 'Failed', 'other-uid')]).healthy).toBe(true);
  });

  it('is unhealthy when suspended', () => {
    expect(cronJobHealth(cronJob({ suspend: true }), [])).toMatchObject({ healthy: false, word: 'SUSPEND', detail: expect.stringMatching(/suspended \(spec\.suspend is true\): its schedule does not run$/) });
  });
});

describe('ApplySet bookkeeping', () => {
  it("computes kubectl's id: base64url(sha256(<name>.<namespace>.<Kind>.<group>)) of the cluster-scoped parent", () => {
    const digest = createHash('sha256').update('nautilus-dev..ApplySet.nautilus.io').digest('base64url');
    expect(applySetId('dev')).toBe(`applyset-${digest}-v1`);
    expect(applySetId('dev')).toMatch(/^applyset-[A-Za-z0-9_-]{43}-v1$/);
    expect(applySetId('prod')).not.toBe(applySetId('dev'));
  });

  it('records group-kinds and namespaces of the members, and widens to the union while applying', () => {
    const objects = synthObjects(DEV) as unknown as KubeObject[];
    const record = recordFor('nautilus-k8s/0.1.0', objects);
    expect(record.groupKinds).toEqual(expect.arrayContaining(['Deployment.apps', 'Namespace', 'Service', 'ServiceMonitor.monitoring.coreos.com', 'NetworkPolicy.networking.k8s.io']));
    expect(record.namespaces).toEqual([DEV.monitoringNamespace, 'nautilus-data', 'nautilus-engines', 'nautilus-latency'].sort());
    const union = unionRecord(record, { tooling: 'x/1', groupKinds: ['CronJob.batch'], namespaces: ['old-namespace'] });
    expect(union.groupKinds).toContain('CronJob.batch');
    expect(union.namespaces).toContain('old-namespace');
    expect(union.tooling).toBe('nautilus-k8s/0.1.0');
  });

  it('labels members without touching the manifest', () => {
    const [first] = synthObjects(DEV) as unknown as KubeObject[];
    const member = asMember(first, 'dev');
    expect(member.metadata.labels?.['applyset.kubernetes.io/part-of']).toBe(applySetId('dev'));
    expect(first.metadata.labels?.['applyset.kubernetes.io/part-of']).toBeUndefined();
  });

  it('reads the tool name of a tooling annotation as kubectl does', () => {
    expect(toolingName('nautilus-k8s/0.1.0')).toBe('nautilus-k8s');
    expect(toolingName('kubectl/v1.36.3')).toBe('kubectl');
    expect(toolingName('example.com/tool/v2')).toBe('example.com/tool');
  });
});

describe('order', () => {
  it('applies CRDs and namespaces first, then the files in their numbered order', () => {
    const object = (kind: string, name: string): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name } });
    const ordered = applyOrder([
      { file: '0003-engines.yaml', object: object('Deployment', 'a') },
      { file: '0001-network-policies.yaml', object: object('NetworkPolicy', 'b') },
      { file: '0000-cluster.yaml', object: object('PriorityClass', 'c') },
      { file: '0000-cluster.yaml', object: object('Namespace', 'd') },
      { file: '0004-extra.yaml', object: object('CustomResourceDefinition', 'e') },
    ]);
    expect(ordered.map((entry) => entry.object.metadata.name)).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('applies side by side in waves: namespaces, what the workloads need, the workloads, what acts on them', () => {
    const objects = synthObjects(DEV);
    const waves = applyWaves(applyOrder(objects.map((object) => ({ object: object as unknown as KubeObject, file: object.file }))));
    expect(waves.map((wave) => [...new Set(wave.map((entry) => entry.object.kind))].sort().join(','))).toEqual([
      'Namespace',
      // ServiceAccounts, ConfigMaps, NetworkPolicies, PriorityClasses, Services, budgets...
      expect.not.stringMatching(/Deployment|StatefulSet|HorizontalPodAutoscaler|ServiceMonitor/),
      'Deployment,Rollout,StatefulSet',
      expect.stringMatching(/^(HorizontalPodAutoscaler,)?ServiceMonitor$/),
    ]);
    expect(waves[1].map((entry) => entry.object.kind)).toEqual(expect.arrayContaining(['NetworkPolicy', 'ServiceAccount', 'ConfigMap', 'PriorityClass']));
    expect(waves.flat()).toHaveLength(objects.length);
  });

  it('prunes namespaced objects before cluster objects, namespaces and CRDs last', () => {
    const pruned = pruneOrder([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
      { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'pc' } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns' } },
    ]);
    expect(pruned.map((object) => object.kind)).toEqual(['Deployment', 'PriorityClass', 'Namespace']);
  });
});

describe('secretReferences', () => {
  it("finds every Secret dev's manifests read, per namespace, with the keys read", () => {
    const references = secretReferences(synthObjects(DEV) as unknown as KubeObject[]);
    const names = references.map((reference) => `${reference.namespace}/${reference.name}`);
    expect(names).toEqual(expect.arrayContaining(['nautilus-data/redis-credentials', 'nautilus-data/timescaledb-credentials', 'nautilus-engines/redis-credentials']));
    const timescale = references.find((reference) => reference.namespace === 'nautilus-engines' && reference.name === 'timescaledb-credentials');
    expect(timescale?.keys).toEqual(['password', 'username']);
    expect(timescale?.readers.every((reader) => reader.startsWith('Deployment nautilus-engines/') || reader.startsWith('CronJob '))).toBe(true);
  });

  it('reads secretKeyRef, envFrom and secret volumes, and skips Secrets the manifests define', () => {
    const pod = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec });
    const references = secretReferences([
      pod({ containers: [{ env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'one', key: 'k' } } }], envFrom: [{ secretRef: { name: 'two' } }] }], volumes: [{ name: 'v', secret: { secretName: 'three' } }, { name: 'w', secret: { secretName: 'own' } }] }),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'own', namespace: 'ns' } },
    ]);
    expect(references.map((reference) => [reference.name, reference.keys])).toEqual([['one', ['k']], ['three', []], ['two', []]]);
  });
});
