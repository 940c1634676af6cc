import { DataStoreSpec, REDIS_EXPORTER } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { DEVICE_PLUGIN_IMAGE, DEVICE_PLUGIN_NAME } from '../catalog/third-party';
import { EnvironmentSpec, NodePoolSpec, poolForRole } from '../environments/environment';
import { nodeAllocatable } from '../environments/node-allocatable';
import { EngineSourceFiles } from '../images/engine-sources';
import { ENGINES_DIR, renderEngineFiles } from '../images/engine-files';
import {
  cidrProblem, cronScheduleProblem, dnsSubdomainProblem, hasDigest, imageRegistryProblem, imageVersion, labelValueProblem,
  pinnedImageProblem, portProblem, wholeNumberProblem,
} from '../model/domains';
import { ConfigurationError, ConfigurationProblem } from '../model/errors';
import { dnsLabelProblem } from '../model/kubernetes-names';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../planning/namespaces';
import { Cpu, Memory } from '../model/quantities';
import {
  PackingGroup, PackingNode, PodDemand, ScheduledNode, nodeDaemonSets, nodeRoom, packPods, podDemands as planPodDemands, podRoom, scheduleReplicas, shortfall, sumRooms, timesRoom,
} from '../planning/capacity';
import { enabledEngines, environmentPinsCores, isBatch, isService, majorityOf, planDataStore, planEngine } from '../planning/plan';

/** What a rule is given: the whole catalog, the data stores and one environment (and all of them, for collisions). */
interface RuleInput {
  readonly catalog: readonly EngineSpec[];
  readonly stores: readonly DataStoreSpec[];
  readonly environment: EnvironmentSpec;
  readonly environments: readonly EnvironmentSpec[];
  /** The committed generated files of each engine, where the caller read them (synthesis does). */
  readonly sources?: ReadonlyMap<string, EngineSourceFiles>;
}

/** A validation rule: a name (for docs and tests) and a check that reports problems. */
interface ValidationRule {
  readonly name: string;
  readonly check: (input: RuleInput) => ConfigurationProblem[];
}

type Report = Omit<ConfigurationProblem, 'environment'>;

function forEachEngine(input: RuleInput, check: (engine: EngineSpec) => Report[]): ConfigurationProblem[] {
  return enabledEngines(input.catalog, input.environment).flatMap((engine) =>
    check(engine).map((r) => ({ environment: input.environment.name, ...r })),
  );
}

/** Fix text for the generator. */
const RUN_GENERATOR = 'run the generator (npx ts-node scripts/generate-engines.ts) and commit what it writes';

/** Ports a host-network pod can never bind: the kubelet's, kube-proxy's and the control plane's, and the NodePort range kube-proxy holds on every node. */
const NODE_RESERVED_PORTS: ReadonlyArray<{ readonly from: number; readonly to: number; readonly owner: string }> = [
  { from: 2379, to: 2380, owner: 'etcd' },
  { from: 6443, to: 6443, owner: 'the API server' },
  { from: 9100, to: 9100, owner: 'the node exporter' },
  { from: 10248, to: 10248, owner: 'the kubelet (healthz)' },
  { from: 10249, to: 10249, owner: 'kube-proxy (metrics)' },
  { from: 10250, to: 10250, owner: 'the kubelet' },
  { from: 10255, to: 10255, owner: 'the kubelet (read-only port)' },
  { from: 10256, to: 10256, owner: 'kube-proxy (healthz)' },
  { from: 10257, to: 10257, owner: 'the controller manager' },
  { from: 10259, to: 10259, owner: 'the scheduler' },
  { from: 30000, to: 32767, owner: 'kube-proxy (the NodePort range)' },
];

/** The longest CronJob name: the controller appends an 11-character suffix to name its Jobs, which must stay within 63. */
const CRONJOB_NAME_MAX_LENGTH = 52;

/** Objects a data store creates besides those named like the store itself. */
const STORE_DERIVED_NAMES = ['headless', 'config'];

function podDemands({ catalog, stores, environment }: RuleInput): PodDemand[] {
  return planPodDemands(catalog, stores, environment);
}

/**
 * The workloads whose pods fit one node of their pool: the packing rules look only at these, as
 * a pod too large for any node is pods-fit-a-node's report (one mistake, one entry).
 */
function packableDemands(input: RuleInput): PodDemand[] {
  return podDemands(input).filter((d) => !d.batch && d.pool !== undefined && shortfall(podRoom(d), nodeRoom(input.environment, d.pool)) === undefined);
}

/** Whether the pods of `pool` at rest pack onto its nodes at rest; the first workload that does not, if not. */
function packAtRest(environment: EnvironmentSpec, pool: NodePoolSpec, onPool: readonly PodDemand[]): ReturnType<typeof packPods> {
  const groups: PackingGroup[] = onPool.map((d) => ({ subject: d.subject, pod: podRoom(d), replicas: d.replicas, onePerNode: d.hostNetwork }));
  return packPods(poolNodes(environment, pool, pool.zones), groups);
}

/** How a node of `pool` arrives at the room it leaves pods, for messages: "7910m CPU (8 less 90m reserved)". */
function roomExplained(environment: EnvironmentSpec, pool: NodePoolSpec, resource: 'cpu' | 'memory'): string {
  const room = nodeRoom(environment, pool);
  const daemons = nodeDaemonSets(environment, pool);
  if (resource === 'cpu') {
    const parts = [`${pool.reserved.cpu} reserved for the kubelet and system`, ...daemons.map((d) => `${d.cpu} for the ${d.name} DaemonSet`)];
    return `${Cpu.millis(Math.max(0, room.cpu))} CPU (${pool.instance.cpu} less ${parts.join(' and ')})`;
  }
  const hugepages = pool.instance.hugepages2Mi?.mebibytes ?? 0;
  const parts = [
    `${Memory.mebibytes(pool.reserved.memory.mebibytes + pool.reserved.evictionThreshold.mebibytes)} reserved for the kubelet, system and eviction threshold`,
    ...(hugepages > 0 ? [`${Memory.mebibytes(hugepages)} of hugepages`] : []),
    ...daemons.map((d) => `${d.memory} for the ${d.name} DaemonSet`),
  ];
  return `${Memory.mebibytes(Math.max(0, room.memory))} of memory (${pool.instance.memory} less ${parts.join(', ')})`;
}

/** The at-rest nodes of `pool` in `zones`, each with the room it leaves pods. */
function poolNodes(environment: EnvironmentSpec, pool: NodePoolSpec, zones: readonly string[]): PackingNode[] {
  const room = nodeRoom(environment, pool);
  return zones.flatMap((zone) => Array.from({ length: pool.nodesPerZone }, () => ({ zone, room })));
}

/**
 * Every rule synthesis enforces, in the order problems are reported. Each has a failing-case test
 * in test/validation.test.ts.
 */
