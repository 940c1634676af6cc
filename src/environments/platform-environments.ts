import { cidr, imageRegistry } from '../model/domains';
import { Cpu, Memory } from '../model/quantities';
import { eksReservation, KUBELET_EVICTION_THRESHOLD } from './node-allocatable';
import { EnvironmentSpec, ExternalAccess, InstanceShape, NodePoolSpec, ObjectStoreBackup, SentinelSettings, StorageClassSpec, VaultSecrets } from './environment';
import { Duration } from '../model/duration';

const GENERAL_WORKER: InstanceShape = { cpu: Cpu.cores(8), memory: Memory.gibibytes(32), arch: 'amd64' };
const LATENCY_WORKER: InstanceShape = {
  cpu: Cpu.cores(16), memory: Memory.gibibytes(64), arch: 'amd64', hugepages2Mi: Memory.gibibytes(2),
};
const GH200_WORKER: InstanceShape = {
  cpu: Cpu.cores(16), memory: Memory.gibibytes(128), arch: 'arm64', gpus: 1, gpuProduct: 'NVIDIA-GH200-480GB',
};
const STORAGE_WORKER: InstanceShape = { cpu: Cpu.cores(4), memory: Memory.gibibytes(16), arch: 'amd64' };

/** SSD and standard block storage; volumes are kept when their claim is deleted. */
const AWS_STORAGE_CLASSES: readonly StorageClassSpec[] = [
  { name: 'fast', provisioner: 'ebs.csi.aws.com', parameters: { type: 'io2', iopsPerGB: '50', fsType: 'ext4' } },
  { name: 'standard', provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3', fsType: 'ext4' } },
];

const THREE_ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] as const;

/**
 * Sentinel for the staging and production Redis: three Sentinels (one per member), two must agree.
 * A primary silent for 2 s is declared down: long enough to ride out a GC-free Redis's worst
 * pause and a probe's retry, short enough that the latency tier is not left without a primary.
 */
const SENTINEL: SentinelSettings = {
  quorum: 2,
  downAfter: Duration.seconds(2),
  failoverTimeout: Duration.seconds(10),
  parallelSyncs: 1,
};
/** The secret holding the backup bucket's credentials, in the data namespace. */
const BACKUP_CREDENTIALS_SECRET = 'timescaledb-backup-credentials';

function s3Backup(environment: string, retainFullBackups: number): ObjectStoreBackup {
  return {
    kind: 'object-store',
    bucket: `nautilus-${environment}-timescaledb-backups`,
    region: 'eu-west-1',
    endpoint: 's3.eu-west-1.amazonaws.com',
    retainFullBackups,
    fullBackupEvery: Duration.hours(24),
    credentialsSecret: BACKUP_CREDENTIALS_SECRET,
  };
}

/**
 * Staging and production reach clients through ingress-nginx (Ingresses of class `nginx`), with
 * certificates browsers trust.
 */
function clientEdge(domain: string, issuer: ExternalAccess['issuer']): ExternalAccess {
  return {
    api: 'ingress',
    controller: { implementation: 'ingress-nginx', className: 'nginx', namespace: 'ingress-nginx' },
    domain,
    audience: 'clients',
    issuer,
  };
}

/**
 * The environment's folder in the company Vault, read through its JWT auth method (one mount per
 * cluster, as each cluster has its own token issuer). Values are read again hourly.
 */
function vaultSecrets(environment: string): VaultSecrets {
  return {
    kind: 'vault',
    server: 'https://vault.nautilus.internal:8200',
    mount: 'secret',
    pathPrefix: `nautilus/${environment}`,
    auth: { kind: 'jwt', mountPath: `jwt-${environment}`, role: `nautilus-${environment}`, audience: 'vault' },
    refreshInterval: Duration.hours(1),
  };
}

/**
 * Whole CPUs the latency pool's kubelets reserve (`reservedSystemCPUs`) for the kubelet, the
 * runtime, the operating system and interrupts: one physical core with its hyperthread sibling,
 * so no pinned core shares a physical core with the system.
 */
