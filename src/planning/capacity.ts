import { DataStoreSpec } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_RESOURCES } from '../catalog/third-party';
import { EnvironmentSpec, NodePoolSpec, poolForRole } from '../environments/environment';
import { nodeAllocatable } from '../environments/node-allocatable';
import { Cpu, Memory } from '../model/quantities';
import { enabledEngines, isBatch, planDataStore, planEngine } from './plan';

/** What one workload's pods ask of the nodes of their pool: every container's requests, summed per pod. */
export interface PodDemand {
  /** Engine or data store name. */
  readonly subject: string;
  /** The pool the pods land on (the general pool when the plan names none); undefined when there is none. */
  readonly pool?: NodePoolSpec;
  readonly replicas: number;
  readonly maxReplicas: number;
  readonly cpu: Cpu;
  readonly memory: Memory;
  readonly hugepages: Memory;
  readonly gpus: number;
  /** Host-network pods hold their port on the node: two replicas never share one. */
  readonly hostNetwork: boolean;
  readonly batch: boolean;
  /**
   * Whether each pod keeps a PersistentVolume. The storage classes are zonal (`WaitForFirstConsumer`
   * binds a volume in the zone of the pod's first node), so such a pod can never move to another zone.
   */
  readonly zonalVolume: boolean;
}

/** Every workload of an environment with the pool its pods land on. */
export function podDemands(catalog: readonly EngineSpec[], stores: readonly DataStoreSpec[], environment: EnvironmentSpec): PodDemand[] {
  const general = poolForRole(environment, 'general');
  return [
    ...enabledEngines(catalog, environment).map((engine): PodDemand => {
      const plan = planEngine(engine, environment);
      return {
        subject: engine.name, pool: plan.pool ?? general, replicas: plan.replicas, maxReplicas: plan.autoscaling?.maxReplicas ?? plan.replicas,
        cpu: plan.cpuRequest, memory: plan.memoryRequest, hugepages: plan.hugepages2Mi ?? Memory.mebibytes(0), gpus: plan.gpus,
        hostNetwork: plan.hostNetwork, batch: isBatch(engine), zonalVolume: false,
      };
    }),
    ...stores.map((store): PodDemand => {
      const plan = planDataStore(store, environment);
      const pod = plan.podRequests;
      return {
        subject: store.name, pool: plan.pool ?? general, replicas: plan.replicas, maxReplicas: plan.replicas,
        cpu: pod.cpu, memory: pod.memory, hugepages: Memory.mebibytes(0), gpus: 0, hostNetwork: false, batch: false, zonalVolume: true,
      };
    }),
  ];
}

/** A DaemonSet of ours with a pod on every node of a pool. */
export interface NodeDaemonSet {
  readonly name: string;
  readonly cpu: Cpu;
  readonly memory: Memory;
}

/** The DaemonSets the environment's manifests run on each node of `pool` (the NVIDIA device plugin on GPU nodes). */
export function nodeDaemonSets(environment: EnvironmentSpec, pool: NodePoolSpec): NodeDaemonSet[] {
  const devicePlugin = poolForRole(environment, 'gpu') !== undefined && (pool.instance.gpus ?? 0) > 0;
  return devicePlugin ? [{ name: DEVICE_PLUGIN_NAME, ...DEVICE_PLUGIN_RESOURCES }] : [];
}

/** Room for pods: CPU in millicores, memory and hugepages in MiB, GPUs and pod slots. */
export interface Room {
  readonly cpu: number;
  readonly memory: number;
  readonly hugepages: number;
  readonly gpus: number;
  readonly pods: number;
}

/** What one node of `pool` leaves for workload pods: its allocatable less the DaemonSet pods on it. */
export function nodeRoom(environment: EnvironmentSpec, pool: NodePoolSpec): Room {
  const allocatable = nodeAllocatable(pool);
  const daemons = nodeDaemonSets(environment, pool);
  return {
    cpu: allocatable.cpu.millicores - daemons.reduce((sum, d) => sum + d.cpu.millicores, 0),
    memory: allocatable.memory.mebibytes - daemons.reduce((sum, d) => sum + d.memory.mebibytes, 0),
    hugepages: allocatable.hugepages2Mi.mebibytes,
    gpus: allocatable.gpus,
    pods: allocatable.pods - daemons.length,
  };
}

/** One pod's requests as a {@link Room} (one pod slot). */
export function podRoom(demand: PodDemand): Room {
  return { cpu: demand.cpu.millicores, memory: demand.memory.mebibytes, hugepages: demand.hugepages.mebibytes, gpus: demand.gpus, pods: 1 };
}

