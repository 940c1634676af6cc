import { DataStoreSpec } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { EnvironmentSpec } from '../environments/environment';
import { EngineSourceFiles } from '../images/engine-sources';
import { ImageLock, formatImageReference, resolveImage } from '../images/image-reference';
import { NAMESPACE_NAMES } from './namespaces';
import { DataStorePlan, EnginePlan, enabledEngines, planDataStore, planEngine } from './plan';
import { NamespaceQuotaPlan, planNamespaceQuota } from './quota';
import { EdgePlan, planEdge } from './edge';
import { PlatformSecret, planSecrets } from './secrets';
import { TrafficPlan, planTraffic } from './traffic';

/** Everything synthesis reads: a pure function of these gives byte-identical output. */
export interface PlatformInput {
  readonly catalog: readonly EngineSpec[];
  readonly stores: readonly DataStoreSpec[];
  readonly environments: readonly EnvironmentSpec[];
  /** Content tag of each engine's image (see src/images). */
  readonly imageTags: ReadonlyMap<string, string>;
  /** Built digests; entries for other content are ignored. */
  readonly imageLock: ImageLock;
  /**
   * Each engine's committed Dockerfile and engine.json, read at the entry point: validation fails
   * when one is missing or out of step with the catalog. Without it those checks are skipped.
   */
  readonly engineSources?: ReadonlyMap<string, EngineSourceFiles>;
}

/** One environment, fully resolved: what every chart of the environment is built from. */
export interface EnvironmentPlan {
  readonly environment: EnvironmentSpec;
  /** The engines the environment deploys, in catalog order. */
  readonly engines: readonly EnginePlan[];
  /** The data stores of the input, in input order. */
  readonly stores: readonly DataStorePlan[];
  /** Full image reference of each enabled engine. */
  readonly images: ReadonlyMap<string, string>;
  /** The ResourceQuota of each platform namespace that runs workloads, in namespace order. */
  readonly quotas: readonly NamespaceQuotaPlan[];
  /** Every flow the environment allows, which the NetworkPolicies render. */
  readonly traffic: TrafficPlan;
  /** Routes, hostnames and certificate of the public engines; undefined when none is public. */
  readonly edge?: EdgePlan;
  /** Every Secret the workloads read, and where the secret manager keeps it. */
  readonly secrets: readonly PlatformSecret[];
}

/** Resolves the input's catalog and stores against one environment. */
export function planEnvironment(input: PlatformInput, environment: EnvironmentSpec): EnvironmentPlan {
  const engines = enabledEngines(input.catalog, environment).map((e) => planEngine(e, environment));
  const stores = input.stores.map((s) => planDataStore(s, environment));
  const images = new Map<string, string>();
  for (const plan of engines) {
    const tag = input.imageTags.get(plan.engine.name);
    if (!tag) throw new Error(`no image tag for engine ${plan.engine.name}`);
    images.set(plan.engine.name, formatImageReference(resolveImage(plan.engine.name, environment.imageRegistry, tag, input.imageLock)));
  }
  const quotas = Object.values(NAMESPACE_NAMES).flatMap((namespace) => planNamespaceQuota(namespace, engines, stores) ?? []);
  const edge = planEdge(environment, engines);
  return {
    environment, engines, stores, images, quotas, traffic: planTraffic(engines, stores), edge,
    secrets: planSecrets(environment, engines, stores, edge),
  };
}
