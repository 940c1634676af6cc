import { NodePoolRole } from '../catalog/tier';
import { Cidr, ImageRegistry } from '../model/domains';
import { Cpu, Memory } from '../model/quantities';
import { Duration } from '../model/duration';

/** A node taint, as the kubelet or Karpenter registers it. */
export interface NodeTaint {
  readonly key: string;
  readonly value: string;
  readonly effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
}

/** The shape of every node in a pool. */
export interface InstanceShape {
  readonly cpu: Cpu;
  readonly memory: Memory;
  readonly arch: 'amd64' | 'arm64';
  /** `nvidia.com/gpu` per node. @default 0 */
  readonly gpus?: number;
  /** GPU product label (GPU Feature Discovery's `nvidia.com/gpu.product`). */
  readonly gpuProduct?: string;
  /** Pre-allocated 2Mi hugepages per node. @default none */
  readonly hugepages2Mi?: Memory;
}

/**
 * What the kubelet of every node in a pool holds back from pods: node allocatable is the capacity
 * less these (and less pre-allocated hugepages, for memory). The cluster's kubelet configuration
 * (for Karpenter: the EC2NodeClass's `kubelet` block) must say the same.
 *
 * @see https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/
 */
export interface NodeReservation {
  /**
   * CPU for the kubelet, the container runtime and the operating system (kube-reserved plus
   * system-reserved). On a pool that pins cores these are whole CPUs, the kubelet's
   * `reservedSystemCPUs`: the static CPU manager never hands them to a pinned pod.
   */
  readonly cpu: Cpu;
  /** Memory for the same daemons (kube-reserved plus system-reserved). */
  readonly memory: Memory;
  /** The kubelet's hard eviction threshold `memory.available`: also kept from pods. */
  readonly evictionThreshold: Memory;
}

/** A pool of identical nodes in one or more zones. */
export interface NodePoolSpec {
  /** Pool name, used as the `nautilus.io/node-pool` label and the Karpenter NodePool name. */
  readonly name: string;
  /** What the pool is for; tiers select pools by role. */
  readonly role: NodePoolRole;
  /** Zones the pool has nodes in (a subset of the environment's zones). */
  readonly zones: readonly string[];
  /** Nodes per zone at rest. */
  readonly nodesPerZone: number;
  /** Most nodes the pool may grow to (Karpenter limit). */
  readonly maxNodes: number;
  /** Every node's shape. */
  readonly instance: InstanceShape;
  /** What each node's kubelet keeps from pods (see {@link NodeReservation}). */
  readonly reserved: NodeReservation;
  /** Pods per node (the kubelet's `maxPods`). @default 110, the kubelet's default */
  readonly maxPods?: number;
  /**
   * Whether the pool pins cores: its kubelets run `cpuManagerPolicy: static` (with reserved
   * system CPUs), so Guaranteed pods with whole-CPU requests get exclusive cores.
   */
  readonly pinned: boolean;
}

/** A StorageClass the environment creates. */
export interface StorageClassSpec {
  readonly name: string;
  readonly provisioner: string;
  readonly parameters: Readonly<Record<string, string>>;
}

/** How many replicas an environment runs relative to production. */
export type ReplicaPolicy =
  /** One replica of everything: a single-node development cluster. */
  | 'single'
  /** Production's minimum capped at 2, maximum halved: enough to exercise PDBs and spread. */
  | 'reduced'
  /** Production's numbers as the catalog gives them. */
  | 'full';

/**
 * Sentinel's failure detection and failover, for a replicated Redis. Every member's pod runs a
 * Sentinel beside its server.
 */
export interface SentinelSettings {
  /** Sentinels that must agree the primary is down before a failover starts (a majority of them must also elect a leader). */
  readonly quorum: number;
  /** How long the primary may be unreachable before a Sentinel considers it down (`down-after-milliseconds`). */
  readonly downAfter: Duration;
  /** Sentinel's `failover-timeout`: a failover not done in this time is retried by another Sentinel. */
  readonly failoverTimeout: Duration;
  /** Replicas resynchronising from a new primary at once (`parallel-syncs`); the others keep serving reads. */
  readonly parallelSyncs: number;
}

