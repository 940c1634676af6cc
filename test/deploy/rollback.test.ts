import { dataFormatDowngrades, formatDataFormat, parseDataFormat } from '../../src/model/data-format';
import { KubeObject } from '../../src/deploy/objects';
import { Plan } from '../../src/deploy/plan';
import { Revision, RevisionOutcome, revisionStatus } from '../../src/deploy/revisions';
import { rollbackRefusals, rollbackTarget } from '../../src/deploy/rollback';
import { planDataStore } from '../../src/planning/plan';
import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { PROD } from '../../src/environments/platform-environments';

const revision = (number: number, outcome: RevisionOutcome, manifests: readonly KubeObject[] = []): Revision => ({
  revision: number, environment: 'prod', time: '2026-12-04T10:00:00.000Z', user: 'admin', context: 'admin', tooling: 'nautilus-k8s/0.1.0', outcome, manifests,
});

const store = (name: string, format: string, storage = '10Gi'): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace: 'nautilus-data', annotations: { 'nautilus.io/data-format': format } },
  spec: { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage } } } }] },
} as KubeObject);

/** The plan of a rollback to `target`: each of its StatefulSets compared with the live one given, and the prunes. */
const plan = (target: Revision, live: readonly KubeObject[], prunes: readonly KubeObject[] = []): Plan => ({
  environment: 'prod',
  conflicts: [],
  changes: [
    ...target.manifests.map((object) => ({
      change: 'change' as const, object, diff: '', live: live.find((l) => l.metadata.name === object.metadata.name && l.kind === object.kind),
    })),
    ...prunes.map((object) => ({ change: 'prune' as const, object, diff: '' })),
  ],
});

describe('the revision a rollback restores', () => {
  const history = [revision(4, 'rolled out'), revision(5, 'failed'), revision(6, 'applied, not waited for'), revision(7, 'interrupted'), revision(8, 'failed')];

  test('by default the newest before the latest that was applied whole and did not fail', () => {
    expect(rollbackTarget(history, 'prod', undefined).revision).toBe(6);
    expect(rollbackTarget(history.slice(0, 3), 'prod', undefined).revision).toBe(4);
  });

  test('--to names any kept revision; an unknown one names those kept', () => {
    expect(rollbackTarget(history, 'prod', 5).revision).toBe(5);
    expect(() => rollbackTarget(history, 'prod', 3)).toThrow('the cluster has no revision 3 of prod (it keeps 4 to 8). Fix: pick one that nautilus history prod lists');
  });

  test('with no good revision before the latest, or none at all, the error says what to do', () => {
    expect(() => rollbackTarget([revision(1, 'failed'), revision(2, 'rolled out')], 'prod', undefined))
      .toThrow('no revision of prod before the latest (2) was applied whole without failing (it keeps 1 to 2). Fix: name the one to restore with --to <n>');
    expect(() => rollbackTarget([], 'prod', undefined)).toThrow(/keeps no revision of prod .*Fix: check out the commit you want and deploy it \(nautilus deploy prod\)/);
  });
});

describe('what a rollback refuses', () => {
  test('a data format moved backwards, naming the store and the versions', () => {
    const target = revision(3, 'rolled out', [store('timescaledb', 'postgresql=15,timescaledb=2.17')]);
    expect(rollbackRefusals(target, plan(target, [store('timescaledb', 'postgresql=16,timescaledb=2.17')]))).toEqual([
      expect.stringMatching(/^StatefulSet nautilus-data\/timescaledb: revision 3 would move the data format backwards \(postgresql 16 -> 15\); .*Fix: restore a backup taken before the upgrade/),
    ]);
    // Forwards, or the same, is no refusal.
    const forwards = revision(3, 'rolled out', [store('timescaledb', 'postgresql=16,timescaledb=2.18')]);
    expect(rollbackRefusals(forwards, plan(forwards, [store('timescaledb', 'postgresql=16,timescaledb=2.17')]))).toEqual([]);
  });

  test('changed volume claim templates', () => {
    const target = revision(3, 'rolled out', [store('redis', 'redis=7.4', '5Gi')]);
    expect(rollbackRefusals(target, plan(target, [store('redis', 'redis=7.4', '10Gi')]))).toEqual([
      expect.stringMatching(/^StatefulSet nautilus-data\/redis: revision 3 has volume claim templates \[data: fast, 5Gi, ReadWriteOnce\], the live set \[data: fast, 10Gi, ReadWriteOnce\]; a rollback never changes them/),
    ]);
  });

  test('a store or a claim it would prune', () => {
    const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'scratch', namespace: 'nautilus-data' } } as KubeObject;
    const engine = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'websocket', namespace: 'nautilus-engines' } } as KubeObject;
    const target = revision(3, 'rolled out');
    expect(rollbackRefusals(target, plan(target, [], [store('redis', 'redis=7.4'), claim, engine]))).toEqual([
      expect.stringMatching(/^StatefulSet nautilus-data\/redis: revision 3 does not have it, and a rollback never removes a data store or its claims/),
      expect.stringMatching(/^PersistentVolumeClaim nautilus-data\/scratch: revision 3 does not have it/),
    ]);
  });
});

test('each store kind reads its data format from its image tag', () => {
  const format = (name: 'redis' | 'timescaledb', image: string) => {
    const plan = planDataStore({ ...PLATFORM_DATA_STORES[name], image }, PROD);
    return plan.dataFormat && formatDataFormat(plan.dataFormat);
  };
  expect(format('timescaledb', 'timescale/timescaledb-ha:pg16.6-ts2.17.2')).toBe('postgresql=16,timescaledb=2.17');
  expect(format('timescaledb', 'timescale/timescaledb-ha:pg17.2-ts2.18.0@sha256:' + 'a'.repeat(64))).toBe('postgresql=17,timescaledb=2.18');
  expect(format('redis', 'redis:7.4.1-alpine')).toBe('redis=7.4');
  expect(format('redis', 'redis:latest')).toBeUndefined();
  expect(dataFormatDowngrades(parseDataFormat('redis=7.10')!, parseDataFormat('redis=7.9')!)).toEqual(['redis 7.10 -> 7.9']);
  expect(dataFormatDowngrades(parseDataFormat('redis=7.4')!, parseDataFormat('redis=8.0')!)).toEqual([]);
  expect(parseDataFormat('redis=seven')).toBeUndefined();
});

test('status names the revision running, and an interruption mid-apply with the command that finishes it', () => {
  expect(revisionStatus({ ...revision(9, 'rolled out'), rollbackOf: 6, commit: '0123456789abcdef' }))
    .toEqual({ healthy: true, line: 'revision 9 of prod, rollback to 6: rolled out, 2026-12-04T10:00:00Z by admin (admin), commit 0123456789ab' });
  const interrupted = revisionStatus({ ...revision(9, 'interrupted'), rollbackOf: 6 });
  expect(interrupted.healthy).toBe(false);
  expect(interrupted.line).toMatch(/INTERRUPTED while applying.*Fix: rerun nautilus rollback prod --to 6 to finish it$/);
  expect(revisionStatus(revision(9, 'interrupted')).line).toMatch(/Fix: rerun nautilus deploy prod to finish it$/);
});
