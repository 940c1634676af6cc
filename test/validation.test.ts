import { Count, Port } from '../src/model/domains';
import { Duration } from '../src/model/duration';
import { Cpu, Memory } from '../src/model/quantities';
import { ConfigurationError, formatProblem } from '../src/model/errors';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { BatchWorkload, EngineSpec, ServiceWorkload } from '../src/catalog/engine-spec';
import { DataStoreSpec, PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { EnvironmentSpec, VaultSecrets } from '../src/environments/environment';
import { EngineSourceFiles } from '../src/images/engine-sources';
import { renderEngineFiles } from '../src/images/engine-files';
import { VALIDATION_RULES, ValidationOptions, validatePlatform } from '../src/validation/validate';
import { PLATFORM_ENGINES, withEngine } from './support/platform';
import { BlueGreenRelease, CanaryRelease } from '../src/catalog/release';
import { Tier } from '../src/catalog/tier';

/** `engine` released as a canary, its tier's (or the high-performance tier's) with `change` applied. */
function canaryOverride(engine: EngineSpec, change: Partial<CanaryRelease>): EngineSpec {
  const base = engine.tier.release.kind === 'canary' ? engine.tier.release : (Tier.HIGH_PERFORMANCE.release as CanaryRelease);
  return { ...engine, release: { reason: 'a test of the rule', policy: { ...base, ...change } } };
}

const STORES = Object.values(PLATFORM_DATA_STORES);

/** The platform's stores unless a case gives its own. */
type CaseOptions = ValidationOptions & { readonly stores?: readonly DataStoreSpec[] };

function problemsOf(catalog: readonly EngineSpec[], environments: readonly EnvironmentSpec[], options: CaseOptions = {}): ConfigurationError {
  try {
    validatePlatform(catalog, options.stores ?? STORES, environments, options);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected validation to fail');
}

const scaling = (e: EngineSpec, change: Partial<ServiceWorkload['scaling']>): EngineSpec => ({
  ...e, workload: { ...(e.workload as ServiceWorkload), scaling: { ...(e.workload as ServiceWorkload).scaling, ...change } },
});
// Casts stand for values TypeScript cannot refuse (a computed number): the rules must.
const port = (e: EngineSpec, value: number): EngineSpec => ({ ...e, workload: { ...(e.workload as ServiceWorkload), port: value as Port } });
const batch = (e: EngineSpec, change: Partial<BatchWorkload>): EngineSpec => ({ ...e, workload: { ...(e.workload as BatchWorkload), ...change } });
const health = (e: EngineSpec, change: Partial<ServiceWorkload['health']>): EngineSpec => ({
  ...e, workload: { ...(e.workload as ServiceWorkload), health: { ...(e.workload as ServiceWorkload).health, ...change } },
});
const withStore = (name: string, change: Partial<DataStoreSpec>): DataStoreSpec[] =>
  Object.values(PLATFORM_DATA_STORES).map((s) => (s.name === name ? { ...s, ...change } : s));
const withPool = (env: EnvironmentSpec, role: string, change: Partial<EnvironmentSpec['nodePools'][number]>): EnvironmentSpec => ({
  ...env, nodePools: env.nodePools.map((p) => (p.role === role ? { ...p, ...change } : p)),
});
/** The committed files as the generator renders them (what the repository holds when it is in step). */
const generatedSources = (catalog: readonly EngineSpec[] = PLATFORM_ENGINES): Map<string, EngineSourceFiles> =>
  new Map(catalog.map((e) => {
    const files = new Map(renderEngineFiles(e).map((f) => [f.path, f.content]));
    return [e.name, { dockerfile: files.get(`${e.name}/Dockerfile`), engineJson: files.get(`${e.name}/engine.json`) }];
  }));

/**
 * The rules that raised the entries `pattern` matches in the error's message (one entry per line,
 * after the header line): a case passes only if its own rule produced the text it names.
 */
function rulesMatching(error: ConfigurationError, pattern: RegExp): string[] {
  const match = pattern.exec(error.message);
  if (!match) return [];
  const rules = new Set<string>();
  let start = error.message.indexOf('\n') + 1;
  for (const entry of error.entries) {
    const end = start + `  - ${formatProblem(entry)}`.length;
    if (start < match.index + match[0].length && end > match.index) rules.add(entry.rule);
    start = end + 1;
  }
  // The entries account for the whole message, or the spans above are wrong.
  expect(start - 1).toBe(error.message.length);
  return [...rules];
}

/**
 * One failing case per rule: the catalog or environment change, the environment it is checked in,
 * and what the message must name (environment, engine, field, value, and a fix).
 */
const cases: Array<{
  rule: string; catalog?: EngineSpec[]; environment: EnvironmentSpec; environments?: EnvironmentSpec[]; options?: CaseOptions; expect: RegExp;
}> = [
  {
    rule: 'pinned-cpu-whole',
    catalog: withEngine('position-keeper', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.cores(1.5) } })),
    environment: PROD,
    expect: /\[prod\] position-keeper: resources\.cpu = 1500m: .*whole CPUs.*Fix: round the CPU up to Cpu\.cores\(2\)/,
  },
  {
    rule: 'gpu-pool-present',
    environment: { ...DEV, disabledEngines: [] },
    expect: /\[dev\] ml-training: resources\.gpu = \{ count: 1, mode: 'required' \}: .*no GPU node pool.*Fix: add a node pool with role 'gpu' to dev, or add ml-training to its disabledEngines/,
  },
  {
    rule: 'host-network-port-conflicts',
    catalog: withEngine('order-manager', (e) => port(e, 8200)),
    environment: PROD,
    expect: /\[prod\] order-manager: workload\.port = 8200: risk-engine already uses this port.*Fix: give order-manager a port/,
  },
  {
    rule: 'dependencies-exist',
    catalog: withEngine('strategy', (e) => ({ ...e, dependencies: { ...e.dependencies, engines: ['market-date'] } })),
    environment: PROD,
    expect: /\[prod\] strategy: dependencies\.engines = "market-date": no engine of that name in the catalog\. Fix: correct the name/,
  },
  {
    rule: 'dependencies-exist',
    catalog: withEngine('strategy', (e) => ({ ...e, dependencies: { ...e.dependencies, stores: ['mongodb' as never] } })),
    environment: PROD,
    expect: /\[prod\] strategy: dependencies\.stores = "mongodb": no data store of that name\. Fix: use one of: timescaledb, redis/,
  },
  {
    rule: 'disruption-budget-allows-drain',
    catalog: withEngine('market-data', (e) => scaling(e, { maxUnavailable: 0 })),
    environment: PROD,
    expect: /\[prod\] market-data: workload\.scaling\.maxUnavailable = 0: .*blocks every node drain.*Fix: set maxUnavailable to 1/,
  },
  {
    rule: 'replica-bounds',
    catalog: withEngine('features', (e) => scaling(e, { minReplicas: 5, maxReplicas: 3 })),
    environment: PROD,
    expect: /\[prod\] features: workload\.scaling\.maxReplicas = 3 \(minReplicas 5\): the autoscaler maximum is below its minimum\. Fix: set maxReplicas to at least 5/,
  },
  {
    rule: 'memory-limit-not-below-request',
    catalog: withEngine('analytics', (e) => ({ ...e, resources: { ...e.resources, memoryLimit: Memory.gibibytes(2) } })),
    environment: PROD,
    expect: /\[prod\] analytics: resources\.memoryLimit = 2Gi \(request 6Gi\): .*below the request.*Fix: raise memoryLimit to at least 6Gi/,
  },
  {
    rule: 'kubernetes-names',
    catalog: withEngine('factor', (e) => ({ ...e, name: 'Factor_Engine' })).map((e) =>
      ({ ...e, dependencies: { ...e.dependencies, engines: e.dependencies.engines.map((d) => (d === 'factor' ? 'Factor_Engine' : d)) } })),
    environment: PROD,
    expect: /\[prod\] Factor_Engine: name = "Factor_Engine": not a valid Kubernetes name.*Fix: use lower-case letters/,
  },
  {
    rule: 'duplicate-engine-names',
    catalog: [...PLATFORM_ENGINES, PLATFORM_ENGINES.find((e) => e.name === 'backend')!],
    environment: PROD,
    expect: /\[prod\] backend: name = "backend": two catalog entries have this name.*Fix: rename one/,
  },
  {
    rule: 'port-range',
    catalog: withEngine('frontend', (e) => port(e, 70000)),
    environment: PROD,
    expect: /\[prod\] frontend: workload\.port = 70000: a TCP port must be a whole number from 1 to 65535\. Fix:/,
  },
  {
    rule: 'disabled-engines-exist',
    environment: { ...DEV, disabledEngines: [...DEV.disabledEngines, { name: 'ml-trainer', reason: 'typo' }] },
    expect: /\[dev\] environment: disabledEngines = "ml-trainer": no engine of that name in the catalog/,
  },
  {
    rule: 'host-network-replicas-fit-pool',
    catalog: withEngine('risk-engine', (e) => scaling(e, { minReplicas: 4, maxReplicas: 4 })),
    environment: PROD,
    expect: /\[prod\] risk-engine: workload\.scaling\.minReplicas = 4: host-network pods need one node each and the latency pool has 3/,
  },
  {
    rule: 'timescaledb-replication',
    environment: { ...DEV, timescaledb: { ...DEV.timescaledb, synchronousReplication: true } },
    expect: /\[dev\] timescaledb: timescaledb\.synchronousReplication = true \(members 1\): .*a single member has none.*Fix: set members to 2 or more/,
  },
  {
    rule: 'timescaledb-replication',
    environment: { ...DEV, timescaledb: { ...DEV.timescaledb, members: 3 } },
    expect: /\[dev\] timescaledb: timescaledb\.members = 3: the general pool .* spans 1 zone.*Fix: give the storage pool nodes in a second zone, or run 1 member/,
  },
  {
    rule: 'timescaledb-backup',
    environment: {
      ...STAGING,
      timescaledb: { ...STAGING.timescaledb, backup: {
        kind: 'object-store', bucket: 'Backups', region: 'eu-west-1', endpoint: 'https://s3.example',
        retainFullBackups: 0, fullBackupEvery: Duration.hours(24), credentialsSecret: 'timescaledb-backup-credentials',
      } },
    },
    expect: /\[staging\] timescaledb: timescaledb\.backup\.bucket = "Backups": not a valid S3 bucket name[\s\S]*timescaledb\.backup\.endpoint = "https:\/\/s3\.example": .*without a scheme[\s\S]*timescaledb\.backup\.retainFullBackups = 0: .*Fix: keep at least 1 full backup/,
  },
  {
    rule: 'node-pool-zones',
    environment: { ...PROD, nodePools: PROD.nodePools.map((p) => (p.role === 'gpu' ? { ...p, zones: ['us-east-1a'] } : p)) },
    expect: /\[prod\] node pool gpu: zones = "us-east-1a": not one of the environment's zones/,
  },
  {
    rule: 'environment-names-unique',
    environment: PROD,
    environments: [{ ...STAGING, name: 'prod' }, PROD],
    expect: /\[prod\] environment: name = "prod": two environments have this name.*Fix: give every environment its own name/,
  },
  {
    rule: 'node-pool-names-unique',
    environment: { ...PROD, nodePools: [...PROD.nodePools, { ...PROD.nodePools[0], role: 'storage' }] },
    expect: /\[prod\] node pool general: name = "general": two node pools of this environment have this name/,
  },
  {
    rule: 'engine-store-name-collisions',
    catalog: withEngine('frontend', (e) => ({ ...e, name: 'redis' })),
    environment: PROD,
    expect: /\[prod\] redis: name = "redis": the data store redis already names its objects so.*Fix: rename the engine/,
  },
  {
    rule: 'cronjob-name-length',
    catalog: withEngine('ml-training', (e) => ({ ...e, name: 'nightly-model-training-for-strategies-and-risk-models' })),
    environment: PROD,
    expect: /\[prod\] nightly-model-training-for-strategies-and-risk-models: name = .*\(53 characters\): a CronJob name may have at most 52 characters/,
  },
  {
    rule: 'label-values',
    environment: withPool(PROD, 'gpu', { instance: { ...PROD.nodePools[2].instance, gpuProduct: 'NVIDIA GH200' } }),
    expect: /\[prod\] node pool gpu: instance\.gpuProduct = "NVIDIA GH200": used as a label value, which the API server rejects/,
  },
  {
    rule: 'host-network-ports-allowed',
    catalog: withEngine('risk-engine', (e) => port(e, 10250)),
    environment: PROD,
    expect: /\[prod\] risk-engine: workload\.port = 10250: .*the kubelet already holds it on every node\. Fix: pick a free port/,
  },
  {
    rule: 'autoscaling-targets',
    catalog: withEngine('market-data', (e) => scaling(e, { targetCpuUtilization: 0, targetRequestsPerSecond: -5 })),
    environment: PROD,
    expect: /\[prod\] market-data: workload\.scaling\.targetCpuUtilization = 0: .*\n.*\[prod\] market-data: workload\.scaling\.targetRequestsPerSecond = -5: an average-value target must be a positive number/,
  },
  {
    rule: 'gpu-count',
    catalog: withEngine('ml-inference', (e) => ({ ...e, resources: { ...e.resources, gpu: { count: 0.5 as Count, mode: 'preferred' } } })),
    environment: PROD,
    expect: /\[prod\] ml-inference: resources\.gpu\.count = 0\.5: GPUs are whole devices/,
  },
  {
    rule: 'resource-amounts',
    catalog: withEngine('analytics', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.cores(0), memory: Memory.mebibytes(-512) } })),
    environment: STAGING,
    expect: /\[staging\] analytics: resources\.cpu = 0m?: must be more than zero \(environments scale it; they do not repair it\)[^]*\[staging\] analytics: resources\.memory = -512Mi/,
  },
  {
    rule: 'environment-scales',
    environment: { ...STAGING, resourceScale: -0.5 },
    expect: /\[staging\] environment: resourceScale = -0\.5: a scale factor must be a positive number/,
  },
  {
    rule: 'environment-scales',
    environment: { ...STAGING, resourceScale: { cpu: 0, memory: 0.5 } },
    expect: /\[staging\] environment: resourceScale\.cpu = 0: a scale factor must be a positive number/,
  },
  {
    rule: 'batch-schedule',
    catalog: withEngine('ml-training', (e) => batch(e, { schedule: '30 22 * *' as BatchWorkload['schedule'] })),
    environment: PROD,
    expect: /\[prod\] ml-training: workload\.schedule = "30 22 \* \*": not a schedule the API server accepts: has 4 fields.*Fix: write five fields/,
  },
  {
    // A CronJob's deadlines are whole seconds in Kubernetes; a Duration can hold a fraction.
    rule: 'batch-schedule',
    catalog: withEngine('ml-training', (e) => batch(e, { activeDeadline: Duration.millis(1500) })),
    environment: PROD,
    expect: /\[prod\] ml-training: workload\.activeDeadline = 1500ms: must be a whole number of seconds, at least 1s.*Fix: give the longest a run may take, e\.g\. Duration\.hours\(6\)/,
  },
  {
    rule: 'batch-schedule',
    catalog: withEngine('ml-training', (e) => batch(e, { startingDeadline: Duration.seconds(5) })),
    environment: PROD,
    expect: /\[prod\] ml-training: workload\.startingDeadline = 5s: must be a whole number of seconds, at least 10s \(the CronJob controller checks every 10 seconds.*Fix: give how late a run may start, e\.g\. Duration\.minutes\(30\)/,
  },
  {
    rule: 'health-endpoints',
    catalog: withEngine('backend', (e) => health(e, { readiness: 'health/ready' })),
    environment: PROD,
    expect: /\[prod\] backend: workload\.health\.readiness = "health\/ready": an HTTP probe path must start with "\/"/,
  },
  {
    rule: 'health-endpoints',
    catalog: withEngine('backend', (e) => health(e, { startupBudget: Duration.millis(30_500) })),
    environment: PROD,
    expect: /\[prod\] backend: workload\.health\.startupBudget = 30500ms: must be a whole number of seconds, at least 1s.*Fix: give how long the engine may take to start, e\.g\. Duration\.seconds\(30\)/,
  },
  {
    rule: 'node-network-cidr',
    environment: { ...PROD, nodeNetworkCidr: '10.30.0.0' as EnvironmentSpec['nodeNetworkCidr'] },
    expect: /\[prod\] environment: nodeNetworkCidr = "10\.30\.0\.0": not a CIDR block/,
  },
  {
    rule: 'image-registry',
    environment: { ...PROD, imageRegistry: 'registry.prod.nautilus.internal/nautilus/' as EnvironmentSpec['imageRegistry'] },
    expect: /\[prod\] environment: imageRegistry = "registry\.prod\.nautilus\.internal\/nautilus\/": not a registry images can be pulled from: ends with "\/"/,
  },
  {
    rule: 'store-images-pinned',
    environment: PROD,
    options: { stores: withStore('redis', { image: 'redis' }) },
    expect: /\[prod\] redis: image = "redis": not an image pinned to a version: has neither tag nor digest/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('strategy', (e) => canaryOverride(e, { steps: [{ percent: 25 }, { percent: 10 }] })),
    environment: PROD,
    expect: /\[prod\] strategy: release\.policy\.steps\[1\]\.percent = 10: steps must rise.*Fix: give more than 25, or remove the step/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('strategy', (e) => canaryOverride(e, { steps: [{ percent: 50 }, { percent: 100 }] })),
    environment: STAGING,
    expect: /\[staging\] strategy: release\.policy\.steps\[1\]\.percent = 100: .*goes to 100 % by itself.*Fix: give a whole number from 1 to 99/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('strategy', (e) => canaryOverride(e, { stepPause: Duration.seconds(0) })),
    environment: STAGING,
    expect: /\[staging\] strategy: release\.policy\.stepPause = 0s: .*never measured.*Fix: give a pause/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('market-data', (e) => canaryOverride(e, { analysis: { ...e.tier.release.kind === 'canary' ? e.tier.release.analysis : ({} as never), interval: Duration.seconds(30) } })),
    environment: PROD,
    expect: /\[prod\] market-data: release\.policy\.analysis\.interval = 30s: .*at least four scrapes \(the tier scrapes every 15s\).*Fix: give at least 1m/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('backend', (e) => ({ ...e, release: { reason: 'a short switch-back window', policy: { ...(e.tier.release as BlueGreenRelease), scaleDownDelay: Duration.minutes(3) } } })),
    environment: PROD,
    expect: /\[prod\] backend: release\.policy\.scaleDownDelay = 3m: the old colour would be gone before the measurements after the switch end \(6m\).*Fix: give more than 6m/,
  },
  {
    rule: 'release-policy',
    catalog: withEngine('frontend', (e) => ({ ...e, release: { reason: 'no measurements', policy: { ...(e.tier.release as BlueGreenRelease), measurements: 0 } } })),
    environment: STAGING,
    expect: /\[staging\] frontend: release\.policy\.measurements = 0: must be a whole number of at least 1: a switch nobody measures could not be switched back.*Fix: give the measurements/,
  },
  {
    rule: 'release-target',
    catalog: withEngine('ml-training', (e) => ({ ...e, release: { reason: 'try it', policy: { ...(Tier.HIGH_PERFORMANCE.release as CanaryRelease) } } })),
    environment: PROD,
    expect: /\[prod\] ml-training: release\.policy\.kind = canary: a batch engine runs Jobs that complete.*Fix: remove the override/,
  },
  {
    rule: 'release-target',
    catalog: withEngine('analytics', (e) => ({ ...e, release: { reason: ' ', policy: { kind: 'rolling' } } })),
    environment: PROD,
    expect: /\[prod\] analytics: release\.reason = "": an engine that does not release as its tier does must say why/,
  },
  {
    rule: 'release-canary-replicas',
    catalog: withEngine('risk-engine', (e) => canaryOverride(e, { steps: [{ onePod: true }, { percent: 50 }] })),
    environment: PROD,
    expect: /\[prod\] risk-engine: release\.policy\.steps\[1\] = 50 %: with 2 pods at rest the step before already runs 50 %.*Fix: remove the step/,
  },
  {
    rule: 'release-mesh',
    catalog: withEngine('strategy', (e) => canaryOverride(e, { traffic: 'mesh' })),
    environment: STAGING,
    expect: /\[staging\] strategy: release\.policy\.traffic = mesh: staging declares no service mesh.*Fix: declare the environment's mesh, or use traffic 'replicas'/,
  },
  {
    rule: 'release-mesh',
    catalog: withEngine('order-manager', (e) => canaryOverride(e, { traffic: 'mesh' })),
    environment: PROD,
    expect: /\[prod\] order-manager: release\.policy\.traffic = mesh: order-manager runs on the host network \(tier ultra-low-latency\), where the istio sidecar does not run.*Fix: use traffic 'replicas'/,
  },
  {
    rule: 'progressive-delivery',
    environment: { ...STAGING, progressiveDelivery: { attended: false, prometheusAddress: 'prometheus:9090' } },
    expect: /\[staging\] environment: progressiveDelivery\.prometheusAddress = "prometheus:9090": .*not an http\(s\) URL.*Fix: give the URL/,
  },
  {
    rule: 'store-data-format',
    environment: PROD,
    options: { stores: withStore('timescaledb', { image: 'timescale/timescaledb-ha:latest-pg16' }) },
    expect: /\[prod\] timescaledb: image = "timescale\/timescaledb-ha:latest-pg16": its tag does not name the server's version.*Fix: use the upstream version tag/,
  },
  {
    rule: 'third-party-images',
    environment: { ...PROD, requireImageDigests: true },
    expect: /\[prod\] timescaledb: image = "timescale\/timescaledb-ha:[^"]+": the environment requires third-party images pinned by digest.*Fix: append the upstream digest/,
  },
  {
    rule: 'third-party-images',
    environment: { ...PROD, requireImageDigests: true },
    expect: /\[prod\] redis-exporter: image = "oliver006\/redis_exporter:v1\.45\.0": the environment requires third-party images pinned by digest/,
  },
  {
    rule: 'storage-classes-exist',
    environment: { ...PROD, storageClassFor: { ...PROD.storageClassFor, fast: 'fats' } },
    expect: /\[prod\] environment: storageClassFor\.fast = "fats": no such storage class.*Fix: use one of fast, standard/,
  },
  {
    rule: 'engine-dockerfile-present',
    environment: PROD,
    options: { sources: new Map([...generatedSources()].map(([n, f]) => [n, n === 'websocket' ? {} : f])) },
    expect: /\[prod\] websocket: image = src\/engines\/websocket\/Dockerfile: the engine has no Dockerfile.*Fix: run the generator/,
  },
  {
    rule: 'generated-engine-files-current',
    catalog: withEngine('frontend', (e) => port(e, 3001)),
    environment: PROD,
    options: { sources: generatedSources() },
    expect: /\[prod\] frontend: engine\.json = src\/engines\/frontend\/engine\.json: out of step with the catalog.*Fix: run the generator/,
  },
  {
    rule: 'node-pool-shape',
    environment: withPool(PROD, 'gpu', { zones: [] }),
    expect: /\[prod\] node pool gpu: zones = \[\]: the pool is in no zone, so it has no node\. Fix: list the zones its nodes are in/,
  },
  {
    rule: 'node-pool-shape',
    environment: withPool(PROD, 'general', { nodesPerZone: 4.5 }),
    expect: /\[prod\] node pool general: nodesPerZone = 4\.5: must be a whole number of at least 0\. Fix: give the nodes each zone runs at rest/,
  },
  {
    rule: 'node-pool-shape',
    environment: withPool(PROD, 'latency', { instance: { ...PROD.nodePools[1].instance, hugepages2Mi: Memory.mebibytes(2047) } }),
    expect: /\[prod\] node pool latency: instance\.hugepages2Mi = 2047Mi: pre-allocated 2Mi hugepages are a whole number of 2Mi pages\. Fix: use a whole number of pages, e\.g\. 2046Mi/,
  },
  {
    rule: 'one-pool-per-role',
    environment: { ...PROD, nodePools: [...PROD.nodePools, { ...PROD.nodePools[2], name: 'gpu-large' }] },
    expect: /\[prod\] node pool gpu-large: role = "gpu": pool gpu already has this role; .*no pod would ever run here.*Fix: give gpu-large another role, or remove it and grow gpu/,
  },
  {
    rule: 'external-namespaces',
    environment: { ...PROD, externalAccess: { ...PROD.externalAccess, controller: { ...PROD.externalAccess.controller, namespace: 'nautilus-data' } } },
    expect: /\[prod\] environment: externalAccess.controller.namespace = "nautilus-data": one of the platform's own namespaces: .*edge controller.*Fix: name the namespace the edge controller runs in/,
  },
  {
    rule: 'public-routes',
    catalog: withEngine('analytics', (e) => ({ ...e, publicRoute: { host: 'reports', pathPrefix: '/' } })),
    environment: PROD,
    expect: /\[prod\] analytics: publicRoute\.host = "reports": analytics is in the compute tier: only the edge tier's engines are reached from outside.*Fix: remove publicRoute, or move the engine to Tier\.EDGE/,
  },
  {
    rule: 'public-routes',
    catalog: withEngine('ml-training', (e) => ({ ...e, tier: Tier.EDGE, publicRoute: { host: 'train', pathPrefix: '/' } })),
    environment: PROD,
    expect: /\[prod\] ml-training: publicRoute\.host = "train": ml-training is a batch engine: it has no port and no Service to route to\. Fix: remove publicRoute/,
  },
  {
    rule: 'public-routes',
    catalog: withEngine('backend', (e) => ({ ...e, publicRoute: { host: 'App_1', pathPrefix: 'api/' } })),
    environment: PROD,
    expect: /\[prod\] backend: publicRoute\.host = "App_1": not a DNS label.*Fix: give the first label of the hostname/,
  },
  {
    rule: 'public-routes',
    catalog: withEngine('backend', (e) => ({ ...e, publicRoute: { host: 'app', pathPrefix: 'api/' } })),
    environment: PROD,
    expect: /\[prod\] backend: publicRoute\.pathPrefix = "api\/": must start with "\/"\. Fix: give a prefix such as "\/api"/,
  },
  {
    rule: 'route-collisions',
    catalog: withEngine('backend', (e) => ({ ...e, publicRoute: { host: 'app', pathPrefix: '/' } })),
    environment: PROD,
    expect: /\[prod\] frontend: publicRoute = app\.nautilus\.example\.com\/: backend already claims this host and path prefix.*Fix: give frontend another host or path prefix/,
  },
  {
    rule: 'external-access',
    environment: { ...PROD, externalAccess: { ...PROD.externalAccess, domain: 'Nautilus..example.com' } },
    expect: /\[prod\] environment: externalAccess\.domain = "Nautilus\.\.example\.com": not a DNS name.*Fix: give the domain the public hosts are under/,
  },
  {
    rule: 'external-access',
    environment: { ...PROD, externalAccess: { ...PROD.externalAccess, issuer: { kind: 'private-ca' } } },
    expect: /\[prod\] environment: externalAccess\.issuer\.kind = "private-ca": clients' browsers do not trust an environment's private root.*Fix: use \{ kind: "acme", \.\.\. \}/,
  },
  {
    rule: 'external-access',
    environment: { ...STAGING, externalAccess: { ...STAGING.externalAccess, issuer: { kind: 'acme', server: 'http://acme.example/directory', email: 'nobody' } } },
    expect: /\[staging\] environment: externalAccess\.issuer\.server = "http:\/\/acme\.example\/directory": not an https URL/,
  },
  {
    rule: 'external-access',
    environment: { ...PROD, externalAccess: { ...PROD.externalAccess, api: 'gateway' } },
    expect: /\[prod\] environment: externalAccess\.api = "gateway": ingress-nginx serves Ingresses only, not the Gateway API\. Fix: use api "ingress" with ingress-nginx/,
  },
  {
    rule: 'secret-manager',
    environment: { ...PROD, secrets: { ...(PROD.secrets as VaultSecrets), paths: { 'timescaledb-replication': 'timescaledb-superuser' } } },
    expect: /\[prod\] environment: secrets\.paths\.timescaledb-superuser = "timescaledb-superuser": timescaledb-replication is kept at the same path: both Secrets would be synced from one entry.*Fix: give timescaledb-superuser a path of its own/,
  },
  {
    rule: 'secret-manager',
    environment: { ...PROD, secrets: { ...(PROD.secrets as VaultSecrets), paths: { 'timescale-credentials': 'db/app' } } },
    expect: /\[prod\] environment: secrets\.paths\.timescale-credentials = "db\/app": no workload here reads a Secret named timescale-credentials.*Fix: name one of/,
  },
  {
    rule: 'secret-manager',
    environment: { ...PROD, secrets: { ...(PROD.secrets as VaultSecrets), server: 'vault.internal', pathPrefix: '/nautilus/prod/', refreshInterval: Duration.seconds(5) } },
    expect: /\[prod\] environment: secrets\.server = "vault\.internal": not a Vault address/,
  },
  {
    rule: 'node-reservation',
    environment: withPool(PROD, 'latency', { reserved: { ...PROD.nodePools[1].reserved, cpu: Cpu.millis(110) } }),
    expect: /\[prod\] node pool latency: reserved\.cpu = 110m: the pool pins cores: the static CPU manager needs its reservation as whole CPUs.*Fix: reserve whole CPUs, e\.g\. Cpu\.cores\(1\)/,
  },
  {
    rule: 'node-reservation',
    environment: withPool(PROD, 'storage', { reserved: { ...PROD.nodePools[3].reserved, memory: Memory.gibibytes(16) } }),
    expect: /\[prod\] node pool storage: reserved\.memory = 16484Mi \(with the eviction threshold\) of 16Gi: the reservation takes the whole node.*Fix: reserve less/,
  },
  {
    rule: 'pods-fit-a-node',
    catalog: withEngine('factor', (e) => ({ ...e, resources: { ...e.resources, memory: Memory.gibibytes(40) } })),
    environment: PROD,
    expect: /\[prod\] factor: resources\.memory = 40Gi per pod \(every container, as planned in prod\): the pod can never be scheduled: each node of pool general offers pods 31203Mi of memory \(32Gi less 1565Mi reserved for the kubelet, system and eviction threshold\).*Fix: lower factor's memory/,
  },
  {
    // Fits the node's 32Gi capacity, not its allocatable: the reservation is what refuses it.
    rule: 'pods-fit-a-node',
    catalog: withEngine('factor', (e) => ({ ...e, resources: { ...e.resources, memory: Memory.gibibytes(31) } })),
    environment: PROD,
    expect: /\[prod\] factor: resources\.memory = 31Gi per pod .*offers pods 31203Mi of memory/,
  },
  {
    // The GPU nodes' 16 CPUs less the kubelet's 110m and the device plugin's 50m.
    rule: 'pods-fit-a-node',
    catalog: withEngine('ml-inference', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.millis(15900) } })),
    environment: PROD,
    expect: /\[prod\] ml-inference: resources\.cpu = 15900m per pod .*offers pods 15840m CPU \(16 less 110m reserved for the kubelet and system and 50m for the nvidia-device-plugin DaemonSet\)/,
  },
  {
    rule: 'node-pool-capacity',
    // 20 nodes of 8 CPU would hold the 159 CPU at the autoscaling maximum; their allocatable does not.
    environment: withPool(PROD, 'general', { maxNodes: 20 }),
    expect: /\[prod\] node pool general: maxNodes = 20 nodes of 8 CPU, 32Gi: the NodePool's limits are too small \(counting each node's allocatable, not its capacity\): at their autoscaling maximum its pods need 159 CPU where 158200m is available/,
  },
  {
    rule: 'pods-pack-onto-nodes-at-rest',
    environment: withPool(PROD, 'general', { nodesPerZone: 2 }),
    expect: /\[prod\] node pool general: nodesPerZone = 2 \(6 nodes at rest, each offering 7910m CPU .*\): the pods at rest do not fit onto the nodes at rest: \S+ found no node for replica \d of \d.*Fix: raise nodesPerZone/,
  },
  {
    // 8-CPU latency nodes: 24 CPUs of capacity would hold the 21.3 the pods ask, but 2 of each 8 are reserved.
    rule: 'pods-pack-onto-nodes-at-rest',
    environment: withPool(PROD, 'latency', { instance: { ...PROD.nodePools[1].instance, cpu: Cpu.cores(8) } }),
    expect: /\[prod\] node pool latency: nodesPerZone = 1 \(3 nodes at rest, each offering 6 CPU \(8 less 2 reserved for the kubelet and system\) .*2Gi of hugepages\)\): the pods at rest do not fit .*one per node for its host port.*Fix: raise nodesPerZone/,
  },
  {
    rule: 'zone-loss-survivable',
    environment: withPool(PROD, 'general', { nodesPerZone: 3 }),
    expect: /\[prod\] node pool general: zones = 3 zones × 3 nodes: the environment must survive a zone loss and after losing eu-west-1a the 6 nodes left cannot hold the pool's pods at rest: \S+ needs \d+ pod\(s\) moved there and the scheduler finds a node for \d+ .*Fix: raise nodesPerZone/,
  },
  {
    // Four per zone: 63 allocatable CPUs left for 49.5 requested, but the scheduler's spreading leaves no node room for a 3-CPU, 12Gi pod.
    rule: 'zone-loss-survivable',
    environment: withPool(PROD, 'general', { nodesPerZone: 4 }),
    expect: /\[prod\] node pool general: zones = 3 zones × 4 nodes: .*after losing eu-west-1a the 8 nodes left cannot hold the pool's pods at rest: (factor|portfolio) needs 1 pod\(s\) moved there and the scheduler finds a node for 0/,
  },
  {
    rule: 'stores-survive-zone-loss',
    environment: { ...PROD, timescaledb: { ...PROD.timescaledb, members: 2 } },
    expect: /\[prod\] timescaledb: timescaledb\.members = 2 member\(s\) over the 3 zone\(s\) of pool storage: .*leaves 1, a primary with no replica to confirm commits.*Fix: run at least 3 members over 3 zones, or set synchronousReplication to false/,
  },
  {
    rule: 'stores-survive-zone-loss',
    environment: { ...PROD, redis: { members: 1 } },
    expect: /\[prod\] redis: redis\.members = 1 member\(s\) over the 3 zone\(s\) of pool latency: .*leaves no member at all.*Fix: run a member per zone \(3/,
  },
  {
    rule: 'redis-members',
    environment: { ...PROD, redis: { members: 3 } },
    expect: /\[prod\] redis: redis\.sentinel = undefined: 3 members without Sentinel.*Fix: add sentinel settings/,
  },
  {
    rule: 'redis-sentinel-quorum',
    environment: { ...PROD, redis: { members: 3, sentinel: { ...PROD.redis.sentinel!, quorum: 4 } } },
    expect: /\[prod\] redis: redis\.sentinel\.quorum = 4: must be between 1 and the number of Sentinels \(3, one per member\)\. Fix: set quorum to 2/,
  },
  {
    rule: 'redis-sentinel-quorum',
    environment: { ...PROD, redis: { members: 4, sentinel: PROD.redis.sentinel } },
    expect: /\[prod\] redis: redis\.members = 4: an even number of Sentinels.*Fix: use 5 members \(or 3\)/,
  },
  {
    rule: 'redis-sentinel-quorum',
    environment: { ...PROD, redis: { members: 3, sentinel: { ...PROD.redis.sentinel!, downAfter: Duration.millis(1500.5) } } },
    expect: /\[prod\] redis: redis\.sentinel\.downAfter = 1500\.5ms: Sentinel reads whole milliseconds.*Fix: use Duration\.millis\(1501\)/,
  },
  {
    // No node at rest: the pods at rest have nowhere to go.
    rule: 'pods-pack-onto-nodes-at-rest',
    environment: withPool(PROD, 'storage', { nodesPerZone: 0 }),
    expect: /\[prod\] node pool storage: nodesPerZone = 0 \(0 nodes at rest, .*timescaledb found no node for replica 1 of 3/,
  },
  {
    rule: 'redis-survives-zone-loss',
    environment: { ...STAGING, nodePools: STAGING.nodePools.map((p) => (p.role === 'latency' ? { ...p, zones: ['eu-west-1a', 'eu-west-1b'] } : p)) },
    expect: /\[staging\] redis: redis\.members = 3: the latency pool .* spans 2 zone\(s\); losing the fullest zone leaves 1 of 3 Sentinels.*Fix: give the latency pool at least 3 zones/,
  },
  {
    rule: 'redis-survives-zone-loss',
    environment: { ...PROD, redis: { members: 3, sentinel: { ...PROD.redis.sentinel!, quorum: 3 } } },
    expect: /\[prod\] redis: redis\.sentinel\.quorum = 3 \(3 members over 3 zone\(s\)\): losing the fullest zone leaves 2 Sentinels, fewer than the quorum.*Fix: set quorum to 2/,
  },
];

describe('validation', () => {
  test('the platform as shipped is valid in every environment', () => {
    expect(() => validatePlatform(PLATFORM_ENGINES, STORES, [DEV, STAGING, PROD])).not.toThrow();
  });

  test.each(cases.map((c) => [c.rule, c] as const))('%s: fails with environment, engine, field, value and fix', (_rule, c) => {
    const error = problemsOf(c.catalog ?? PLATFORM_ENGINES, c.environments ?? [c.environment], c.options);
    expect(error.message).toMatch(c.expect);
    expect(rulesMatching(error, c.expect)).toEqual([c.rule]);
    for (const problem of error.problems) {
      for (const part of [problem.environment, problem.subject, problem.field, problem.value, problem.fix]) expect(part.length).toBeGreaterThan(0);
    }
  });

  test('every rule has a failing case', () => {
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(VALIDATION_RULES.map((r) => r.name)));
  });

  test('the platform as shipped is valid with its generated files in step', () => {
    expect(() => validatePlatform(PLATFORM_ENGINES, STORES, [DEV, STAGING, PROD], { sources: generatedSources() })).not.toThrow();
  });

  test('one mistake is one entry listing every environment it affects', () => {
    const error = problemsOf(withEngine('frontend', (e) => port(e, 0)), [DEV, STAGING, PROD]);
    expect(error.problems).toHaveLength(3);
    expect(error.entries).toHaveLength(1);
    expect(error.entries[0].environments).toEqual(['dev', 'staging', 'prod']);
    expect(error.message).toMatch(/^1 configuration problem; nothing was written:\n {2}- \[dev, staging, prod\] frontend: workload\.port = 0: /);
  });

  test('the Dockerfile and generator checks report with every other problem, in one pass', () => {
    const sources = new Map([...generatedSources()].map(([n, f]) => [n, n === 'backend' ? {} : f]));
    const error = problemsOf(withEngine('frontend', (e) => port(e, 0)), [PROD], { sources });
    expect(error.entries.map((p) => `${p.subject} ${p.field}`)).toEqual(expect.arrayContaining([
      'frontend workload.port', 'backend image', 'frontend engine.json', 'frontend Dockerfile',
    ]));
  });

  test('all problems are reported at once', () => {
    const catalog = withEngine('frontend', (e) => port(e, 0)).map((e) => (e.name === 'features' ? scaling(e, { minReplicas: 3, maxReplicas: 2 }) : e));
    expect(problemsOf(catalog, [PROD]).problems.map((p) => p.subject).sort()).toEqual(['features', 'frontend']);
  });
});
