import { Duration } from '../model/duration';
import { ReleaseAnalysis, ReleasePolicy } from './release';

/**
 * A latency tier of the platform and the Kubernetes policy that follows from it. Every engine
 * belongs to exactly one tier; what a tier implies (host networking, pinned cores, autoscaling,
 * probe periods, metrics scrape interval, rollout pace, added capabilities, priority, which node
 * pool, its objectives, how urgent its alerts are and how new versions are released) is decided here and nowhere else.
 *
 * Enum-like: use the static instances.
 */
export class Tier {
  // Host-network (pinned) engines: probes every second (the fastest Kubernetes allows), metrics
  // every 5 s, rollouts replace in place (a surge pod would need the node's port, which the old pod
  // holds), and the capabilities to pin threads (SYS_NICE) and lock hugepage memory (IPC_LOCK).
  private static readonly PINNED_RUNTIME: TierRuntimePolicy = {
    probes: { startupPeriod: Duration.seconds(1), livenessPeriod: Duration.seconds(1), readinessPeriod: Duration.seconds(1), readinessFailureThreshold: 2 },
    scrapeInterval: Duration.seconds(5),
    rollout: { maxSurge: 0, maxUnavailable: 1 },
    addedCapabilities: ['SYS_NICE', 'IPC_LOCK'],
  };

  // Pod-network engines: ordinary probe periods, metrics every 15 s, rollouts that never drop
  // below the serving count, no added capabilities. Load spikes in trading are sudden: autoscalers
  // add pods at once (doubling, or 4 pods, every 15 s) and remove them slowly, one every 2 minutes
  // after ten quiet minutes, so a lull between bursts does not shed capacity.
  private static readonly POD_NETWORK_RUNTIME: TierRuntimePolicy = {
    probes: { startupPeriod: Duration.seconds(5), livenessPeriod: Duration.seconds(10), readinessPeriod: Duration.seconds(5), readinessFailureThreshold: 3 },
    scrapeInterval: Duration.seconds(15),
    rollout: { maxSurge: 1, maxUnavailable: 0 },
    addedCapabilities: [],
    autoscaling: {
      scaleUp: { stabilization: Duration.seconds(0), period: Duration.seconds(15), maxPercent: 100, maxPods: 4 },
      scaleDown: { stabilization: Duration.minutes(10), period: Duration.minutes(2), pods: 1 },
    },
  };

  // Release measurements read the new version's own requests over one interval (at least four
  // scrapes of the tier's interval); one noisy window is forgiven, the second failure aborts.
  private static readonly ORDER_PATH_ANALYSIS: ReleaseAnalysis = { interval: Duration.minutes(1), failureLimit: 1, minimumRequests: 100 };
  private static readonly CLIENT_ANALYSIS: ReleaseAnalysis = { interval: Duration.minutes(1), failureLimit: 1, minimumRequests: 20 };

  /**
   * Risk, positions, orders: host networking, dedicated whole cores, hugepages, the latency pool,
   * never autoscaled (a new replica would need a freshly isolated core and JIT warm-up).
   */
  public static readonly ULTRA_LOW_LATENCY = new Tier({
    name: 'ultra-low-latency',
    priorityClassName: 'nautilus-ultra-low-latency',
    priorityValue: 1_000_000,
    hostNetwork: true,
    pinned: true,
    hugepages: true,
    autoscaling: false,
    nodePoolRole: 'latency',
    namespaceRole: 'latency',
    objectives: { latencyQuantile: 0.99, latency: Duration.millis(1), errorRatio: 0.001, breachedFor: Duration.minutes(2) },
    severity: 'critical',
    runtime: Tier.PINNED_RUNTIME,
    // A pinned pod holds its node's ports and cores: no second pod can surge beside it. One pod is
    // replaced in place and measured before the others (the tier's maxSurge 0, maxUnavailable 1).
    release: { kind: 'canary', steps: [{ onePod: true }], stepPause: Duration.minutes(5), analysis: Tier.ORDER_PATH_ANALYSIS },
  });