/** How an environment runs Redis. */
export interface RedisReplicationSettings {
  /** Members: one primary, the rest replicas of it. 1 means a single server and no Sentinel. */
  readonly members: number;
  /** Sentinel settings; required with two or more members, absent with one. */
  readonly sentinel?: SentinelSettings;
}

/**
 * Continuous archiving and scheduled full backups to an S3-compatible bucket (pgBackRest).
 * Credentials are never written: the Secret named here holds them.
 */
export interface ObjectStoreBackup {
  readonly kind: 'object-store';
  /** Bucket name (created beforehand, versioning recommended). */
  readonly bucket: string;
  /** The bucket's region, e.g. `eu-west-1`. */
  readonly region: string;
  /** S3 API endpoint host, e.g. `s3.eu-west-1.amazonaws.com` (any S3-compatible store works). */
  readonly endpoint: string;
  /** Full backups kept; older ones, and the WAL only they need, expire. */
  readonly retainFullBackups: number;
  /** Time between full backups, whole hours (WAL is archived continuously in between). */
  readonly fullBackupEvery: Duration;
  /** Secret in the data namespace with keys `access-key-id` and `secret-access-key`. */
  readonly credentialsSecret: string;
}

/** Backups switched off, on purpose, with the reason (shown in the summary). */
export interface BackupDisabled {
  readonly kind: 'disabled';
  readonly reason: string;
}

/** How an environment runs TimescaleDB (PostgreSQL under Patroni). */
export interface TimescaleDbSettings {
  /** Patroni members: one primary, the rest streaming replicas. 1 means no failover. */
  readonly members: number;
  /**
   * Patroni's `synchronous_mode`: a commit is acknowledged only once a replica has it, so an
   * acknowledged write survives losing the primary. Costs a network round trip per commit.
   */
  readonly synchronousReplication: boolean;
  /** Where WAL and full backups go. */
  readonly backup: ObjectStoreBackup | BackupDisabled;
}

/**
 * Canary and blue/green releases through an Argo Rollouts controller the cluster runs (namespace
 * `argo-rollouts`, its CRDs installed): engines whose release policy is not `rolling` become
 * Rollouts, measured against their tier's objectives by the cluster's Prometheus.
 */
export interface ProgressiveDelivery {
  /**
   * Whether a person watches every release: a canary then waits, fully measured, at its last step
   * and a blue/green release on its preview, until `nautilus promote` (or the plugin's promote).
   * Unattended, every step has a duration and releases finish on their own.
   */
  readonly attended: boolean;
  /**
   * The Prometheus the analyses query, as the controller reaches it.
   * @default the monitoring stack's Prometheus Service in `monitoringNamespace`
   */
  readonly prometheusAddress?: string;
  /**
   * The service mesh that carries the engines' requests, where the cluster runs one: a canary's
   * share of requests is then set by weights on a VirtualService (the controller moves them step by
   * step) rather than by its share of pods. The mesh itself (its control plane, sidecar injection
   * in the engines' namespace) is the cluster's, like the monitoring stack.
   * @default none: canaries are replica ratios
   */
  readonly mesh?: 'istio';
}

/**
 * The controller that carries requests from outside the cluster to the public engines. The
 * controller itself (its Deployment, its Service of type LoadBalancer, its GatewayClass or
 * IngressClass) is the cluster's, like the monitoring stack.
 */
export interface EdgeController {
  /**
   * Which implementation it is: where the standard APIs leave a setting to the implementation (an
   * Ingress's HTTP-to-HTTPS redirect and idle timeout), its own annotations carry it.
   */
  readonly implementation: 'traefik' | 'ingress-nginx';
  /** The GatewayClass (Gateway API) or IngressClass (Ingress) it serves. */
  readonly className: string;
  /** The namespace its proxies run in: the only one the NetworkPolicies admit to public engines. */
  readonly namespace: string;
  /**
   * The ports of the Gateway's listeners, where the implementation maps them to its own listening
   * ports (Traefik's listeners must name its entry points' ports: 8000 and 8443 in its Helm chart).
   * @default 80 and 443
   */
  readonly listenerPorts?: { readonly http: number; readonly https: number };
}

