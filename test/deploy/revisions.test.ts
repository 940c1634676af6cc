import { gzipSync } from 'zlib';
import { imagesOf, KubeObject } from '../../src/deploy/objects';
import { changesBetween, decodeRevision, historyLines, REVISION_FORMAT } from '../../src/deploy/revisions';

const deployment = (name: string, image: string): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'nautilus-engines' },
  spec: { template: { spec: { containers: [{ name, image }] } } },
} as KubeObject);
const configMap = (name: string, value: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'nautilus-engines' }, data: { value } } as KubeObject);

const record = { revision: 3, environment: 'dev', time: '2026-12-04T10:00:00.000Z', user: 'admin', context: 'admin', tooling: 'nautilus-k8s/0.1.0', outcome: 'rolled out' as const };
const stored = (manifests: readonly KubeObject[], change: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'nautilus.io/v1alpha1', kind: 'ApplySetRevision', metadata: { name: 'nautilus-dev-r3' },
  format: REVISION_FORMAT, record, manifests: gzipSync(JSON.stringify(manifests)).toString('base64'), ...change,
} as KubeObject);

test('a stored revision decodes to its record and manifests', () => {
  const manifests = [deployment('strategy', 'registry/strategy:sha-1')];
  expect(decodeRevision(stored(manifests))).toEqual({ ...record, manifests });
});

test('a corrupted, truncated or newer record is an error naming it and the fix', () => {
  expect(() => decodeRevision(stored([], { manifests: 'bm90IGd6aXA=' }))).toThrow(/revision record nautilus-dev-r3 is corrupted \(its manifests do not decompress: .*\)\. Fix: delete it \(kubectl delete applysetrevision nautilus-dev-r3\) or deploy again/);
  const whole = gzipSync(JSON.stringify([deployment('strategy', 'x')])).toString('base64');
  expect(() => decodeRevision(stored([], { manifests: whole.slice(0, whole.length / 2) }))).toThrow(/nautilus-dev-r3 is corrupted/);
  expect(() => decodeRevision(stored([], { format: REVISION_FORMAT + 1, record: { ...record, tooling: 'nautilus-k8s/9.0.0' } })))
    .toThrow(`revision record nautilus-dev-r3 has format ${REVISION_FORMAT + 1}; this tool reads format ${REVISION_FORMAT}. Fix: use the nautilus-k8s version that recorded it (nautilus-k8s/9.0.0)`);
  expect(() => decodeRevision(stored([], { record: undefined }))).toThrow(/nautilus-dev-r3 is incomplete/);
});

test('changes between two revisions: objects added, changed, removed and new images', () => {
  const before = [deployment('strategy', 'r/strategy:sha-1'), configMap('a', '1'), configMap('gone', '1')];
  const after = [deployment('strategy', 'r/strategy:sha-2'), configMap('a', '1'), configMap('new', '1')];
  expect(changesBetween(before, after)).toBe('+1 ~1 -1 objects, 1 new image');
  expect(changesBetween(after, after)).toBe('+0 ~0 -0 objects, 0 new images');
  expect(imagesOf(after)).toEqual(['r/strategy:sha-2']);
});

test('history lists revisions oldest first, the first with its object count', () => {
  const first = { ...record, revision: 1, manifests: [deployment('strategy', 'r/s:1')] };
  const second = { ...record, revision: 2, outcome: 'failed' as const, commit: '0123456789abcdef0123', manifests: [deployment('strategy', 'r/s:2')] };
  expect(historyLines([first, second])).toEqual([
    'REVISION  TIME                  COMMIT        OUTCOME     CHANGES                        BY',
    '1         2026-12-04T10:00:00Z  -             rolled out  1 objects                      admin (admin)',
    '2         2026-12-04T10:00:00Z  0123456789ab  failed      +0 ~1 -0 objects, 1 new image  admin (admin)',
  ]);
  expect(historyLines([])).toEqual(['no revisions recorded']);
});