  /** Market data, strategy, order routing: pod network, horizontally autoscaled. */
  public static readonly HIGH_PERFORMANCE = new Tier({
    name: 'high-performance',
    priorityClassName: 'nautilus-high-performance',
    priorityValue: 900_000,
    hostNetwork: false,
    pinned: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latency: Duration.millis(10), errorRatio: 0.005, breachedFor: Duration.minutes(10) },
    severity: 'critical',
    runtime: Tier.POD_NETWORK_RUNTIME,
    // The order path's busiest services: a few pods first, measured, then more.
    release: { kind: 'canary', steps: [{ percent: 10 }, { percent: 25 }, { percent: 50 }], stepPause: Duration.minutes(5), analysis: Tier.ORDER_PATH_ANALYSIS },
  });

  /** Analytics, factors, features, portfolio: heavy batch-like services, autoscaled. */
  public static readonly COMPUTE = new Tier({
    name: 'compute',
    priorityClassName: 'nautilus-compute',
    priorityValue: 500_000,
    hostNetwork: false,
    pinned: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latency: Duration.millis(2500), errorRatio: 0.01, breachedFor: Duration.minutes(10) },
    severity: 'warning',
    runtime: Tier.POD_NETWORK_RUNTIME,
    // Not on the order path and batch-like: a bad version shows in its alerts, not in trades.
    release: { kind: 'rolling' },
  });

  /** Client-facing services: websocket, backend API, frontend. */
  public static readonly EDGE = new Tier({
    name: 'edge',
    priorityClassName: 'nautilus-edge',
    priorityValue: 700_000,
    hostNetwork: false,
    pinned: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latency: Duration.millis(250), errorRatio: 0.01, breachedFor: Duration.minutes(10) },
    severity: 'warning',
    runtime: Tier.POD_NETWORK_RUNTIME,
    // Clients hold connections (the websocket) and see every version mix: switch all at once, keep
    // the old colour warm to switch back.
    release: { kind: 'blue-green', previewFor: Duration.minutes(2), scaleDownDelay: Duration.minutes(10), analysis: Tier.CLIENT_ANALYSIS, measurements: 5 },
  });

  /** Model inference and training on the GPU pool (arm64 GH200 nodes where there is one). */
  public static readonly GPU = new Tier({
    name: 'gpu',
    priorityClassName: 'nautilus-gpu',
    priorityValue: 600_000,
    hostNetwork: false,
    pinned: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'gpu',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latency: Duration.millis(500), errorRatio: 0.01, breachedFor: Duration.minutes(10) },
    severity: 'warning',
    runtime: Tier.POD_NETWORK_RUNTIME,
    // GPUs cannot be doubled for a second colour or surged for a canary: the pool holds no spare.
    release: { kind: 'rolling' },
  });

  /** Every tier, in descending priority. */
  public static all(): Tier[] {
    return [Tier.ULTRA_LOW_LATENCY, Tier.HIGH_PERFORMANCE, Tier.EDGE, Tier.GPU, Tier.COMPUTE];
  }

  /** The tier's name, as used in labels and messages. */
  public readonly name: string;
  /** The PriorityClass every pod of the tier runs with. */
  public readonly priorityClassName: string;
  /** The PriorityClass value (at most 1e9; higher preempts lower). */
  public readonly priorityValue: number;
  /** Whether pods share the node's network namespace (bypassing the CNI). */
  public readonly hostNetwork: boolean;
  /** Whether pods are pinned: whole, exclusive cores where the environment's latency pool pins them. */
  public readonly pinned: boolean;
  /** Whether pods get 2Mi hugepages where the environment's nodes pre-allocate them. */
  public readonly hugepages: boolean;
  /** Whether a HorizontalPodAutoscaler may scale the tier's workloads. */
  public readonly autoscaling: boolean;
  /** The role of the node pool the tier is scheduled onto (falls back to `general`). */
  public readonly nodePoolRole: NodePoolRole;
  /** The namespace the tier's workloads live in. */
  public readonly namespaceRole: NamespaceRole;
  /** What the tier's engines promise their callers; alerts fire when an engine breaks it. */
  public readonly objectives: ServiceObjectives;
  /**
   * How bad an engine's trouble is for trading, as its alerts say: the order path (pinned and
   * high-performance tiers) pages, the rest waits for office hours.
   */
  public readonly severity: AlertSeverity;
  /** Probe periods, metrics scrape interval, rollout pace and added capabilities of the tier's pods. */
  public readonly runtime: TierRuntimePolicy;
  /** How new versions of the tier's engines are released where the environment runs progressive delivery. */
  public readonly release: ReleasePolicy;

  private constructor(props: TierProps) {
    this.name = props.name;
    this.priorityClassName = props.priorityClassName;
    this.priorityValue = props.priorityValue;
    this.hostNetwork = props.hostNetwork;
    this.pinned = props.pinned;
    this.hugepages = props.hugepages;
    this.autoscaling = props.autoscaling;
    if (props.autoscaling && !props.runtime.autoscaling) {
      throw new Error(`tier ${props.name}: an autoscaled tier needs runtime.autoscaling (how its autoscalers scale)`);
    }
    this.nodePoolRole = props.nodePoolRole;
    this.namespaceRole = props.namespaceRole;
    this.objectives = props.objectives;
    this.severity = props.severity;
    this.runtime = props.runtime;
    this.release = props.release;
  }

  /**
   * This tier with some of its runtime policy changed (its probes, scrape interval, rollout pace,
   * capabilities or autoscaling behavior): the same tier otherwise, compared by name. For a
   * platform trying a policy on one engine before changing the tier, and for tests that must fit
   * the tier's timings to their clock.
   */
  public withRuntime(changes: Partial<TierRuntimePolicy>): Tier {
    return new Tier({ ...this, runtime: { ...this.runtime, ...changes } });
  }

  /** The tier's name. */
  public toString(): string {
    return this.name;
  }
}

