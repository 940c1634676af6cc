import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { EnvironmentSpec } from '../../src/environments/environment';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { platformCharts } from '../../charts/platform-charts';
import { PlatformInput } from '../../src/planning/environment-plan';
import { buildEnvironmentApp, renderManifests } from '../../src/synth/synthesize';

/** A Kubernetes object as synthesized, loosely typed for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; [key: string]: any };

/**
 * Input with a fixed image tag per engine, so unit tests and snapshots do not change when an
 * engine's source changes (the image tests cover tags).
 */
export function platformInput(overrides: Partial<PlatformInput> = {}): PlatformInput {
  const catalog = overrides.catalog ?? PLATFORM_ENGINES;
  return {
    catalog,
    stores: Object.values(PLATFORM_DATA_STORES),
    environments: PLATFORM_ENVIRONMENTS,
    imageTags: new Map(catalog.map((e) => [e.name, 'sha-0123456789abcdef'])),
    imageLock: {},
    ...overrides,
  };
}

/** Every object of one environment, in apply order, with the file each lands in. */
export function synthObjects(environment: EnvironmentSpec, input: PlatformInput = platformInput()): Array<K8sObject & { file: string }> {
  return renderManifests(buildEnvironmentApp(input, environment, platformCharts)).flatMap(({ file, objects }) =>
    (objects as K8sObject[]).map((o) => ({ ...o, file })));
}

/** The one object of `kind` named `name` (and in `namespace`, if given). */
export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0];
}

/** Whether an object of `kind` named `name` exists. */
export function has(objects: readonly K8sObject[], kind: string, name: string): boolean {
  return objects.some((o) => o.kind === kind && o.metadata.name === name);
}

/** The pod spec of an engine's workload (Deployment or CronJob). */
export function podSpecOf(objects: readonly K8sObject[], engine: EngineSpec): K8sObject['spec'] {
  return engine.workload.kind === 'service'
    ? find(objects, 'Deployment', engine.name).spec.template.spec
    : find(objects, 'CronJob', engine.name).spec.jobTemplate.spec.template.spec;
}

/** Replaces one catalog entry, for failing-case tests. */
export function withEngine(name: string, change: (e: EngineSpec) => EngineSpec, catalog = PLATFORM_ENGINES): EngineSpec[] {
  return catalog.map((e) => (e.name === name ? change(e) : e));
}

export { PLATFORM_ENGINES, PLATFORM_ENVIRONMENTS };