/** `room` times `count`. */
export function timesRoom(room: Room, count: number): Room {
  return { cpu: room.cpu * count, memory: room.memory * count, hugepages: room.hugepages * count, gpus: room.gpus * count, pods: room.pods * count };
}

/** The sum of `rooms`. */
export function sumRooms(rooms: readonly Room[]): Room {
  return rooms.reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory, hugepages: a.hugepages + b.hugepages, gpus: a.gpus + b.gpus, pods: a.pods + b.pods }),
    { cpu: 0, memory: 0, hugepages: 0, gpus: 0, pods: 0 });
}

/** The first resource of which `need` exceeds `have`, rendered for a message; undefined when it fits. */
export function shortfall(need: Room, have: Room): string | undefined {
  if (need.cpu > have.cpu) return `${Cpu.millis(need.cpu)} CPU where ${Cpu.millis(Math.max(0, have.cpu))} is available`;
  if (need.memory > have.memory) return `${Memory.mebibytes(need.memory)} of memory where ${Memory.mebibytes(Math.max(0, have.memory))} is available`;
  if (need.hugepages > have.hugepages) return `${Memory.mebibytes(need.hugepages)} of 2Mi hugepages where ${Memory.mebibytes(have.hugepages)} is available`;
  if (need.gpus > have.gpus) return `${need.gpus} GPUs where ${have.gpus} are available`;
  if (need.pods > have.pods) return `${need.pods} pods where ${have.pods} may run`;
  return undefined;
}

/** The pods of one workload to place: movable ones spread over zones, or ones bound to a zone by their volume. */
export interface PackingGroup {
  readonly subject: string;
  readonly pod: Room;
  /** Replicas free to go to any zone of the pool (spread evenly, as the placement policy requires). */
  readonly replicas: number;
  /** Replicas bound to a zone (their volume's), one entry per replica. */
  readonly boundZones?: readonly string[];
  /** No two replicas on one node (a host port). */
  readonly onePerNode: boolean;
}

/** A node to pack onto. */
export interface PackingNode {
  readonly zone: string;
  readonly room: Room;
}

/** Why a packing failed: the workload whose replica found no node, and where it was looking. */
export interface PackingFailure {
  readonly subject: string;
  readonly placed: number;
  readonly wanted: number;
  readonly zones: readonly string[];
}

function fits(pod: Room, free: Room): boolean {
  return pod.cpu <= free.cpu && pod.memory <= free.memory && pod.hugepages <= free.hugepages && pod.gpus <= free.gpus && pod.pods <= free.pods;
}

/** A pod's size relative to a node, for ordering: the larger of its CPU and memory shares. */
function weight(pod: Room, node: Room): number {
  return Math.max(pod.cpu / Math.max(1, node.cpu), pod.memory / Math.max(1, node.memory)) + pod.gpus + pod.hugepages / Math.max(1, node.hugepages || 1);
}

/**
 * Places every replica of `groups` on `nodes`, first-fit decreasing, as the scheduler's
 * constraints allow: replicas of one workload spread evenly over the zones that have nodes (a
 * replica only goes to a zone holding the fewest of them: maxSkew 1, DoNotSchedule), bound
 * replicas only in their zone, one-per-node workloads never twice on a node. A heuristic: it can
 * report a failure where a cleverer order would fit (never the other way round: what it places,
 * fits), so a failure names the workload and lets the reader judge.
 *
 * @returns undefined when everything is placed, else the first workload that could not be.
 */