/**
 * Who issues the certificates of the environment's hostnames (cert-manager, in the namespace of the
 * routes).
 */
export type CertificateIssuer =
  /**
   * A private certificate authority of the environment's own: a self-signed root that cert-manager
   * creates and keeps, which signs every certificate. Clients must trust the root (it is in the
   * Secret `<environment>-root-ca`); for developers, not for clients.
   */
  | { readonly kind: 'private-ca' }
  /**
   * The company's certificate authority: its certificate and key, in a Secret of type
   * kubernetes.io/tls that the secret manager provides (`secretName` in the routes' namespace).
   */
  | { readonly kind: 'company-ca'; readonly secretName: string }
  /**
   * An ACME certificate authority (Let's Encrypt): each hostname is proven by an HTTP-01 challenge
   * answered through the environment's own routes.
   */
  | { readonly kind: 'acme'; readonly server: string; readonly email: string };

/** Whose browsers and programs reach the environment; decides which issuers it may use. */
export type EdgeAudience =
  /** The platform's developers, who can trust a private root: any issuer. */
  | 'developers'
  /** Clients, whose browsers trust public or company authorities only: ACME or the company CA. */
  | 'clients';

/** How the public engines are reached from outside the cluster. */
export interface ExternalAccess {
  /**
   * The routing API: a Gateway of the controller's class with an HTTPRoute per public engine
   * (Gateway API), or one Ingress per host (Ingress).
   */
  readonly api: 'gateway' | 'ingress';
  readonly controller: EdgeController;
  /** The DNS domain public hosts are under: a route's host `app` is `app.<domain>`. */
  readonly domain: string;
  readonly audience: EdgeAudience;
  readonly issuer: CertificateIssuer;
}

/**
 * Credentials synced from HashiCorp Vault by the External Secrets Operator (running in the
 * cluster): a ClusterSecretStore of the environment and an ExternalSecret for every Secret a
 * workload reads. Each Secret's key path is `<mount>/<pathPrefix>/<path>`, its keys the
 * properties of that KV version 2 entry.
 */
export interface VaultSecrets {
  readonly kind: 'vault';
  /** Vault's address as the operator reaches it, e.g. `https://vault.prod.internal:8200`. */
  readonly server: string;
  /** The mount of the KV version 2 secrets engine, e.g. `secret`. */
  readonly mount: string;
  /** The environment's folder in that engine, e.g. `nautilus/prod`. */
  readonly pathPrefix: string;
  /**
   * Vault's JWT auth method, trusting the cluster's service account tokens (configured with the
   * cluster's issuer: its OIDC discovery or its signing keys): its mount path, and the role bound to
   * the subject `system:serviceaccount:nautilus-data:secrets-reader` and `audience`. The operator
   * logs in with a short-lived token it requests for that account (TokenRequest); Vault needs no
   * access to the cluster's API.
   */
  readonly auth: { readonly kind: 'jwt'; readonly mountPath: string; readonly role: string; readonly audience: string };
  /** How often each Secret is read again from Vault, so a rotated value arrives on its own. */
  readonly refreshInterval: Duration;
  /**
   * Where Vault already keeps a Secret elsewhere than its default path: Secret name to path under
   * `pathPrefix`. @default every Secret at its default path
   */
  readonly paths?: Readonly<Record<string, string>>;
}

/** Secrets created by hand with kubectl (a laptop's cluster), with the reason. */
export interface ManualSecrets {
  readonly kind: 'manual';
  readonly reason: string;
}

/** Where an environment's credentials come from. */
export type SecretSource = VaultSecrets | ManualSecrets;

/** An engine switched off in an environment, and why. */
export interface DisabledEngine {
  readonly name: string;
  readonly reason: string;
}

/**
 * One deployment environment: the cluster it runs on and how the catalog is sized for it.
 */
