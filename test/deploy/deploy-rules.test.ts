/**
 * The deploy tool's pure rules: rollout status (kstatus), apply and prune order, ApplySet
 * bookkeeping, the Secrets preflight looks for. The cluster test (test/cluster/deploy-cli.test.ts)
 * runs the tool end to end.
 */
import { createHash } from 'crypto';
import { applySetId, asMember, recordFor, toolingName, unionRecord } from '../../src/deploy/applyset';
import { applyOrder, KubeObject } from '../../src/deploy/objects';
import { pruneOrder } from '../../src/deploy/plan';
import { secretReferences } from '../../src/deploy/preflight';
import { rolloutState } from '../../src/deploy/rollout';
import { DEV } from '../../src/environments/platform-environments';
import { MONITORING_STACK } from '../../src/planning/monitoring';
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

  it('a DaemonSet is done when every scheduled pod is updated and ready', () => {
    const status = { observedGeneration: 2, desiredNumberScheduled: 2, numberReady: 2, updatedNumberScheduled: 1, numberAvailable: 2 };
    expect(rolloutState(workload('DaemonSet', {}, status))).toMatchObject({ done: false, detail: '2/2 ready, 1/2 updated' });
    expect(rolloutState(workload('DaemonSet', {}, { ...status, updatedNumberScheduled: 2 }))).toMatchObject({ done: true });
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
    expect(record.namespaces).toEqual([MONITORING_STACK.namespace, 'nautilus-data', 'nautilus-engines', 'nautilus-latency'].sort());
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
