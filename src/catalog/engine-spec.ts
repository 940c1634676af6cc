import { Count, CronSchedule, Port } from '../model/domains';
import { Duration } from '../model/duration';
import { Cpu, Memory } from '../model/quantities';
import { ReleaseOverride } from './release';
import { Tier } from './tier';

/** The data stores engines can depend on. */
export type DataStoreName = 'timescaledb' | 'redis';

/** Each data store as prose names it (the engines' generated READMEs). */
export const DATA_STORE_TITLES: Readonly<Record<DataStoreName, string>> = {
  timescaledb: 'TimescaleDB',
  redis: 'Redis',
};

/** HTTP paths an engine serves for Kubernetes probes. */
export interface HealthEndpoints {
  /** Answers 200 while the process is alive; failing it restarts the container. */
  readonly liveness: string;
  /** Answers 200 while the engine can serve (its dependencies answer); failing it removes the pod from Service endpoints. */
  readonly readiness: string;
  /** How long the engine may take to start (JIT warm-up, caches) before liveness applies: whole seconds. */
  readonly startupBudget: Duration;
}

/** How many GPUs an engine uses, and what happens where an environment has none. */
export interface GpuNeeds {
  /** GPUs per pod (`nvidia.com/gpu`): `count(1)`. */
  readonly count: Count;
  /**
   * `required`: the engine cannot run without them (synthesis fails in an environment without a
   * GPU pool unless the environment disables the engine). `preferred`: it runs on CPU there.
   */
  readonly mode: 'required' | 'preferred';
}

/** How many replicas an engine runs, in production terms; environments scale it down. */
export interface ScalingPolicy {
  /** Replicas at rest (the HPA's minimum where the tier autoscales). */
  readonly minReplicas: number;
  /** The HPA's maximum; equal to `minReplicas` for a fixed-size workload. */
  readonly maxReplicas: number;
  /** Most pods a voluntary disruption (drain) may take down at once. @default 1 */
  readonly maxUnavailable?: number;
  /** Average CPU utilisation (percent of request) the HPA aims for. @default 70 */
  readonly targetCpuUtilization?: number;
  /** Average `requests_per_second` per pod the HPA aims for (custom metric). @default no custom metric */
  readonly targetRequestsPerSecond?: number;
}

/** A long-running engine: a Deployment behind a Service. */
export interface ServiceWorkload {
  readonly kind: 'service';
  /** The TCP port the engine serves HTTP (API, probes and `/metrics`) on: `port(8200)`. */
  readonly port: Port;
  /** Probe endpoints on that port. */
  readonly health: HealthEndpoints;
  /** Replica counts and autoscaling targets. */
  readonly scaling: ScalingPolicy;
}

/**
 * A batch engine: a CronJob whose runs complete. Its deadlines are Durations like every time value
 * of the model, and Kubernetes takes them as whole seconds: validation refuses a fraction (rule
 * batch-schedule) rather than a factory taking only whole seconds, because a computed value (a
 * budget scaled from another) cannot be checked at compile time and validation names the engine,
 * the field and the fix.
 */
export interface BatchWorkload {
  readonly kind: 'batch';
  /** Cron schedule in UTC: `cron('30 22 * * 1-5')`. */
  readonly schedule: CronSchedule;
  /**
   * How late a run may still start after its scheduled time (a controller outage, a full quota);
   * a run missed by more is skipped, so it can never start during trading hours.
   */
  readonly startingDeadline: Duration;
  /** How long one run may take before it is stopped. */
  readonly activeDeadline: Duration;
  /** Retries of a failed run. */
  readonly backoffLimit: Count;
}

/** What an engine talks to. Network policies and connection settings are derived from this. */
export interface Dependencies {
  /** Data stores the engine connects to. */
  readonly stores: readonly DataStoreName[];
  /** Other engines whose HTTP port it calls. */
  readonly engines: readonly string[];
  /**
   * Whether its read-only queries (reports, feature reads, optimisation inputs) may go to
   * TimescaleDB's replicas, which lag the primary slightly, through the replica Service.
   * @default false
   */
  readonly timescaledbReplicaReads?: boolean;
}

/** Requests (== limits for memory; see the tier for CPU) of one engine pod, in production terms. */
export interface ResourceBudget {
  readonly cpu: Cpu;
  readonly memory: Memory;
  /** Memory limit when above the request (Burstable tiers only). @default equal to memory */
  readonly memoryLimit?: Memory;
  /** 2Mi hugepages, for tiers that use them where nodes pre-allocate them. */
  readonly hugepages2Mi?: Memory;
  /** GPU needs, for the GPU tier. */
  readonly gpu?: GpuNeeds;
}

/**
 * The uid and gid every engine image runs as: the Dockerfiles' `USER` and the pods' `runAsUser`,
 * `runAsGroup` and `fsGroup`. Below both the images and the plans, so each reads it from here.
 */
export const ENGINE_UID = 10001;

/**
 * One engine of the platform: everything the manifests need to know about it. Adding an engine to
 * the platform is adding one of these to the catalog.
 */
export interface EngineSpec {
  /** Kubernetes name of the engine's workload, Service and image (an RFC 1123 label). */
  readonly name: string;
  /** One line on what it does, used in annotations and docs. */
  readonly description: string;
  /** Latency tier; decides networking, pinning, priority, node pool and autoscaling. */
  readonly tier: Tier;
  /** Service or batch. */
  readonly workload: ServiceWorkload | BatchWorkload;
  /** Requests and limits in production. */
  readonly resources: ResourceBudget;
  /** What it talks to. */
  readonly dependencies: Dependencies;
  /** How clients outside the cluster reach it, through the environment's edge controller. @default not reachable from outside */
  readonly publicRoute?: PublicRoute;
  /** How its new versions are released, where not as its tier's are (with the reason). @default the tier's */
  readonly release?: ReleaseOverride;
}

/**
 * How an engine is reached from outside the cluster: HTTPS (HTTP is redirected) on a host of the
 * environment's domain, under a path prefix, on the engine's port. The engine receives the path as
 * the client sent it.
 */
export interface PublicRoute {
  /** The host's first label: `app` is `app.<domain>` in every environment. */
  readonly host: string;
  /** The path prefix routed to the engine (`/` for everything no longer prefix claims). */
  readonly pathPrefix: string;
  /**
   * Connections the engine upgrades to WebSocket: the proxy keeps them open however long they
   * last, and closes one idle for this long. @default plain requests
   */
  readonly websocket?: { readonly idleTimeout: Duration };
}

/** Probe endpoints every engine runtime serves unless its entry says otherwise. */
export function standardHealth(startupBudget = Duration.seconds(30)): HealthEndpoints {
  return { liveness: '/health/live', readiness: '/health/ready', startupBudget };
}
