import { AutoscalingBehavior, TierRuntimePolicy } from '../catalog/tier';
import { DataStoreSpec } from '../catalog/data-stores';
import { BatchWorkload, EngineSpec, ServiceWorkload } from '../catalog/engine-spec';
import { EnvironmentSpec, NodePoolSpec, poolForRole, resourceScaleOf } from '../environments/environment';
import { Cpu, Memory } from '../model/quantities';
import { NAMESPACE_NAMES } from './namespaces';
import { planRelease, ReleasePlan } from './release';
import { STORE_SCRAPE_INTERVAL } from './store-monitoring';
import { StoreKind } from './stores/store-kind';
import { DataStorePlan, STORE_KINDS } from './stores/store-kinds';

/** One data store as it runs in one environment: the plan of its kind (src/planning/stores). */
export type { DataStorePlan } from './stores/store-kinds';

/** Autoscaling bounds and targets of one engine in one environment. */
export interface AutoscalingPlan {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetCpuUtilization: number;
  readonly targetRequestsPerSecond?: number;
  /** How fast it scales: the tier's. */
  readonly behavior: AutoscalingBehavior;
}

/**
 * One engine as it runs in one environment: the catalog entry with the environment's sizing and
 * the tier's policy applied. Constructs render plans; validation checks them.
 */
export interface EnginePlan {
  readonly engine: EngineSpec;
  readonly environment: EnvironmentSpec;
  readonly namespace: string;
  /** Replicas at rest (the HPA minimum where there is one); 1 for batch engines. */
  readonly replicas: number;
  /** Present where the tier allows autoscaling and the environment enables it. */
  readonly autoscaling?: AutoscalingPlan;
  /** The PodDisruptionBudget: present where there is more than one replica (with one, a budget would block every drain). */
  readonly disruptionBudget?: DisruptionBudgetPlan;
  readonly cpuRequest: Cpu;
  /** Set only for Guaranteed (pinned) pods; other tiers are not CPU-throttled. */
  readonly cpuLimit?: Cpu;
  readonly memoryRequest: Memory;
  readonly memoryLimit: Memory;
  /** Whether the pod is pinned: exclusive whole cores (Guaranteed QoS on a pool that pins cores). */
  readonly pinned: boolean;
  readonly hugepages2Mi?: Memory;
  /** `nvidia.com/gpu` per pod; 0 when the environment has no GPU pool and GPUs are only preferred. */
  readonly gpus: number;
  /** The pool the pods are placed on; undefined when the environment's general nodes take them untainted. */
  readonly pool?: NodePoolSpec;
  readonly hostNetwork: boolean;
  /** Probe periods, scrape interval, rollout pace and added capabilities: the tier's, decided in tier.ts. */
  readonly runtime: TierRuntimePolicy;
  /** How new versions are released: a rolling Deployment, or a canary or blue/green Rollout. */
  readonly release: ReleasePlan;
}

/** A workload's PodDisruptionBudget. */
export interface DisruptionBudgetPlan {
  /** Most pods a drain may take down at once. */
  readonly maxUnavailable: number;
}

/**
 * The PodDisruptionBudget of a workload of `replicas` pods: only with more than one (a budget on a
 * single pod either blocks every drain or allows nothing useful).
 */
function disruptionBudget(replicas: number, maxUnavailable: number): DisruptionBudgetPlan | undefined {
  return replicas > 1 ? { maxUnavailable } : undefined;
}

/** An amount that environments scale down (CPU, memory, storage). */
interface Scalable<T> {
  scaledBy(factor: number): T;
}

/** `amount` times `factor`; production amounts (factor 1) are kept exactly as the catalog gives them. */
function scaleBy<T extends Scalable<T>>(amount: T, factor: number): T {
  return factor === 1 ? amount : amount.scaledBy(factor);
}

/** True when the engine is a long-running service rather than a batch job. */
export function isService(engine: EngineSpec): engine is EngineSpec & { workload: ServiceWorkload } {
  return engine.workload.kind === 'service';
}

/** True when the engine runs as a CronJob. */
export function isBatch(engine: EngineSpec): engine is EngineSpec & { workload: BatchWorkload } {
  return engine.workload.kind === 'batch';
}

/** The engines of the catalog an environment deploys. */
export function enabledEngines(catalog: readonly EngineSpec[], environment: EnvironmentSpec): EngineSpec[] {
  const disabled = new Set(environment.disabledEngines.map((d) => d.name));
  return catalog.filter((e) => !disabled.has(e.name));
}

/** Whether an environment pins cores for pinned tiers (its latency pool pins them). */
export function environmentPinsCores(environment: EnvironmentSpec): boolean {
  return poolForRole(environment, 'latency')?.pinned ?? false;
}

/** Applies an environment's replica policy to production replica counts. */
export function scaleReplicas(environment: EnvironmentSpec, min: number, max: number): { min: number; max: number } {
  switch (environment.replicas) {
    case 'single':
      return { min: 1, max: 1 };
    case 'reduced': {
      const reducedMin = Math.min(min, 2);
      return { min: reducedMin, max: Math.max(reducedMin, Math.ceil(max / 2)) };
    }
    case 'full':
      return { min, max };
  }
}