export function packPods(nodes: readonly PackingNode[], groups: readonly PackingGroup[]): PackingFailure | undefined {
  const free = nodes.map((n) => ({ zone: n.zone, room: { ...n.room }, subjects: new Set<string>() }));
  const zones = [...new Set(nodes.map((n) => n.zone))];
  const reference = nodes[0]?.room ?? { cpu: 1, memory: 1, hugepages: 1, gpus: 1, pods: 1 };
  // Bound replicas first (they have one zone), then the largest pods, one-per-node ones first among equals.
  const ordered = [...groups].sort((a, b) =>
    Number((b.boundZones?.length ?? 0) > 0) - Number((a.boundZones?.length ?? 0) > 0)
    || weight(b.pod, reference) - weight(a.pod, reference)
    || Number(b.onePerNode) - Number(a.onePerNode)
    || a.subject.localeCompare(b.subject));
  for (const group of ordered) {
    const perZone = new Map(zones.map((z) => [z, 0]));
    const wanted = (group.boundZones?.length ?? 0) + group.replicas;
    let placed = 0;
    const place = (allowed: readonly string[]): boolean => {
      // Best fit: the node the pod leaves least CPU free on, so large pods keep finding room. One
      // pass keeping the first of equals (what a stable sort would put first): linear in the nodes.
      let node: (typeof free)[number] | undefined;
      for (const n of free) {
        if (!allowed.includes(n.zone) || !fits(group.pod, n.room) || (group.onePerNode && n.subjects.has(group.subject))) continue;
        if (!node || n.room.cpu < node.room.cpu || (n.room.cpu === node.room.cpu && n.room.memory < node.room.memory)) node = n;
      }
      if (!node) return false;
      node.room = {
        cpu: node.room.cpu - group.pod.cpu, memory: node.room.memory - group.pod.memory, hugepages: node.room.hugepages - group.pod.hugepages,
        gpus: node.room.gpus - group.pod.gpus, pods: node.room.pods - group.pod.pods,
      };
      node.subjects.add(group.subject);
      perZone.set(node.zone, (perZone.get(node.zone) ?? 0) + 1);
      placed += 1;
      return true;
    };
    for (const zone of group.boundZones ?? []) {
      if (!place([zone])) return { subject: group.subject, placed, wanted, zones: [zone] };
    }
    for (let i = 0; i < group.replicas; i++) {
      // One replica has no spread constraint; more go to the zones holding the fewest.
      const spread = wanted > 1;
      const fewest = Math.min(...perZone.values());
      const allowed = spread ? zones.filter((z) => perZone.get(z) === fewest) : zones;
      if (!place(allowed)) return { subject: group.subject, placed, wanted, zones: allowed };
    }
  }
  return undefined;
}

/** One node as the scheduler sees it: its zone, its free room and the workloads with a pod on it. */
export interface ScheduledNode {
  readonly zone: string;
  room: Room;
  readonly pods: string[];
}

/**
 * Places `count` more replicas of one workload the way kube-scheduler's default profile does:
 * only in zones holding the fewest of its pods (topology spread, maxSkew 1, DoNotSchedule; over
 * `zones`), never twice on a node for a host-port workload, and on the node with the most free
 * room (the LeastAllocated score) — not the best fit, so room fragments as it does on a cluster.
 * Pods already on `nodes` stay where they are. Mutates `nodes`. `podsPerZone`, when given, is how
 * many pods of `subject` each zone already holds (saves counting them on every node).
 *
 * @returns how many of the replicas found a node.
 */
export function scheduleReplicas(
  nodes: ScheduledNode[], subject: string, pod: Room, count: number, zones: readonly string[], onePerNode: boolean,
  podsPerZone?: ReadonlyMap<string, number>,
): number {
  const capacity = nodes[0]?.room ?? pod;
  const freeShare = (n: ScheduledNode): number => n.room.cpu / Math.max(1, capacity.cpu) + n.room.memory / Math.max(1, capacity.memory);
  // The workload's pods per zone, counted once and kept up to date as replicas are placed.
  const perZone = new Map(zones.map((z) => [z, podsPerZone?.get(z) ?? 0]));
  if (!podsPerZone) {
    for (const n of nodes) {
      if (perZone.has(n.zone)) perZone.set(n.zone, perZone.get(n.zone)! + n.pods.filter((p) => p === subject).length);
    }
  }
  for (let placed = 0; placed < count; placed++) {
    const fewest = Math.min(...perZone.values());
    const allowed = zones.filter((z) => perZone.get(z) === fewest);
    // The node with the most free room; the first of equals, as a stable sort would give.
    let node: ScheduledNode | undefined;
    let best = -Infinity;
    for (const n of nodes) {
      if (!allowed.includes(n.zone) || !fits(pod, n.room) || (onePerNode && n.pods.includes(subject))) continue;
      const share = freeShare(n);
      if (share > best) { node = n; best = share; }
    }
    if (!node) return placed;
    perZone.set(node.zone, perZone.get(node.zone)! + 1);
    node.room = {
      cpu: node.room.cpu - pod.cpu, memory: node.room.memory - pod.memory, hugepages: node.room.hugepages - pod.hugepages,
      gpus: node.room.gpus - pod.gpus, pods: node.room.pods - pod.pods,
    };
    node.pods.push(subject);
  }
  return count;
}
