/**
 * The manifests are written in the form the API server stores, so re-applying them changes
 * nothing (the cluster test test/cluster/convergence.test.ts proves it with kubectl; these
 * assertions name the rules).
 */
import { countQuantity, Memory } from '../../src/model/quantities';
import { K8sObject, PLATFORM_ENVIRONMENTS, synthObjects } from '../support/platform';

describe('countQuantity', () => {
  it.each([
    [0, '0'], [1, '1'], [12, '12'], [999, '999'], [1000, '1k'], [1500, '1500'], [2000, '2k'],
    [12000, '12k'], [2_000_000, '2M'], [0.5, '500m'], [1.25, '1250m'],
  ])('writes %p as %p, the canonical form', (value, expected) => {
    expect(countQuantity(value)).toBe(expected);
  });

  it.each([[-1], [0.0005], [Number.NaN], [Number.POSITIVE_INFINITY]])('refuses %p', (value) => {
    expect(() => countQuantity(value)).toThrow(/not a non-negative multiple of 0.001/);
  });
});

describe('Memory.toQuantity', () => {
  it.each([[512, '512Mi'], [1024, '1Gi'], [1536, '1536Mi'], [1024 * 1024, '1Ti'], [3 * 1024 * 1024, '3Ti'], [1024 * 1025, '1025Gi']])(
    'writes %p MiB as %p',
    (mebibytes, expected) => {
      expect(Memory.mebibytes(mebibytes).toQuantity()).toBe(expected);
    },
  );
});

/** Maps whose values are quantities (resources, quotas, LimitRange defaults). */
const QUANTITY_MAPS = ['requests', 'limits', 'hard', 'defaultRequest', 'default'];
/** Fields that are quantities. */
const QUANTITY_FIELDS = ['averageValue', 'sizeLimit'];

/** Every quantity-valued field of an object, with its path. */
function quantities(object: K8sObject): Array<[string, unknown]> {
  const found: Array<[string, unknown]> = [];
  const walk = (value: unknown, at: string, parentKey: string) => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, `${at}[${index}]`, ''));
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const here = `${at}.${key}`;
      const scalar = !(child && typeof child === 'object');
      if ((QUANTITY_MAPS.includes(parentKey) && scalar) || QUANTITY_FIELDS.includes(key)) found.push([here, child]);
      else walk(child, here, key);
    }
  };
  // NodePool limits are a custom resource's fields: the server keeps them as written.
  if (object.kind !== 'NodePool') walk(object, object.kind, '');
  return found;
}

describe.each(PLATFORM_ENVIRONMENTS.map((environment) => [environment.name, environment] as const))('%s is written as the server stores it', (_name, environment) => {
  const objects = synthObjects(environment);

  it('writes every quantity as a canonical string', () => {
    const all = objects.flatMap((object) => quantities(object).map(([at, value]) => [`${object.metadata.name} ${at}`, value] as const));
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter(([, value]) => typeof value !== 'string')).toEqual([]);
    const canonical = (value: string) => {
      const binary = /^(\d+)(Mi|Gi|Ti)$/.exec(value);
      if (binary) {
        const mebibytes = Number(binary[1]) * { Mi: 1, Gi: 1024, Ti: 1024 * 1024 }[binary[2] as 'Mi' | 'Gi' | 'Ti'];
        return Memory.mebibytes(mebibytes).toQuantity();
      }
      const milli = /^(\d+)m$/.exec(value);
      if (milli) return countQuantity(Number(milli[1]) / 1000);
      const decimal = /^(\d+)(k|M)?$/.exec(value);
      if (decimal) return countQuantity(Number(decimal[1]) * (decimal[2] === 'k' ? 1000 : decimal[2] === 'M' ? 1e6 : 1));
      return `unparsed ${value}`;
    };
    expect(all.filter(([, value]) => canonical(value as string) !== value)).toEqual([]);
  });

  it('leaves out false defaults the server drops', () => {
    const priorityClasses = objects.filter((object) => object.kind === 'PriorityClass');
    expect(priorityClasses.length).toBeGreaterThan(0);
    expect(priorityClasses.filter((object) => 'globalDefault' in object)).toEqual([]);
  });

  it('writes claim templates as whole PersistentVolumeClaims', () => {
    const templates = objects.filter((object) => object.kind === 'StatefulSet').flatMap((object) => object.spec.volumeClaimTemplates);
    expect(templates.length).toBeGreaterThan(0);
    for (const template of templates) {
      expect(template).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } });
    }
  });
});
