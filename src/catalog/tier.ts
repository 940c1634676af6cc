/**
 * A latency tier of the platform and the Kubernetes policy that follows from it. Every engine
 * belongs to exactly one tier; what a tier implies (host networking, pinned cores, autoscaling,
 * priority, which node pool) is decided here and nowhere else.
 *
 * Enum-like: use the static instances.
 */
export class Tier {
  /**
   * Risk, positions, orders: host networking, dedicated whole cores, hugepages, the latency pool,
   * never autoscaled (a new replica would need a freshly isolated core and JIT warm-up).
   */
  public static readonly ULTRA_LOW_LATENCY = new Tier({
    name: 'ultra-low-latency',
    priorityClassName: 'nautilus-ultra-low-latency',
    priorityValue: 1_000_000,
    hostNetwork: true,
    dedicatedCores: true,
    hugepages: true,
    autoscaling: false,
    nodePoolRole: 'latency',
    namespaceRole: 'latency',
    objectives: { latencyQuantile: 0.99, latencySeconds: 0.001, errorRatio: 0.001 },
  });

  /** Market data, strategy, order routing: pod network, horizontally autoscaled. */
  public static readonly HIGH_PERFORMANCE = new Tier({
    name: 'high-performance',
    priorityClassName: 'nautilus-high-performance',
    priorityValue: 900_000,
    hostNetwork: false,
    dedicatedCores: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latencySeconds: 0.01, errorRatio: 0.005 },
  });

  /** Analytics, factors, features, portfolio: heavy batch-like services, autoscaled. */
  public static readonly COMPUTE = new Tier({
    name: 'compute',
    priorityClassName: 'nautilus-compute',
    priorityValue: 500_000,
    hostNetwork: false,
    dedicatedCores: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latencySeconds: 2.5, errorRatio: 0.01 },
  });

  /** Client-facing services: websocket, backend API, frontend. */
  public static readonly EDGE = new Tier({
    name: 'edge',
    priorityClassName: 'nautilus-edge',
    priorityValue: 700_000,
    hostNetwork: false,
    dedicatedCores: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'general',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latencySeconds: 0.25, errorRatio: 0.01 },
  });

  /** Model inference and training on the GPU pool (arm64 GH200 nodes where there is one). */
  public static readonly GPU = new Tier({
    name: 'gpu',
    priorityClassName: 'nautilus-gpu',
    priorityValue: 600_000,
    hostNetwork: false,
    dedicatedCores: false,
    hugepages: false,
    autoscaling: true,
    nodePoolRole: 'gpu',
    namespaceRole: 'engines',
    objectives: { latencyQuantile: 0.99, latencySeconds: 0.5, errorRatio: 0.01 },
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
  /** Whether pods get whole, exclusive cores where the environment's kubelets pin them. */
  public readonly dedicatedCores: boolean;
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

  private constructor(props: TierProps) {
    this.name = props.name;
    this.priorityClassName = props.priorityClassName;
    this.priorityValue = props.priorityValue;
    this.hostNetwork = props.hostNetwork;
    this.dedicatedCores = props.dedicatedCores;
    this.hugepages = props.hugepages;
    this.autoscaling = props.autoscaling;
    this.nodePoolRole = props.nodePoolRole;
    this.namespaceRole = props.namespaceRole;
    this.objectives = props.objectives;
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
  | 'dedicatedCores'
  | 'hugepages'
  | 'autoscaling'
  | 'nodePoolRole'
  | 'namespaceRole'
  | 'objectives'
>;

/**
 * A tier's service objectives, measured on the runtime's request histogram and counter (probe and
 * scrape requests excluded). `latencySeconds` must be one of the runtime's histogram bucket bounds
 * (`LATENCY_BUCKETS`), or the quantile estimate at the objective is an interpolation.
 */
export interface ServiceObjectives {
  /** The quantile the latency objective applies to: 0.99 is "99% of requests". */
  readonly latencyQuantile: number;
  /** Answer time that quantile must stay under, in seconds. */
  readonly latencySeconds: number;
  /** Largest share of requests that may fail with a 5xx status (0.001 = 0.1%). */
  readonly errorRatio: number;
}

/** What a node pool is for. */
export type NodePoolRole = 'general' | 'latency' | 'gpu' | 'storage';

/** The namespaces the platform is split into, each with its own Pod Security level. */
export type NamespaceRole = 'latency' | 'engines' | 'data';