/** Resolves an engine's catalog entry against an environment and its tier's policy. */
export function planEngine(engine: EngineSpec, environment: EnvironmentSpec): EnginePlan {
  const tier = engine.tier;
  const tierPool = poolForRole(environment, tier.nodePoolRole);
  const pinned = tier.pinned && environmentPinsCores(environment);
  // Pinned engines keep their production budget everywhere they are pinned: a core is a core.
  const scale = pinned ? { cpu: 1, memory: 1 } : resourceScaleOf(environment);
  const cpu = scaleBy(engine.resources.cpu, scale.cpu);
  const memory = scaleBy(engine.resources.memory, scale.memory);
  // Guaranteed pods need limit == request; the others may burst up to their own limit.
  const memoryLimit = tier.pinned ? memory : scaleBy(engine.resources.memoryLimit ?? engine.resources.memory, scale.memory);
  const hugepages = tier.hugepages && tierPool?.instance.hugepages2Mi ? engine.resources.hugepages2Mi : undefined;
  const gpuPool = poolForRole(environment, 'gpu');
  const gpus = engine.resources.gpu && gpuPool ? engine.resources.gpu.count : 0;

  let replicas = 1;
  let autoscaling: AutoscalingPlan | undefined;
  let maxUnavailable = 1;
  if (isService(engine)) {
    const scaling = engine.workload.scaling;
    const { min, max } = scaleReplicas(environment, scaling.minReplicas, scaling.maxReplicas);
    replicas = min;
    maxUnavailable = scaling.maxUnavailable ?? 1;
    if (tier.autoscaling && environment.autoscaling && max > min) {
      autoscaling = {
        minReplicas: min,
        maxReplicas: max,
        targetCpuUtilization: scaling.targetCpuUtilization ?? 70,
        targetRequestsPerSecond: scaling.targetRequestsPerSecond,
        behavior: tier.runtime.autoscaling!,
      };
    }
  }

  return {
    engine,
    environment,
    namespace: NAMESPACE_NAMES[tier.namespaceRole],
    replicas,
    autoscaling,
    disruptionBudget: disruptionBudget(replicas, maxUnavailable),
    cpuRequest: cpu,
    cpuLimit: tier.pinned ? cpu : undefined,
    memoryRequest: memory,
    memoryLimit,
    pinned,
    hugepages2Mi: hugepages,
    gpus,
    // A GPU engine without GPUs runs on the general pool.
    pool: tier.nodePoolRole === 'gpu' && gpus === 0 ? undefined : tierPool,
    hostNetwork: tier.hostNetwork,
    runtime: tier.runtime,
    release: planRelease(engine, environment, replicas, tier.runtime.rollout),
  };
}

/** Members that must be up for a replicated store to keep working, and Sentinels to agree: a majority (all of one). */
function majorityOf(members: number): number {
  return Math.floor(members / 2) + 1;
}

/** Resolves a data store against an environment: the decisions common to every store, and its kind's. */
export function planDataStore(store: DataStoreSpec, environment: EnvironmentSpec): DataStorePlan {
  const kind: StoreKind<DataStorePlan> = STORE_KINDS[store.name];
  const scale = resourceScaleOf(environment);
  // A store the latency tier reads on every request is pinned beside it where cores are pinned.
  const pinned = store.pinnedCpu !== undefined && environmentPinsCores(environment);
  const cpu = pinned ? store.pinnedCpu! : scaleBy(store.cpu, scale.cpu);
  const { members: replicas, monitoring: sidecarsAndEndpoints } = kind.basics(environment);
  const memory = scaleBy(store.memory, scale.memory);
  const monitoring = { ...sidecarsAndEndpoints, scrapeInterval: STORE_SCRAPE_INTERVAL };
  const pool = poolForRole(environment, pinned ? 'latency' : 'storage');
  const nodePool = pool ?? poolForRole(environment, 'general');
  return kind.complete({
    store,
    environment,
    namespace: NAMESPACE_NAMES.data,
    replicas,
    quorum: majorityOf(replicas),
    membersSetting: kind.membersSetting,
    // One member at a time: with three, two stay up (one primary, one replica to fail over to).
    disruptionBudget: disruptionBudget(replicas, 1),
    cpuRequest: cpu,
    cpuLimit: pinned ? cpu : undefined,
    pinned,
    memory,
    storage: scaleBy(store.storage, environment.storageScale),
    storageClassName: environment.storageClassFor[store.storageTier],
    pool,
    nodePool,
    zones: nodePool?.zones ?? environment.zones,
    clientPorts: [{ name: store.portName, port: store.port }],
    monitoring,
    dataFormat: kind.dataFormat(store.image),
    podRequests: {
      cpu: Cpu.millis(monitoring.sidecars.reduce((sum, s) => sum + s.cpu.millicores, cpu.millicores)),
      memory: Memory.mebibytes(monitoring.sidecars.reduce((sum, s) => sum + s.memory.mebibytes, memory.mebibytes)),
    },
  });
}