const LATENCY_RESERVED_CPUS = 2;

/** An EKS pool: Karpenter's default kubelet reservation (whole CPUs where the pool pins cores). */
function pool(
  name: string, role: NodePoolSpec['role'], zones: readonly string[], nodesPerZone: number,
  instance: InstanceShape, maxNodes: number,
): NodePoolSpec {
  const pinned = role === 'latency';
  return {
    name, role, zones, nodesPerZone, instance, maxNodes, pinned,
    reserved: eksReservation(instance, undefined, pinned ? LATENCY_RESERVED_CPUS : undefined),
  };
}

/**
 * A single-node development cluster (kind, minikube, a workstation): one zone, no GPU, no pinned
 * cores. The latency tier still runs, on shared cores and without hugepages.
 */
export const DEV: EnvironmentSpec = {
  name: 'dev',
  zones: ['local-a'],
  nodePools: [{
    name: 'general', role: 'general', zones: ['local-a'], nodesPerZone: 1, maxNodes: 1, pinned: false,
    instance: { cpu: Cpu.cores(16), memory: Memory.gibibytes(64), arch: 'amd64' },
    // kind and minikube run the kubelet's defaults: nothing reserved, eviction at 100Mi.
    reserved: { cpu: Cpu.millis(0), memory: Memory.mebibytes(0), evictionThreshold: KUBELET_EVICTION_THRESHOLD },
  }],
  replicas: 'single',
  resourceScale: 0.125,
  autoscaling: false,
  imageRegistry: imageRegistry('registry.dev.nautilus.internal/nautilus'),
  storageClasses: [],
  // kind and minikube ship a default class of this name.
  clusterStorageClasses: ['standard'],
  storageClassFor: { fast: 'standard', standard: 'standard' },
  storageScale: 0.1,
  nodeNetworkCidr: cidr('10.89.0.0/16'),
  // Traefik serves the Gateway API on a laptop's cluster as in the tests; a private root signs.
  externalAccess: {
    api: 'gateway',
    // Its Helm chart's entry points: web on 8000 and websecure on 8443, behind its Service's 80 and 443.
    controller: { implementation: 'traefik', className: 'traefik', namespace: 'traefik', listenerPorts: { http: 8000, https: 8443 } },
    domain: 'dev.nautilus.internal',
    audience: 'developers',
    issuer: { kind: 'private-ca' },
  },
  secrets: { kind: 'manual', reason: 'a laptop has no Vault: create the Secrets the summary lists with kubectl' },
  monitoringNamespace: 'monitoring',
  disabledEngines: [{ name: 'ml-training', reason: 'needs a GPU and dev has no GPU pool; training runs in staging and prod' }],
  // Releases run unattended as in staging, so a change to the edge is tried on its preview before
  // the switch where it is developed. Canaries need two pods at rest: with one replica each, those
  // engines roll (the summary says so).
  progressiveDelivery: { attended: false },
  // One node: replicas would share its fate, so a single server without Sentinel.
  redis: { members: 1 },
  timescaledb: {
    members: 1,
    synchronousReplication: false,
    backup: { kind: 'disabled', reason: 'dev data is disposable; recreate it from fixtures' },
  },
};