export const VALIDATION_RULES: readonly ValidationRule[] = [
  {
    name: 'kubernetes-names',
    check: ({ catalog, environment }) => {
      const problems: ConfigurationProblem[] = [];
      const named: Array<[string, string, string]> = [
        ['environment', 'name', environment.name],
        ...catalog.map((e): [string, string, string] => [e.name, 'name', e.name]),
        ...environment.nodePools.map((p): [string, string, string] => [`node pool ${p.name}`, 'name', p.name]),
        ['environment', 'ingressNamespace', environment.ingressNamespace],
        ['environment', 'monitoringNamespace', environment.monitoringNamespace],
      ];
      for (const [subject, field, name] of named) {
        const problem = dnsLabelProblem(name);
        if (problem) {
          problems.push({
            environment: environment.name, subject, field, value: JSON.stringify(name),
            problem: `not a valid Kubernetes name: ${problem}`,
            fix: 'use lower-case letters, digits and "-" (at most 63 characters), e.g. "risk-engine"',
          });
        }
      }
      return problems;
    },
  },
  {
    name: 'duplicate-engine-names',
    check: ({ catalog, environment }) => {
      const seen = new Set<string>();
      const problems: ConfigurationProblem[] = [];
      for (const engine of catalog) {
        if (seen.has(engine.name)) {
          problems.push({
            environment: environment.name, subject: engine.name, field: 'name', value: JSON.stringify(engine.name),
            problem: 'two catalog entries have this name; workloads and Services would overwrite each other',
            fix: 'rename one of the entries or remove the duplicate',
          });
        }
        seen.add(engine.name);
      }
      return problems;
    },
  },
  {
    name: 'disabled-engines-exist',
    check: ({ catalog, environment }) =>
      environment.disabledEngines
        .filter((d) => !catalog.some((e) => e.name === d.name))
        .map((d) => ({
          environment: environment.name, subject: 'environment', field: 'disabledEngines', value: JSON.stringify(d.name),
          problem: 'no engine of that name in the catalog',
          fix: `remove it from disabledEngines or correct the name (engines: ${catalog.map((e) => e.name).join(', ')})`,
        })),
  },
  {
    name: 'port-range',
    check: (input) =>
      forEachEngine(input, (engine) =>
        isService(engine) && portProblem(engine.workload.port)
          ? [{
            subject: engine.name, field: 'workload.port', value: String(engine.workload.port),
            problem: portProblem(engine.workload.port)!, fix: 'give the port the engine listens on, e.g. 8080',
          }]
          : []),
  },
  {
    name: 'host-network-port-conflicts',
    check: (input) => {
      const byPort = new Map<number, string>();
      return forEachEngine(input, (engine) => {
        if (!engine.tier.hostNetwork || !isService(engine)) return [];
        const owner = byPort.get(engine.workload.port);
        byPort.set(engine.workload.port, owner ?? engine.name);
        return owner
          ? [{
            subject: engine.name, field: 'workload.port', value: String(engine.workload.port),
            problem: `${owner} already uses this port; both run on the host network, so they could never share a node`,
            fix: `give ${engine.name} a port no other ${engine.tier.name} engine uses`,
          }]
          : [];
      });
    },
  },
  {
    name: 'dependencies-exist',
    check: (input) => {
      const deployed = new Set(enabledEngines(input.catalog, input.environment).map((e) => e.name));
      const known = new Set(input.catalog.map((e) => e.name));
      return forEachEngine(input, (engine) => [
        ...engine.dependencies.engines
          .filter((d) => !deployed.has(d))
          .map((d) => ({
            subject: engine.name, field: 'dependencies.engines', value: JSON.stringify(d),
            problem: known.has(d) ? `${d} is disabled in this environment` : 'no engine of that name in the catalog',
            fix: known.has(d)
              ? `enable ${d} in ${input.environment.name} or disable ${engine.name} too`
              : `correct the name or add ${d} to the catalog (engines: ${[...known].join(', ')})`,
          })),
        ...engine.dependencies.stores
          .filter((s) => !input.stores.some((store) => store.name === s))
          .map((s) => ({
            subject: engine.name, field: 'dependencies.stores', value: JSON.stringify(s),
            problem: 'no data store of that name',
            fix: `use one of: ${input.stores.map((store) => store.name).join(', ')}`,
          })),
        ...engine.dependencies.engines
          .filter((d) => d === engine.name)
          .map((d) => ({
            subject: engine.name, field: 'dependencies.engines', value: JSON.stringify(d),
            problem: 'an engine cannot depend on itself', fix: 'remove it from its own dependencies',
          })),
      ]);
    },
  },
  {
    name: 'pinned-cpu-whole',
    check: (input) =>
      environmentPinsCores(input.environment)
        ? forEachEngine(input, (engine) =>
          engine.tier.pinned && !engine.resources.cpu.isWholeCores
            ? [{
              subject: engine.name, field: 'resources.cpu', value: engine.resources.cpu.toQuantity(),
              problem: `the ${engine.tier.name} tier pins cores in this environment, and only whole CPUs can be pinned (a fraction is shared, not exclusive)`,
              fix: `round the CPU up to Cpu.cores(${Math.ceil(engine.resources.cpu.millicores / 1000)})`,
            }]
            : [])
        : [],
  },
  {
    name: 'gpu-pool-present',
    check: (input) =>
      poolForRole(input.environment, 'gpu')
        ? []
        : forEachEngine(input, (engine) =>
          engine.resources.gpu?.mode === 'required'
            ? [{
              subject: engine.name, field: 'resources.gpu', value: `{ count: ${engine.resources.gpu.count}, mode: 'required' }`,
              problem: 'the engine requires a GPU and this environment has no GPU node pool',
              fix: `add a node pool with role 'gpu' to ${input.environment.name}, or add ${engine.name} to its disabledEngines`,
            }]
            : []),
  },
  {
    name: 'replica-bounds',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!isService(engine)) return [];
        const { minReplicas, maxReplicas } = engine.workload.scaling;
        const reports: Report[] = [];
        if (!Number.isInteger(minReplicas) || minReplicas < 1) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.minReplicas', value: String(minReplicas),
            problem: 'must be a whole number of at least 1', fix: 'set minReplicas to 1 or more',
          });
        }
        if (maxReplicas < minReplicas) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.maxReplicas', value: `${maxReplicas} (minReplicas ${minReplicas})`,
            problem: 'the autoscaler maximum is below its minimum',
            fix: `set maxReplicas to at least ${minReplicas}, or lower minReplicas`,
          });
        }
        return reports;
      }),
  },
  {
    name: 'disruption-budget-allows-drain',
    check: (input) =>
      forEachEngine(input, (engine) => {
        const maxUnavailable = isService(engine) ? engine.workload.scaling.maxUnavailable : undefined;
        return maxUnavailable !== undefined && !(Number.isInteger(maxUnavailable) && maxUnavailable >= 1)
          ? [{
            subject: engine.name, field: 'workload.scaling.maxUnavailable', value: String(maxUnavailable),
            problem: 'a PodDisruptionBudget allowing no pod to be unavailable blocks every node drain and upgrade',
            fix: 'set maxUnavailable to 1 (or more), or leave it unset',
          }]
          : [];
      }),
  },
  {
    name: 'memory-limit-not-below-request',
    check: (input) =>
      forEachEngine(input, (engine) =>
        engine.resources.memoryLimit && engine.resources.memoryLimit.mebibytes < engine.resources.memory.mebibytes
          ? [{
            subject: engine.name, field: 'resources.memoryLimit',
            value: `${engine.resources.memoryLimit.toQuantity()} (request ${engine.resources.memory.toQuantity()})`,
            problem: 'the memory limit is below the request; the API server rejects such a pod',
            fix: `raise memoryLimit to at least ${engine.resources.memory.toQuantity()} or remove it`,
          }]
          : []),
  },
  {
    name: 'host-network-replicas-fit-pool',
    check: (input) => {
      const pool = poolForRole(input.environment, 'latency');
      if (!pool) return [];
      const nodes = pool.zones.length * pool.nodesPerZone;
      return forEachEngine(input, (engine) => {
        if (!engine.tier.hostNetwork || !isService(engine)) return [];
        const replicas = planEngine(engine, input.environment).replicas;
        return replicas > nodes
          ? [{
            subject: engine.name, field: 'workload.scaling.minReplicas', value: String(replicas),
            problem: `host-network pods need one node each and the ${pool.name} pool has ${nodes}`,
            fix: `lower the replicas to ${nodes} or grow the ${pool.name} pool (nodesPerZone)`,
          }]
          : [];
      });
    },
  },
  {
    name: 'redis-members',
    check: ({ environment }) => {
      const { members, sentinel } = environment.redis;
      const report = (field: string, value: string, problem: string, fix: string): ConfigurationProblem =>
        ({ environment: environment.name, subject: 'redis', field: `redis.${field}`, value, problem, fix });
      if (!Number.isInteger(members) || members < 1) {
        return [report('members', String(members), 'must be a whole number of at least 1', 'set members to 1 (a single server) or 3 (one primary, two replicas)')];
      }
      if (members > 1 && !sentinel) {
        return [report('sentinel', 'undefined', `${members} members without Sentinel: nothing would promote a replica when the primary is lost`,
          'add sentinel settings (quorum, downAfterMilliseconds, failoverTimeoutMilliseconds, parallelSyncs), or set members to 1')];
      }
      if (members === 1 && sentinel) {
        return [report('sentinel', `{ quorum: ${sentinel.quorum} }`, 'a single member has no replica to fail over to, so Sentinel would do nothing',
          'remove the sentinel settings, or set members to 3')];
      }
      return [];
    },
  },
  {
    name: 'redis-sentinel-quorum',
    check: ({ environment }) => {
      const { members, sentinel } = environment.redis;
      if (!sentinel || members < 2) return [];
      const report = (field: string, value: string, problem: string, fix: string): ConfigurationProblem =>
        ({ environment: environment.name, subject: 'redis', field: `redis.${field}`, value, problem, fix });
      const problems: ConfigurationProblem[] = [];
      const majority = majorityOf(members);
      if (!Number.isInteger(sentinel.quorum) || sentinel.quorum < 1 || sentinel.quorum > members) {
        problems.push(report('sentinel.quorum', String(sentinel.quorum), `must be between 1 and the number of Sentinels (${members}, one per member)`,
          `set quorum to ${majority} (a majority of ${members})`));
      }
      if (members % 2 === 0) {
        problems.push(report('members', String(members),
          'an even number of Sentinels (one per member): a partition into two halves leaves neither side the majority a failover needs',
          `use ${members + 1} members (or ${members - 1})`));
      }
      for (const field of ['downAfterMilliseconds', 'failoverTimeoutMilliseconds'] as const) {
        if (!Number.isInteger(sentinel[field])) {
          problems.push(report(`sentinel.${field}`, String(sentinel[field]), 'Sentinel reads whole milliseconds: a fraction is cut off without a word', `use ${Math.round(sentinel[field])}`));
        }
      }
      if (!(sentinel.downAfterMilliseconds >= 100)) {
        problems.push(report('sentinel.downAfterMilliseconds', String(sentinel.downAfterMilliseconds), 'too short: a busy but healthy primary would be failed over',
          'use at least 100 ms; 2000 is a sound default'));
      }
      if (!(sentinel.failoverTimeoutMilliseconds > sentinel.downAfterMilliseconds)) {
        problems.push(report('sentinel.failoverTimeoutMilliseconds', String(sentinel.failoverTimeoutMilliseconds),
          `must exceed downAfterMilliseconds (${sentinel.downAfterMilliseconds}): a failover would be abandoned before the primary is even declared down`,
          `use several times downAfterMilliseconds, e.g. ${sentinel.downAfterMilliseconds * 5}`));
      }
      if (!Number.isInteger(sentinel.parallelSyncs) || sentinel.parallelSyncs < 1 || sentinel.parallelSyncs > members - 1) {
        problems.push(report('sentinel.parallelSyncs', String(sentinel.parallelSyncs), `must be between 1 and the number of replicas (${members - 1})`,
          'use 1: the other replicas keep serving while one resynchronises'));
      }
      return problems;
    },
  },
  {
    name: 'redis-survives-zone-loss',
    check: ({ environment, stores }) => {
      const { members, sentinel } = environment.redis;
      if (!sentinel || members < 2) return [];
      const redis = stores.find((store) => store.name === 'redis');
      if (!redis) return [];
      const plan = planDataStore(redis, environment);
      const zones = plan.zones.length;
      // Spread with maxSkew 1: the fullest zone holds ceil(members / zones).
      const left = members - Math.ceil(members / Math.max(1, zones));
      if (left > members / 2) {
        // A majority can elect a leader, but the primary is only declared down once `quorum` Sentinels agree.
        return left >= sentinel.quorum ? [] : [{
          environment: environment.name, subject: 'redis', field: 'redis.sentinel.quorum', value: `${sentinel.quorum} (${members} members over ${zones} zone(s))`,
          problem: `losing the fullest zone leaves ${left} Sentinels, fewer than the quorum that must agree the primary is down: a primary lost with that zone would never be failed over`,
          fix: `set quorum to ${majorityOf(members)} (a majority of ${members}) or at most ${left}`,
        }];
      }
      return [{
        environment: environment.name, subject: 'redis', field: 'redis.members', value: String(members),
        problem: `the ${plan.pool?.name ?? 'cluster'} pool the members run on spans ${zones} zone(s); losing the fullest zone leaves ${left} of ${members} Sentinels, not the majority a failover needs`,
        fix: `give the ${plan.pool?.name ?? 'cluster'} pool at least ${members} zones, or change members`,
      }];
    },
  },
  {
    name: 'timescaledb-replication',
    check: ({ environment, stores }) => {
      const { members, synchronousReplication } = environment.timescaledb;
      const report = (field: string, value: string, problem: string, fix: string): ConfigurationProblem =>
        ({ environment: environment.name, subject: 'timescaledb', field: `timescaledb.${field}`, value, problem, fix });
      const problems: ConfigurationProblem[] = [];
      if (!Number.isInteger(members) || members < 1) {
        problems.push(report('members', String(members), 'must be a whole number of at least 1', 'set members to 1 (no failover) or 3 (one per zone)'));
        return problems;
      }
      if (synchronousReplication && members < 2) {
        problems.push(report('synchronousReplication', `true (members ${members})`,
          'synchronous replication needs a replica to confirm each commit, and a single member has none',
          'set members to 2 or more, or synchronousReplication to false'));
      }
      const timescaledb = stores.find((store) => store.name === 'timescaledb');
      const plan = timescaledb ? planDataStore(timescaledb, environment) : undefined;
      const zones = plan?.zones.length ?? environment.zones.length;
      if (members > 1 && zones < 2) {
        problems.push(report('members', String(members),
          `the ${(plan?.pool ?? poolForRole(environment, 'general'))?.name ?? 'cluster'} pool the members run on spans ${zones} zone, so losing it loses every member`,
          'give the storage pool nodes in a second zone, or run 1 member'));
      }
      return problems;
    },
  },
  {
    name: 'timescaledb-backup',
    check: ({ environment }) => {
      const { backup } = environment.timescaledb;
      if (backup.kind !== 'object-store') return [];
      const report = (field: string, value: string, problem: string, fix: string): ConfigurationProblem =>
        ({ environment: environment.name, subject: 'timescaledb', field: `timescaledb.backup.${field}`, value, problem, fix });
      const problems: ConfigurationProblem[] = [];
      // S3's bucket naming rules (virtual-host style addressing needs them).
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(backup.bucket) || backup.bucket.includes('..')) {
        problems.push(report('bucket', JSON.stringify(backup.bucket), 'not a valid S3 bucket name',
          'use 3-63 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit'));
      }
      if (!/^[a-z0-9.-]+(:\d+)?$/i.test(backup.endpoint)) {
        problems.push(report('endpoint', JSON.stringify(backup.endpoint), 'pgBackRest expects a host name (and optional port), without a scheme or path',
          'give the host only, e.g. "s3.eu-west-1.amazonaws.com"'));
      }
      for (const field of ['retainFullBackups', 'fullBackupEveryHours'] as const) {
        const value = backup[field];
        if (!Number.isInteger(value) || value < 1) {
          problems.push(report(field, String(value), 'must be a whole number of at least 1',
            field === 'retainFullBackups' ? 'keep at least 1 full backup (point-in-time recovery needs one)' : 'take a full backup at least every few days, e.g. 24'));
        }
      }
      const secretProblem = dnsLabelProblem(backup.credentialsSecret);
      if (secretProblem) {
        problems.push(report('credentialsSecret', JSON.stringify(backup.credentialsSecret), `not a valid Secret name: ${secretProblem}`,
          'name the Secret holding access-key-id and secret-access-key, e.g. "timescaledb-backup-credentials"'));
      }
      return problems;
    },
  },
  {
    name: 'node-pool-zones',
    check: ({ environment }) =>
      environment.nodePools.flatMap((pool) =>
        pool.zones
          .filter((z) => !environment.zones.includes(z))
          .map((z) => ({
            environment: environment.name, subject: `node pool ${pool.name}`, field: 'zones', value: JSON.stringify(z),
            problem: 'not one of the environment\'s zones',
            fix: `use one of ${environment.zones.join(', ')} or add the zone to the environment`,
          }))),
  },
  {
    name: 'environment-names-unique',
    check: ({ environment, environments }) =>
      environments.filter((e) => e.name === environment.name).length > 1
        ? [{
          environment: environment.name, subject: 'environment', field: 'name', value: JSON.stringify(environment.name),
          problem: 'two environments have this name; they would write the same dist/ folder and overwrite each other',
          fix: 'give every environment its own name',
        }]
        : [],
  },
  {
    name: 'node-pool-names-unique',
    check: ({ environment }) =>
      environment.nodePools
        .filter((pool, index) => environment.nodePools.findIndex((p) => p.name === pool.name) !== index)
        .map((pool) => ({
          environment: environment.name, subject: `node pool ${pool.name}`, field: 'name', value: JSON.stringify(pool.name),
          problem: 'two node pools of this environment have this name; their NodePools and node labels would collide',
          fix: 'give every node pool of the environment its own name',
        })),
  },
  {
    name: 'engine-store-name-collisions',
    check: ({ catalog, stores, environment }) =>
      catalog.flatMap((engine) => {
        const store = stores.find((s) => engine.name === s.name || STORE_DERIVED_NAMES.some((suffix) => engine.name === `${s.name}-${suffix}`));
        return store
          ? [{
            environment: environment.name, subject: engine.name, field: 'name', value: JSON.stringify(engine.name),
            problem: `the data store ${store.name} already names its objects so; their Services and network policies would merge (opening ${store.name} to the engine's clients)`,
            fix: `rename the engine (names taken by data stores: ${stores.flatMap((s) => [s.name, ...STORE_DERIVED_NAMES.map((x) => `${s.name}-${x}`)]).join(', ')})`,
          }]
          : [];
      }),
  },
  {
    name: 'cronjob-name-length',
    check: (input) =>
      forEachEngine(input, (engine) =>
        isBatch(engine) && engine.name.length > CRONJOB_NAME_MAX_LENGTH
          ? [{
            subject: engine.name, field: 'name', value: `${JSON.stringify(engine.name)} (${engine.name.length} characters)`,
            problem: `a CronJob name may have at most ${CRONJOB_NAME_MAX_LENGTH} characters (its Jobs add an 11-character suffix)`,
            fix: `shorten the name to ${CRONJOB_NAME_MAX_LENGTH} characters or fewer`,
          }]
          : []),
  },
  {
    name: 'label-values',
    check: ({ catalog, stores, environment }) => {
      const values: Array<[string, string, string]> = [
        ['environment', 'name', environment.name],
        ...catalog.map((e): [string, string, string] => [e.name, 'tier.name', e.tier.name]),
        ...stores.map((s): [string, string, string] => [s.name, 'image (its version label)', imageVersion(s.image) ?? '']),
        ...environment.nodePools.map((p): [string, string, string] => [`node pool ${p.name}`, 'instance.gpuProduct', p.instance.gpuProduct ?? '']),
      ];
      return values.flatMap(([subject, field, value]) => {
        const problem = labelValueProblem(value);
        return problem
          ? [{
            environment: environment.name, subject, field, value: JSON.stringify(value),
            problem: `used as a label value, which the API server rejects: ${problem}`,
            fix: 'use at most 63 letters, digits, "-", "_" or "." (for an image, pin the digest after a short tag: name:tag@sha256:...)',
          }]
          : [];
      });
    },
  },
  {
    name: 'host-network-ports-allowed',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!engine.tier.hostNetwork || !isService(engine)) return [];
        const p = engine.workload.port;
        const owner = NODE_RESERVED_PORTS.find((r) => p >= r.from && p <= r.to)?.owner;
        const problem = p < 1024
          ? 'the engine runs on the host network as a non-root user without NET_BIND_SERVICE, and only root may bind a port below 1024'
          : owner ? `on the host network the port is the node's, and ${owner} already holds it on every node` : undefined;
        return problem
          ? [{ subject: engine.name, field: 'workload.port', value: String(p), problem, fix: 'pick a free port from 1024 to 29999 outside 10248–10259, e.g. 8205' }]
          : [];
      }),
  },
  {
    name: 'autoscaling-targets',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!isService(engine)) return [];
        const { targetCpuUtilization, targetRequestsPerSecond } = engine.workload.scaling;
        const reports: Report[] = [];
        if (targetCpuUtilization !== undefined && !(Number.isInteger(targetCpuUtilization) && targetCpuUtilization >= 1)) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.targetCpuUtilization', value: String(targetCpuUtilization),
            problem: 'an HPA utilisation target is a whole percentage of the CPU request, at least 1', fix: 'set it to a whole number such as 70',
          });
        }
        if (targetRequestsPerSecond !== undefined && !(Number.isFinite(targetRequestsPerSecond) && targetRequestsPerSecond > 0)) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.targetRequestsPerSecond', value: String(targetRequestsPerSecond),
            problem: 'an average-value target must be a positive number', fix: 'set it to the requests per second one pod handles, e.g. 1000, or remove it',
          });
        }
        return reports;
      }),
  },
  {
    name: 'gpu-count',
    check: (input) =>
      forEachEngine(input, (engine) =>
        engine.resources.gpu && !(Number.isInteger(engine.resources.gpu.count) && engine.resources.gpu.count >= 1)
          ? [{
            subject: engine.name, field: 'resources.gpu.count', value: String(engine.resources.gpu.count),
            problem: 'GPUs are whole devices: the count must be a whole number of at least 1',
            fix: 'use count: 1 (or more), or remove resources.gpu',
          }]
          : []),
  },
  {
    name: 'resource-amounts',
    check: (input) => {
      const amounts: Array<[string, string, number, string]> = [
        ...enabledEngines(input.catalog, input.environment).flatMap((e): Array<[string, string, number, string]> => [
          [e.name, 'resources.cpu', e.resources.cpu.millicores, e.resources.cpu.toQuantity()],
          [e.name, 'resources.memory', e.resources.memory.mebibytes, e.resources.memory.toQuantity()],
          ...(e.resources.memoryLimit ? [[e.name, 'resources.memoryLimit', e.resources.memoryLimit.mebibytes, e.resources.memoryLimit.toQuantity()] as [string, string, number, string]] : []),
          ...(e.resources.hugepages2Mi ? [[e.name, 'resources.hugepages2Mi', e.resources.hugepages2Mi.mebibytes, e.resources.hugepages2Mi.toQuantity()] as [string, string, number, string]] : []),
        ]),
        ...input.stores.flatMap((s): Array<[string, string, number, string]> => [
          [s.name, 'cpu', s.cpu.millicores, s.cpu.toQuantity()],
          [s.name, 'memory', s.memory.mebibytes, s.memory.toQuantity()],
          [s.name, 'storage', s.storage.mebibytes, s.storage.toQuantity()],
        ]),
      ];
      const problems: ConfigurationProblem[] = amounts
        .filter(([, , amount]) => !(Number.isFinite(amount) && amount > 0))
        .map(([subject, field, , value]) => ({
          environment: input.environment.name, subject, field, value,
          problem: 'must be more than zero (environments scale it; they do not repair it)',
          fix: 'give the production amount, e.g. Cpu.cores(1) or Memory.gibibytes(1)',
        }));
      for (const e of enabledEngines(input.catalog, input.environment)) {
        const hugepages = e.resources.hugepages2Mi;
        if (hugepages && hugepages.mebibytes > 0 && hugepages.mebibytes % 2 !== 0) {
          problems.push({
            environment: input.environment.name, subject: e.name, field: 'resources.hugepages2Mi', value: hugepages.toQuantity(),
            problem: 'a hugepages-2Mi amount must be a whole number of 2Mi pages', fix: `use ${Memory.mebibytes(Math.ceil(hugepages.mebibytes / 2) * 2)}`,
          });
        }
      }
      return problems;
    },
  },
  {
    name: 'environment-scales',
    check: ({ environment }) =>
      ([
        ...(typeof environment.resourceScale === 'number'
          ? [['resourceScale', environment.resourceScale]] as const
          : [['resourceScale.cpu', environment.resourceScale.cpu], ['resourceScale.memory', environment.resourceScale.memory]] as const),
        ['storageScale', environment.storageScale],
      ] as const)
        .filter(([, factor]) => !(Number.isFinite(factor) && factor > 0))
        .map(([field, factor]) => ({
          environment: environment.name, subject: 'environment', field, value: String(factor),
          problem: 'a scale factor must be a positive number (1 is production size)', fix: 'use a factor such as 0.5',
        })),
  },
  {
    name: 'batch-schedule',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!isBatch(engine)) return [];
        const { schedule, activeDeadlineSeconds, backoffLimit } = engine.workload;
        const reports: Report[] = [];
        const cronProblem = cronScheduleProblem(schedule);
        if (cronProblem) {
          reports.push({
            subject: engine.name, field: 'workload.schedule', value: JSON.stringify(schedule), problem: `not a schedule the API server accepts: ${cronProblem}`,
            fix: 'write five fields "minute hour day-of-month month day-of-week" in UTC, e.g. "30 22 * * 1-5"',
          });
        }
        const starting = wholeNumberProblem(engine.workload.startingDeadlineSeconds, 10);
        if (starting) {
          reports.push({
            subject: engine.name, field: 'workload.startingDeadlineSeconds', value: String(engine.workload.startingDeadlineSeconds),
            problem: `${starting} (the CronJob controller checks every 10 seconds; less may skip every run)`, fix: 'give how late a run may start, e.g. 1800',
          });
        }
        const deadline = wholeNumberProblem(activeDeadlineSeconds, 1);
        if (deadline) reports.push({ subject: engine.name, field: 'workload.activeDeadlineSeconds', value: String(activeDeadlineSeconds), problem: deadline, fix: 'give the longest a run may take, in seconds, e.g. 21600' });
        const retries = wholeNumberProblem(backoffLimit, 0);
        if (retries) reports.push({ subject: engine.name, field: 'workload.backoffLimit', value: String(backoffLimit), problem: retries, fix: 'give the number of retries, e.g. 2' });
        return reports;
      }),
  },
  {
    name: 'health-endpoints',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!isService(engine)) return [];
        const { liveness, readiness, startupBudgetSeconds } = engine.workload.health;
        const reports: Report[] = ([['liveness', liveness], ['readiness', readiness]] as const)
          .filter(([, path]) => !/^\/\S*$/.test(path))
          .map(([field, path]) => ({
            subject: engine.name, field: `workload.health.${field}`, value: JSON.stringify(path),
            problem: 'an HTTP probe path must start with "/" and contain no spaces', fix: 'use a path such as "/health/live"',
          }));
        const budget = wholeNumberProblem(startupBudgetSeconds, 1);
        if (budget) reports.push({ subject: engine.name, field: 'workload.health.startupBudgetSeconds', value: String(startupBudgetSeconds), problem: budget, fix: 'give the seconds the engine may take to start, e.g. 30' });
        return reports;
      }),
  },
  {
    name: 'node-network-cidr',
    check: ({ environment }) => {
      const problem = cidrProblem(environment.nodeNetworkCidr);
      return problem
        ? [{
          environment: environment.name, subject: 'environment', field: 'nodeNetworkCidr', value: JSON.stringify(environment.nodeNetworkCidr),
          problem, fix: 'give the CIDR the nodes\' addresses come from, e.g. "10.30.0.0/16"',
        }]
        : [];
    },
  },
  {
    name: 'image-registry',
    check: ({ environment }) => {
      const problem = imageRegistryProblem(environment.imageRegistry);
      return problem
        ? [{
          environment: environment.name, subject: 'environment', field: 'imageRegistry', value: JSON.stringify(environment.imageRegistry),
          problem: `not a registry images can be pulled from: ${problem}`, fix: 'use "host[:port]/path" in lower case, e.g. "registry.prod.nautilus.internal/nautilus"',
        }]
        : [];
    },
  },
  {
    name: 'store-images-pinned',
    check: ({ stores, environment }) =>
      stores.flatMap((store) => {
        const problem = pinnedImageProblem(store.image);
        return problem
          ? [{
            environment: environment.name, subject: store.name, field: 'image', value: JSON.stringify(store.image),
            problem: `not an image pinned to a version: ${problem}`, fix: 'use "repository:version" or "repository:version@sha256:<digest>"',
          }]
          : [];
      }),
  },
  {
    name: 'third-party-images',
    check: ({ stores, environment }) => {
      const problems: ConfigurationProblem[] = [];
      const mirrorProblem = environment.thirdPartyMirror !== undefined ? imageRegistryProblem(environment.thirdPartyMirror) : undefined;
      if (mirrorProblem) {
        problems.push({
          environment: environment.name, subject: 'environment', field: 'thirdPartyMirror', value: JSON.stringify(environment.thirdPartyMirror),
          problem: `not a registry images can be pulled from: ${mirrorProblem}`, fix: 'use "host[:port]/path" in lower case, e.g. "registry.prod.nautilus.internal/mirror"',
        });
      }
      if (environment.requireImageDigests) {
        const images: Array<[string, string]> = [
          ...stores.map((s): [string, string] => [s.name, s.image]),
          // The exporter beside each Redis member (planStoreMonitoring) comes from the same mirror.
          ...(stores.some((s) => s.name === 'redis') ? [['redis-exporter', REDIS_EXPORTER.image] as [string, string]] : []),
          ...(poolForRole(environment, 'gpu') ? [[DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_IMAGE] as [string, string]] : []),
        ];
        for (const [subject, image] of images.filter(([, i]) => !hasDigest(i))) {
          problems.push({
            environment: environment.name, subject, field: 'image', value: JSON.stringify(image),
            problem: 'the environment requires third-party images pinned by digest (requireImageDigests) and this reference has none',
            fix: `append the upstream digest: "${image}@sha256:<digest>" (docker buildx imagetools inspect ${image})`,
          });
        }
      }
      return problems;
    },
  },
  {
    name: 'storage-classes-exist',
    check: ({ environment }) => {
      const problems: ConfigurationProblem[] = environment.storageClasses.flatMap((c) => {
        const problem = dnsSubdomainProblem(c.name) ?? (c.provisioner.trim() === '' ? 'has no provisioner' : undefined);
        return problem
          ? [{
            environment: environment.name, subject: `storage class ${c.name}`, field: 'name', value: JSON.stringify(c.name),
            problem, fix: 'name it in lower case (letters, digits, "-", ".") and give its CSI provisioner',
          }]
          : [];
      });
      const known = [...environment.storageClasses.map((c) => c.name), ...(environment.clusterStorageClasses ?? [])];
      for (const [tier, name] of Object.entries(environment.storageClassFor)) {
        if (!known.includes(name)) {
          problems.push({
            environment: environment.name, subject: 'environment', field: `storageClassFor.${tier}`, value: JSON.stringify(name),
            problem: 'no such storage class: the environment neither creates it nor lists it among the cluster\'s own, so every volume claim would stay Pending',
            fix: `use one of ${known.length > 0 ? known.join(', ') : '(none defined)'}, add it to storageClasses, or list the cluster's own in clusterStorageClasses`,
          });
        }
      }
      return problems;
    },
  },
  {
    name: 'engine-dockerfile-present',
    check: ({ catalog, environment, sources }) =>
      sources
        ? catalog.filter((e) => sources.get(e.name)?.dockerfile === undefined).map((e) => ({
          environment: environment.name, subject: e.name, field: 'image', value: `${ENGINES_DIR}/${e.name}/Dockerfile`,
          problem: 'the engine has no Dockerfile, so it has no image to deploy', fix: RUN_GENERATOR,
        }))
        : [],
  },
  {
    name: 'generated-engine-files-current',
    check: ({ catalog, environment, sources }) =>
      sources
        ? catalog.flatMap((engine) => {
          const committed = sources.get(engine.name);
          if (committed?.dockerfile === undefined) return [];
          const rendered = new Map(renderEngineFiles(engine).map((f) => [f.path, f.content]));
          return ([['engine.json', committed.engineJson], ['Dockerfile', committed.dockerfile]] as const)
            .filter(([file, content]) => content !== rendered.get(`${engine.name}/${file}`))
            .map(([file, content]) => ({
              environment: environment.name, subject: engine.name, field: file, value: `${ENGINES_DIR}/${engine.name}/${file}${content === undefined ? ' (missing)' : ''}`,
              problem: 'out of step with the catalog (port, probe paths or dependencies): the image would serve something other than the manifests expect, under an unchanged tag',
              fix: RUN_GENERATOR,
            }));
        })
        : [],
  },
  {
    name: 'node-pool-shape',
    check: ({ environment }) =>
      environment.nodePools.flatMap((pool): ConfigurationProblem[] => {
        const report = (field: string, value: string, problem: string, fix: string): ConfigurationProblem =>
          ({ environment: environment.name, subject: `node pool ${pool.name}`, field, value, problem, fix });
        const problems: ConfigurationProblem[] = [];
        if (pool.zones.length === 0) {
          problems.push(report('zones', '[]', 'the pool is in no zone, so it has no node', `list the zones its nodes are in (of ${environment.zones.join(', ')})`));
        }
        const repeated = pool.zones.filter((z, i) => pool.zones.indexOf(z) !== i);
        if (repeated.length > 0) {
          problems.push(report('zones', JSON.stringify(pool.zones), `lists ${[...new Set(repeated)].join(', ')} more than once: the pool would be counted as having nodes and zones it does not`, 'list each zone once (raise nodesPerZone for more nodes)'));
        }
        const counts: Array<[string, number, number, string]> = [
          ['nodesPerZone', pool.nodesPerZone, 0, 'give the nodes each zone runs at rest, e.g. 2'],
          ['maxNodes', pool.maxNodes, 1, 'give the most nodes the pool may grow to (its Karpenter limit), e.g. 12'],
          ['instance.gpus', pool.instance.gpus ?? 0, 0, 'give the whole GPUs each node has, or leave it unset'],
        ];
        for (const [field, value, min, fix] of counts) {
          const problem = wholeNumberProblem(value, min);
          if (problem) problems.push(report(field, String(value), problem, fix));
        }
        const { cpu, memory, hugepages2Mi } = pool.instance;
        if (!(cpu.millicores > 0)) problems.push(report('instance.cpu', cpu.toQuantity(), 'a node has more than zero CPUs', 'give the instance type\'s vCPUs, e.g. Cpu.cores(8)'));
        if (!(memory.mebibytes > 0)) problems.push(report('instance.memory', memory.toQuantity(), 'a node has more than zero memory', 'give the instance type\'s memory, e.g. Memory.gibibytes(32)'));
        if (hugepages2Mi && (hugepages2Mi.mebibytes % 2 !== 0 || hugepages2Mi.mebibytes < 0 || hugepages2Mi.mebibytes >= memory.mebibytes)) {
          problems.push(report('instance.hugepages2Mi', hugepages2Mi.toQuantity(),
            hugepages2Mi.mebibytes % 2 !== 0 ? 'pre-allocated 2Mi hugepages are a whole number of 2Mi pages' : `must be zero or more and less than the node's ${memory} of memory`,
            `use a whole number of pages, e.g. ${Memory.mebibytes(Math.max(0, Math.floor(hugepages2Mi.mebibytes / 2) * 2))}`));
        }
        return problems;
      }),
  },
  {
    name: 'one-pool-per-role',
    check: ({ environment }) =>
      environment.nodePools
        .filter((pool) => poolForRole(environment, pool.role) !== pool)
        .map((pool) => {
          const first = poolForRole(environment, pool.role)!;
          return {
            environment: environment.name, subject: `node pool ${pool.name}`, field: 'role', value: JSON.stringify(pool.role),
            problem: `pool ${first.name} already has this role; tiers and stores select their pool by role and take the first, so no pod would ever run here, yet its NodePool would be created`,
            fix: `give ${pool.name} another role, or remove it and grow ${first.name} (nodesPerZone, maxNodes)`,
          };
        }),
  },
  {
    name: 'external-namespaces',
    check: ({ environment }) => {
      const ours = [...Object.values(NAMESPACE_NAMES), DEVICE_PLUGIN_NAMESPACE];
      return (['ingressNamespace', 'monitoringNamespace'] as const)
        .filter((field) => ours.includes(environment[field]))
        .map((field) => ({
          environment: environment.name, subject: 'environment', field, value: JSON.stringify(environment[field]),
          problem: `one of the platform's own namespaces: the network policies would admit every pod of it as if it were the ${field === 'ingressNamespace' ? 'ingress controller' : 'monitoring stack'}`,
          fix: `name the namespace the ${field === 'ingressNamespace' ? 'ingress controller' : 'Prometheus'} runs in, e.g. "${field === 'ingressNamespace' ? 'ingress-nginx' : 'monitoring'}" (not ${ours.join(', ')})`,
        }));
    },
  },
  {
    name: 'node-reservation',
    check: ({ environment }) =>
      environment.nodePools.flatMap((pool): ConfigurationProblem[] => {
        const at = { environment: environment.name, subject: `node pool ${pool.name}` };
        const { reserved, instance } = pool;
        const problems: ConfigurationProblem[] = [];
        const amounts: Array<[string, number, string]> = [
          ['reserved.cpu', reserved.cpu.millicores, reserved.cpu.toQuantity()],
          ['reserved.memory', reserved.memory.mebibytes, reserved.memory.toQuantity()],
          ['reserved.evictionThreshold', reserved.evictionThreshold.mebibytes, reserved.evictionThreshold.toQuantity()],
        ];
        for (const [field, , value] of amounts.filter(([, a]) => !(Number.isFinite(a) && a >= 0))) {
          problems.push({ ...at, field, value, problem: 'a reservation must be zero or more', fix: 'give what the kubelet reserves, e.g. eksReservation(instance)' });
        }
        if (problems.length > 0) return problems;
        const allocatable = nodeAllocatable(pool);
        if (allocatable.cpu.millicores <= 0 || allocatable.memory.mebibytes <= 0) {
          const cpu = allocatable.cpu.millicores <= 0;
          problems.push({
            ...at, field: cpu ? 'reserved.cpu' : 'reserved.memory',
            value: cpu ? `${reserved.cpu} of ${instance.cpu} CPU` : `${Memory.mebibytes(reserved.memory.mebibytes + reserved.evictionThreshold.mebibytes)} (with the eviction threshold${instance.hugepages2Mi ? ` and ${instance.hugepages2Mi} of hugepages` : ''}) of ${instance.memory}`,
            problem: 'the reservation takes the whole node: nothing is left for pods',
            fix: 'reserve less, or use a larger instance',
          });
        }
        if (pool.pinned && !(reserved.cpu.isWholeCores && reserved.cpu.millicores >= 1000)) {
          problems.push({
            ...at, field: 'reserved.cpu', value: reserved.cpu.toQuantity(),
            problem: 'the pool pins cores: the static CPU manager needs its reservation as whole CPUs (reservedSystemCPUs), at least one, or the kubelet does not start',
            fix: `reserve whole CPUs, e.g. Cpu.cores(${Math.max(1, Math.ceil(reserved.cpu.millicores / 1000))})`,
          });
        }
        const maxPods = pool.maxPods;
        if (maxPods !== undefined && !(Number.isInteger(maxPods) && maxPods >= 1)) {
          problems.push({ ...at, field: 'maxPods', value: String(maxPods), problem: 'must be a whole number of at least 1', fix: 'leave it unset (the kubelet\'s 110) or give the kubelet\'s maxPods' });
        }
        return problems;
      }),
  },
  {
    name: 'pods-fit-a-node',
    check: (input) =>
      podDemands(input).flatMap((d): ConfigurationProblem[] => {
        const at = { environment: input.environment.name, subject: d.subject };
        if (!d.pool) {
          return [{
            ...at, field: 'placement', value: 'no pool', problem: 'no node pool takes these pods (the environment has no general pool)',
            fix: `add a node pool with role 'general' to ${input.environment.name}`,
          }];
        }
        const pool = d.pool;
        const room = nodeRoom(input.environment, pool);
        const where = `each node of pool ${pool.name} offers pods`;
        const checks: Array<[boolean, string, string, string]> = [
          [d.cpu.millicores > room.cpu, 'cpu', d.cpu.toQuantity(), `${where} ${roomExplained(input.environment, pool, 'cpu')}`],
          [d.memory.mebibytes > room.memory, 'memory', d.memory.toQuantity(), `${where} ${roomExplained(input.environment, pool, 'memory')}`],
          [d.hugepages.mebibytes > room.hugepages, 'hugepages2Mi', d.hugepages.toQuantity(), `the nodes of pool ${pool.name} pre-allocate ${pool.instance.hugepages2Mi?.toQuantity() ?? 'no'} 2Mi hugepages`],
          [d.gpus > room.gpus, 'gpu.count', String(d.gpus), `the nodes of pool ${pool.name} have ${room.gpus} GPUs`],
        ];
        return checks.filter(([fails]) => fails).map(([, field, value, have]) => ({
          ...at, field: `resources.${field}`, value: `${value} per pod (every container, as planned in ${input.environment.name})`,
          problem: `the pod can never be scheduled: ${have}`,
          fix: `lower ${d.subject}'s ${field}, or give pool ${pool.name} a larger instance${field === 'cpu' || field === 'memory' ? ' or a smaller reservation' : ''}`,
        }));
      }),
  },
  {
    name: 'node-pool-capacity',
    check: (input) => {
      const demands = podDemands(input);
      return input.environment.nodePools.flatMap((pool): ConfigurationProblem[] => {
        const at = { environment: input.environment.name, subject: `node pool ${pool.name}` };
        const restingNodes = pool.zones.length * pool.nodesPerZone;
        if (pool.maxNodes < restingNodes) {
          return [{
            ...at, field: 'maxNodes', value: `${pool.maxNodes} (${restingNodes} nodes at rest)`,
            problem: 'the NodePool limit is below the nodes the pool runs at rest', fix: `set maxNodes to at least ${restingNodes}`,
          }];
        }
        const onPool = demands.filter((d) => d.pool?.name === pool.name);
        const limit = timesRoom(nodeRoom(input.environment, pool), pool.maxNodes);
        const atRest = shortfall(sumRooms(onPool.map((d) => timesRoom(podRoom(d), d.replicas))), limit);
        const atMax = shortfall(sumRooms(onPool.map((d) => timesRoom(podRoom(d), d.maxReplicas))), limit);
        const missing = atRest ? `at rest its pods need ${atRest}` : atMax ? `at their autoscaling maximum its pods need ${atMax}` : undefined;
        return missing
          ? [{
            ...at, field: 'maxNodes', value: `${pool.maxNodes} nodes of ${pool.instance.cpu} CPU, ${pool.instance.memory}`,
            problem: `the NodePool's limits are too small (counting each node's allocatable, not its capacity): ${missing}`,
            fix: `raise maxNodes, use a larger instance, or lower the maximum replicas of ${onPool.map((d) => d.subject).join(', ')}`,
          }]
          : [];
      });
    },
  },
  {
    name: 'pods-pack-onto-nodes-at-rest',
    check: (input) => {
      // CronJob pods come and go: Karpenter adds a node for a run when none has room.
      const demands = packableDemands(input);
      return input.environment.nodePools.flatMap((pool): ConfigurationProblem[] => {
        const onPool = demands.filter((d) => d.pool?.name === pool.name);
        const nodes = pool.zones.length * pool.nodesPerZone;
        // A pool with no node at rest cannot hold pods at rest either (the cluster tests have no Karpenter to add one).
        if (onPool.length === 0 || pool.zones.length === 0 || !(Number.isInteger(pool.nodesPerZone) && pool.nodesPerZone >= 0)) return [];
        const failure = packAtRest(input.environment, pool, onPool);
        if (!failure) return [];
        return [{
          environment: input.environment.name, subject: `node pool ${pool.name}`, field: 'nodesPerZone',
          value: `${pool.nodesPerZone} (${nodes} nodes at rest, each offering ${roomExplained(input.environment, pool, 'cpu')} and ${roomExplained(input.environment, pool, 'memory')})`,
          problem: `the pods at rest do not fit onto the nodes at rest: ${failure.subject} found no node for replica ${failure.placed + 1} of ${failure.wanted} `
            + `(${failure.wanted > 1 ? `spread evenly over zones, next in ${failure.zones.join(' or ')}` : 'any zone'}${onPool.find((d) => d.subject === failure.subject)?.hostNetwork ? ', one per node for its host port' : ''}; placed largest first)`,
          fix: `raise nodesPerZone, use a larger instance, or lower the replicas or requests of ${onPool.map((d) => d.subject).join(', ')}`,
        }];
      });
    },
  },
  {
    name: 'zone-loss-survivable',
    check: (input) => {
      if (!input.environment.survivesZoneLoss) return [];
      const demands = packableDemands(input);
      return input.environment.nodePools.flatMap((pool): ConfigurationProblem[] => {
        const onPool = demands.filter((d) => d.pool?.name === pool.name);
        // A pool that does not hold its pods with every zone up is pods-pack-onto-nodes-at-rest's report.
        if (onPool.length === 0 || packAtRest(input.environment, pool, onPool)) return [];
        const at = { environment: input.environment.name, subject: `node pool ${pool.name}`, field: 'zones' };
        const survivingNodes = (pool.zones.length - 1) * pool.nodesPerZone;
        if (survivingNodes <= 0) {
          return [{
            ...at, value: JSON.stringify(pool.zones), problem: `the environment must survive a zone loss and every node of the pool is in one zone (${onPool.map((d) => d.subject).join(', ')} would stop)`,
            fix: 'add a zone to the pool',
          }];
        }
        // The pool at rest as the scheduler fills it, in apply order (data stores, then engines):
        // a pod that survives the loss stays where it is; only the lost zone's pods move.
        const ordered = [...onPool.filter((d) => d.zonalVolume), ...onPool.filter((d) => !d.zonalVolume)];
        const atRest: ScheduledNode[] = poolNodes(input.environment, pool, pool.zones).map((n) => ({ zone: n.zone, room: n.room, pods: [] }));
        for (const d of ordered) scheduleReplicas(atRest, d.subject, podRoom(d), d.replicas, pool.zones, d.hostNetwork);
        for (const lost of pool.zones) {
          const left = pool.zones.filter((z) => z !== lost);
          const nodes = atRest.filter((n) => n.zone !== lost).map((n) => ({ zone: n.zone, room: { ...n.room }, pods: [...n.pods] }));
          // Surviving pods per workload and zone, counted once (linear in the pods, not per workload).
          const survivors = new Map<string, Map<string, number>>();
          for (const n of nodes) {
            for (const p of n.pods) {
              const zones = survivors.get(p) ?? survivors.set(p, new Map()).get(p)!;
              zones.set(n.zone, (zones.get(n.zone) ?? 0) + 1);
            }
          }
          for (const d of ordered) {
            // A store member's volume is zonal: the lost zone's members are gone with it, never rescheduled.
            if (d.zonalVolume) continue;
            const survivingPerZone = survivors.get(d.subject) ?? new Map<string, number>();
            const surviving = [...survivingPerZone.values()].reduce((sum, count) => sum + count, 0);
            // Engines keep no volume and come back in the zones left; a host-network engine needs one replica.
            const wanted = d.hostNetwork ? Math.min(d.replicas, 1) : d.replicas;
            const missing = Math.max(0, wanted - surviving);
            const placed = scheduleReplicas(nodes, d.subject, podRoom(d), missing, left, d.hostNetwork, survivingPerZone);
            if (placed < missing) {
              return [{
                ...at, value: `${pool.zones.length} zones × ${pool.nodesPerZone} nodes`,
                problem: `the environment must survive a zone loss and after losing ${lost} the ${survivingNodes} nodes left cannot hold the pool's pods at rest: `
                  + `${d.subject} needs ${missing} pod(s) moved there and the scheduler finds a node for ${placed} (surviving pods stay where they are, data store members stay in their volume's zone; `
                  + 'each pod goes to the least allocated node, as kube-scheduler places them)',
                fix: 'raise nodesPerZone, add a zone, or use a larger instance',
              }];
            }
          }
        }
        return [];
      });
    },
  },
  {
    name: 'stores-survive-zone-loss',
    check: ({ stores, environment }) => {
      if (!environment.survivesZoneLoss) return [];
      const problems: ConfigurationProblem[] = [];
      for (const store of stores) {
        const plan = planDataStore(store, environment);
        const pool = plan.pool ?? poolForRole(environment, 'general');
        const zones = pool?.zones.length ?? environment.zones.length;
        // Spread with maxSkew 1: the fullest zone holds ceil(members / zones), and their volumes with them.
        const lost = Math.ceil(plan.replicas / Math.max(1, zones));
        const left = plan.replicas - lost;
        const field = store.name === 'timescaledb' ? 'timescaledb.members' : store.name === 'redis' ? 'redis.members' : 'members';
        const where = `${plan.replicas} member(s) over the ${zones} zone(s) of pool ${pool?.name ?? 'general'}`;
        if (left < 1) {
          problems.push({
            environment: environment.name, subject: store.name, field, value: where,
            problem: 'the environment must survive a zone loss, and losing the zone holding the member (its volume is zonal) leaves no member at all',
            fix: `run a member per zone (${zones > 1 ? zones : 3}, on a pool spanning that many zones)`,
          });
        } else if (store.name === 'timescaledb' && environment.timescaledb.synchronousReplication && left < 2) {
          problems.push({
            environment: environment.name, subject: store.name, field, value: where,
            problem: `the environment must survive a zone loss and replicates synchronously: losing the fullest zone (its ${lost} member(s) and their volumes) leaves ${left}, a primary with no replica to confirm commits, so acknowledged writes would again be lost with the next failure`,
            fix: `run at least ${lost + 2} members over ${Math.max(zones, 3)} zones, or set synchronousReplication to false`,
          });
        }
      }
      return problems;
    },
  },
];

/** What validation checks besides the catalog and the environments. */
export interface ValidationOptions {
  /** The committed generated files of each engine; without them the generator-staleness rules are skipped. */
  readonly sources?: ReadonlyMap<string, EngineSourceFiles>;
}

/**
 * Checks the catalog and the data stores against every environment; throws one error listing every
 * problem found. A mistake found in several environments is one entry naming them all.
 */
export function validatePlatform(
  catalog: readonly EngineSpec[], stores: readonly DataStoreSpec[], environments: readonly EnvironmentSpec[], options: ValidationOptions = {},
): void {
  const problems = environments.flatMap((environment) =>
    VALIDATION_RULES.flatMap((rule) => rule.check({ catalog, stores, environment, environments, sources: options.sources })),
  );
  if (problems.length > 0) throw new ConfigurationError(problems);
}