export interface EnvironmentSpec {
  /** `dev`, `staging`, `prod`: names the `dist/` folder and the `nautilus.io/environment` label. */
  readonly name: string;
  /** The cluster's zones (`topology.kubernetes.io/zone`). */
  readonly zones: readonly string[];
  /** The cluster's node pools. */
  readonly nodePools: readonly NodePoolSpec[];
  /** Replica counts relative to production. */
  readonly replicas: ReplicaPolicy;
  /**
   * Whether `nautilus deploy` asks before pruning objects `dist/` no longer has (`--yes`, or a `y`
   * at the prompt; without a terminal it refuses): where a wrong prune costs the most.
   * @default false
   */
  readonly confirmPrunes?: boolean;
  /**
   * Factor applied to production CPU and memory requests of engines that do not pin cores, and
   * of the data stores: one factor for both, or one each (a small machine may fit the CPU of a
   * scaled-down platform long before it would fit a process in the same share of its memory).
   */
  readonly resourceScale: number | ResourceScale;
  /** Whether HorizontalPodAutoscalers are created for tiers that allow them. */
  readonly autoscaling: boolean;
  /** Registry and path prefix of engine images, e.g. `registry.example/nautilus`. */
  readonly imageRegistry: ImageRegistry;
  /**
   * Registry path third-party images (data stores, device plugin) are pulled through, keeping the
   * upstream host and path below it (`<mirror>/docker.io/library/redis:7.4.1-alpine`).
   * @default pulled from upstream
   */
  readonly thirdPartyMirror?: ImageRegistry;
  /**
   * Whether every third-party image must be pinned by digest: synthesis fails while a catalog
   * reference has none. @default false
   */
  readonly requireImageDigests?: boolean;
  /** Storage classes to create; empty when the cluster's own are used. */
  readonly storageClasses: readonly StorageClassSpec[];
  /**
   * Storage classes the cluster already has and `storageClassFor` may name (a dev cluster's
   * default `standard`). @default none
   */
  readonly clusterStorageClasses?: readonly string[];
  /** Which storage class each storage tier uses. */
  readonly storageClassFor: Readonly<Record<'fast' | 'standard', string>>;
  /** Factor applied to production data store volume sizes. */
  readonly storageScale: number;
  /** CIDR of the nodes' addresses: how pod-network engines reach host-network engines. */
  readonly nodeNetworkCidr: Cidr;
  /** How clients outside the cluster reach the public engines: routes, hostnames, certificates. */
  readonly externalAccess: ExternalAccess;
  /** Where the credentials the workloads read come from. */
  readonly secrets: SecretSource;
  /** Namespace of the Prometheus that scrapes `/metrics`. */
  readonly monitoringNamespace: string;
  /** Karpenter node class the NodePools launch from; no NodePools are created without one. */
  readonly karpenterNodeClass?: { readonly group: string; readonly kind: string; readonly name: string };
  /**
   * Whether losing any one zone must leave every pool able to hold its pods at rest (and each
   * host-network engine one replica). Checked at synthesis. @default false
   */
  readonly survivesZoneLoss?: boolean;
  /** Engines of the catalog not deployed here. */
  readonly disabledEngines: readonly DisabledEngine[];
  /**
   * Canary and blue/green releases (an Argo Rollouts controller runs in the cluster).
   * @default none: every engine rolls as a Deployment
   */
  readonly progressiveDelivery?: ProgressiveDelivery;
  /** Redis replication and failover. */
  readonly redis: RedisReplicationSettings;
  /** TimescaleDB's replication and backups. */
  readonly timescaledb: TimescaleDbSettings;
}

/** The pool tiers of role `role` are scheduled onto, if the environment has one. */
export function poolForRole(environment: EnvironmentSpec, role: NodePoolRole): NodePoolSpec | undefined {
  return environment.nodePools.find((p) => p.role === role);
}

/** Separate production-relative factors for CPU and for memory. */
export interface ResourceScale {
  /** Factor on CPU requests (and limits). */
  readonly cpu: number;
  /** Factor on memory requests and limits. */
  readonly memory: number;
}

/** The environment's CPU and memory factors, whichever way it states them. */
export function resourceScaleOf(environment: Pick<EnvironmentSpec, 'resourceScale'>): ResourceScale {
  const scale = environment.resourceScale;
  return typeof scale === 'number' ? { cpu: scale, memory: scale } : scale;
}
