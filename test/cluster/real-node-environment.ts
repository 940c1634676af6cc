import * as os from 'os';
import { DataStoreSpec, PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { EnvironmentSpec, NodePoolSpec, poolForRole } from '../../src/environments/environment';
import { DEV, PROD } from '../../src/environments/platform-environments';
import { cidr } from '../../src/model/domains';
import { Cpu, Memory } from '../../src/model/quantities';

/**
 * dev, fitted to the one machine the real-node test runs on: the node pool is this machine (its
 * cores, most of its memory, one node), and the CPU share of the scaled-down platform is smaller
 * so that every engine and store fits two cores. Memory keeps dev's factor: each engine is a
 * Node.js process that needs what dev gives it. The node network is the real node's (its address
 * is in 10.201.0.0/16): host-network engines are matched by it in the NetworkPolicies. Everything
 * else (names, namespaces, registry, policies, stores, replicas) is dev's own, changed only through
 * the environment API.
 */
export function realNodeEnvironment(base: EnvironmentSpec = DEV): EnvironmentSpec {
  const [pool] = base.nodePools;
  const memoryGi = Math.floor((os.totalmem() / 2 ** 30) * 0.75);
  return {
    ...base,
    nodePools: [{
      ...pool,
      nodesPerZone: 1,
      maxNodes: 1,
      instance: { ...pool.instance, cpu: Cpu.cores(os.cpus().length), memory: Memory.gibibytes(memoryGi) },
    }],
    nodeNetworkCidr: cidr(REAL_NODE_NETWORK),
    resourceScale: { cpu: REAL_NODE_CPU_SCALE, memory: typeof base.resourceScale === 'number' ? base.resourceScale : base.resourceScale.memory },
  };
}

/** The network real nodes' addresses are in (see real-node.ts). */
export const REAL_NODE_NETWORK = '10.201.0.0/16';

/** CPU requests at 2 % of production: the 15 engines and 2 stores of dev then request about 0.9 CPU. */
export const REAL_NODE_CPU_SCALE = 0.02;

/**
 * dev with a pinned latency pool, fitted to this machine, for the static CPU manager: the real
 * node is one of the pool's nodes. The pool reserves whole CPUs as prod's latency pool does,
 * scaled to this machine's cores and rounded up to a whole CPU (prod: 2 of 16, here 1 of 2), and
 * pre-allocates hugepages for one pinned engine. The latency tier's engines get one whole CPU
 * each (their production budgets are 2 to 3 cores, more than this machine can give one pod); the
 * pool is declared with a node per pinned pod so that the capacity check places them all. Redis
 * is not pinned here: its exporter needs room beside a whole core, which a node with one core
 * left does not have.
 */
export function realNodePinnedEnvironment(): { environment: EnvironmentSpec; catalog: EngineSpec[]; stores: DataStoreSpec[] } {
  const base = realNodeEnvironment();
  const prodLatency = poolForRole(PROD, 'latency')!;
  const cores = os.cpus().length;
  const reservedCpus = Math.ceil((prodLatency.reserved.cpu.millicores / prodLatency.instance.cpu.millicores) * cores);
  const catalog = PLATFORM_ENGINES.map((engine) => (engine.tier.pinned
    ? { ...engine, resources: { ...engine.resources, cpu: Cpu.cores(PINNED_ENGINE_CPUS) } }
    : engine));
  const [general] = base.nodePools;
  const latency: NodePoolSpec = {
    ...prodLatency,
    zones: general.zones,
    nodesPerZone: catalog.filter((engine) => engine.tier.pinned).length + 1,
    maxNodes: catalog.filter((engine) => engine.tier.pinned).length + 1,
    instance: { ...general.instance, hugepages2Mi: REAL_NODE_HUGEPAGES },
    reserved: { ...prodLatency.reserved, cpu: Cpu.cores(reservedCpus) },
  };
  const stores = Object.values(PLATFORM_DATA_STORES).map((store): DataStoreSpec => ({ ...store, pinnedCpu: undefined }));
  return { environment: { ...base, nodePools: [general, latency] }, catalog, stores };
}

/** Whole CPUs each pinned engine gets on the real node: the one this machine has left after the reservation. */
export const PINNED_ENGINE_CPUS = 1;
/** Hugepages the pinned node pre-allocates: one pinned engine's production share. */
export const REAL_NODE_HUGEPAGES = Memory.mebibytes(256);

/**
 * dev with autoscaling, fitted to this machine, deploying only `engines` (the others are disabled
 * through the environment's own `disabledEngines`, so the capacity checks hold for one node of two
 * cores): HorizontalPodAutoscalers are generated as in staging and prod, with the replica bounds
 * of production (`replicas: 'full'`) or staging (`'reduced'`) and each tier's untouched `behavior`.
 * Without progressive delivery, so that every autoscaled engine is a Deployment the test can read
 * (HPAs on Rollouts are checked on the environment tests' control planes). `engines` must include
 * every engine they depend on.
 */
export function realNodeAutoscaledEnvironment(engines: readonly string[], replicas: EnvironmentSpec['replicas']): EnvironmentSpec {
  const base = realNodeEnvironment();
  const unknown = engines.filter((name) => !PLATFORM_ENGINES.some((engine) => engine.name === name));
  if (unknown.length > 0) throw new Error(`realNodeAutoscaledEnvironment: no engine named ${unknown.join(', ')} in the catalog; engines: ${PLATFORM_ENGINES.map((e) => e.name).join(', ')}`);
  return {
    ...base,
    autoscaling: true,
    replicas,
    progressiveDelivery: undefined,
    disabledEngines: PLATFORM_ENGINES.filter((engine) => !engines.includes(engine.name))
      .map((engine) => ({ name: engine.name, reason: 'not deployed by the real-node autoscaling test' })),
  };
}

/** The zones of {@link realNodeFailoverEnvironment}: one real node each. */
export const FAILOVER_ZONES = ['local-a', 'local-b', 'local-c'];

/**
 * dev with production's store topology, fitted to a machine running one real node per zone: the
 * general pool spans three zones with one node each, Redis runs three members with Sentinel and
 * TimescaleDB three Patroni members with synchronous replication (prod's settings, through the
 * environment API; backups stay off as in dev, since no bucket is reachable). Only `engines` are
 * deployed (they must include every engine they depend on). The stores' spread and affinity rules
 * are those the environment renders; nothing is relaxed for the test.
 */
export function realNodeFailoverEnvironment(engines: readonly string[]): EnvironmentSpec {
  const base = realNodeEnvironment();
  const [pool] = base.nodePools;
  return {
    ...base,
    zones: FAILOVER_ZONES,
    nodePools: [{ ...pool, zones: FAILOVER_ZONES, nodesPerZone: 1, maxNodes: FAILOVER_ZONES.length }],
    redis: PROD.redis,
    timescaledb: { ...PROD.timescaledb, backup: DEV.timescaledb.backup },
    disabledEngines: PLATFORM_ENGINES.filter((engine) => !engines.includes(engine.name))
      .map((engine) => ({ name: engine.name, reason: 'not deployed by the real-node failover test' })),
  };
}
