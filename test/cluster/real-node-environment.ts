import * as os from 'os';
import { EnvironmentSpec } from '../../src/environments/environment';
import { DEV } from '../../src/environments/platform-environments';
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