/** The policy fields of a {@link Tier}. */
type TierProps = Pick<
  Tier,
  | 'name'
  | 'priorityClassName'
  | 'priorityValue'
  | 'hostNetwork'
  | 'pinned'
  | 'hugepages'
  | 'autoscaling'
  | 'nodePoolRole'
  | 'namespaceRole'
  | 'objectives'
  | 'severity'
  | 'runtime'
  | 'release'
>;

/**
 * A tier's service objectives, measured on the runtime's request histogram and counter (probe and
 * scrape requests excluded). `latency` in seconds must be one of the runtime's histogram bucket bounds
 * (`LATENCY_BUCKETS`), or the quantile estimate at the objective is an interpolation.
 */
export interface ServiceObjectives {
  /** The quantile the latency objective applies to: 0.99 is "99% of requests". */
  readonly latencyQuantile: number;
  /** Answer time that quantile must stay under. */
  readonly latency: Duration;
  /** Largest share of requests that may fail with a 5xx status (0.001 = 0.1%). */
  readonly errorRatio: number;
  /**
   * How long an objective may be broken before its alert fires: shortest for the pinned tier,
   * whose callers notice first.
   */
  readonly breachedFor: Duration;
}

/** An alert's `severity` label: `critical` pages, `warning` waits for office hours. */
export type AlertSeverity = 'critical' | 'warning';

/** How the kubelet, Prometheus and rollouts treat a tier's pods. */
export interface TierRuntimePolicy {
  /** Probe periods (startup gets the engine's warm-up budget over its period). */
  readonly probes: {
    readonly startupPeriod: Duration;
    readonly livenessPeriod: Duration;
    readonly readinessPeriod: Duration;
    /** Failed readiness probes before the pod leaves its Service's endpoints. */
    readonly readinessFailureThreshold: number;
  };
  /** Prometheus scrape interval of the engine's metrics. */
  readonly scrapeInterval: Duration;
  /** Rolling-update pace, in pods. */
  readonly rollout: { readonly maxSurge: number; readonly maxUnavailable: number };
  /** Linux capabilities added to `drop: [ALL]`; never `privileged`. */
  readonly addedCapabilities: readonly string[];
  /** How the tier's HorizontalPodAutoscalers scale; required where the tier autoscales. */
  readonly autoscaling?: AutoscalingBehavior;
}

/** A HorizontalPodAutoscaler's `behavior`, in pods and durations. */
export interface AutoscalingBehavior {
  /** Scale up by the larger of `maxPercent` % and `maxPods` pods per period, after the stabilization window. */
  readonly scaleUp: { readonly stabilization: Duration; readonly period: Duration; readonly maxPercent: number; readonly maxPods: number };
  /** Scale down by at most `pods` per period, after the stabilization window. */
  readonly scaleDown: { readonly stabilization: Duration; readonly period: Duration; readonly pods: number };
}

/** What a node pool is for. */
export type NodePoolRole = 'general' | 'latency' | 'gpu' | 'storage';

/** The namespaces the platform is split into, each with its own Pod Security level. */
export type NamespaceRole = 'latency' | 'engines' | 'data';