/** Staging: production's shape at half size, with every pool type so every policy is exercised. */
export const STAGING: EnvironmentSpec = {
  name: 'staging',
  zones: THREE_ZONES,
  nodePools: [
    pool('general', 'general', THREE_ZONES, 2, GENERAL_WORKER, 12),
    // Three zones, one node each: the three Redis members (pinned, beside the tier they serve)
    // need a zone each, or losing the zone with two would leave one Sentinel, no majority.
    pool('latency', 'latency', THREE_ZONES, 1, LATENCY_WORKER, 3),
    pool('gpu', 'gpu', ['eu-west-1a', 'eu-west-1b'], 1, GH200_WORKER, 3),
    pool('storage', 'storage', ['eu-west-1a', 'eu-west-1b'], 1, STORAGE_WORKER, 2),
  ],
  replicas: 'reduced',
  resourceScale: 0.5,
  autoscaling: true,
  imageRegistry: imageRegistry('registry.staging.nautilus.internal/nautilus'),
  thirdPartyMirror: imageRegistry('registry.staging.nautilus.internal/mirror'),
  storageClasses: AWS_STORAGE_CLASSES,
  storageClassFor: { fast: 'fast', standard: 'standard' },
  storageScale: 0.5,
  nodeNetworkCidr: cidr('10.20.0.0/16'),
  // Let's Encrypt's staging authority: real issuance, without production's rate limits.
  externalAccess: clientEdge('staging.nautilus.example.com', {
    kind: 'acme', server: 'https://acme-staging-v02.api.letsencrypt.org/directory', email: 'platform@nautilus.example.com',
  }),
  secrets: vaultSecrets('staging'),
  monitoringNamespace: 'monitoring',
  karpenterNodeClass: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'nautilus-staging' },
  disabledEngines: [],
  // Releases run unattended: every canary step and blue/green preview has a duration.
  progressiveDelivery: { attended: false },
  // Production's topology, so failover is exercised before it matters.
  redis: { members: 3, sentinel: SENTINEL },
  // Two members exercise failover; asynchronous, so a replica's outage never stalls commits.
  timescaledb: { members: 2, synchronousReplication: false, backup: s3Backup('staging', 2) },
};

/** Production: three zones, a pinned latency pool, arm64 GH200 GPU nodes and a storage pool. */
export const PROD: EnvironmentSpec = {
  name: 'prod',
  zones: THREE_ZONES,
  nodePools: [
    // Five per zone: the ten nodes left after losing a zone hold the general tier at rest. Four
    // were enough against the nodes' capacity, not their allocatable: with the kubelet's
    // reservation the eight left have 63 of the 8 × 8 CPUs for 49.5 requested, and the
    // scheduler's spreading then leaves no node with room for a 3-CPU, 12Gi portfolio pod.
    pool('general', 'general', THREE_ZONES, 5, GENERAL_WORKER, 30),
    // Three zones: each holds one Redis member (see staging); the tier's two replicas take two.
    pool('latency', 'latency', THREE_ZONES, 1, LATENCY_WORKER, 6),
    pool('gpu', 'gpu', THREE_ZONES, 1, GH200_WORKER, 6),
    pool('storage', 'storage', THREE_ZONES, 1, STORAGE_WORKER, 3),
  ],
  replicas: 'full',
  resourceScale: 1,
  confirmPrunes: true,
  autoscaling: true,
  imageRegistry: imageRegistry('registry.prod.nautilus.internal/nautilus'),
  thirdPartyMirror: imageRegistry('registry.prod.nautilus.internal/mirror'),
  storageClasses: AWS_STORAGE_CLASSES,
  storageClassFor: { fast: 'fast', standard: 'standard' },
  storageScale: 1,
  nodeNetworkCidr: cidr('10.30.0.0/16'),
  // The company CA signs production's certificates; its key pair comes from Vault like every credential.
  externalAccess: clientEdge('nautilus.example.com', { kind: 'company-ca', secretName: 'nautilus-company-ca' }),
  secrets: vaultSecrets('prod'),
  monitoringNamespace: 'monitoring',
  karpenterNodeClass: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'nautilus-prod' },
  survivesZoneLoss: true,
  disabledEngines: [],
  // Someone watches every release: the last canary step and the blue/green switch wait for a
  // promotion. Istio carries the engines' requests (the design documents' 90/10 canaries).
  progressiveDelivery: { attended: true, mesh: 'istio' },
  // One primary and two replicas, one per zone, each with a Sentinel.
  redis: { members: 3, sentinel: SENTINEL },
  // One member per zone; synchronous, so an acknowledged trade survives losing the primary.
  timescaledb: { members: 3, synchronousReplication: true, backup: s3Backup('prod', 7) },
};

/** Every environment `npm run synth` writes, in order. */
export const PLATFORM_ENVIRONMENTS: readonly EnvironmentSpec[] = [DEV, STAGING, PROD];
