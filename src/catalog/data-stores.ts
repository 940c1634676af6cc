import { Cpu, Memory } from '../model/quantities';
import { DataStoreName } from './engine-spec';

/** A stateful data store the engines depend on. */
export interface DataStoreSpec {
  /** Kubernetes name of its StatefulSet and Services. */
  readonly name: DataStoreName;
  /** Container image, pinned by version (pulled from the environment's registry mirror). */
  readonly image: string;
  /** The port clients connect to. */
  readonly port: number;
  /** The name of that port on the Services and the container (protocol-aware proxies read it). */
  readonly portName: string;
  /** Requests (== limits) in production. */
  readonly cpu: Cpu;
  readonly memory: Memory;
  /** Volume size per replica in production. */
  readonly storage: Memory;
  /** Which of the environment's storage classes the volume uses. */
  readonly storageTier: 'fast' | 'standard';
  /** The user and group id the image's server runs as (for runAsUser and fsGroup). */
  readonly uid: number;
  /** How long to wait for a clean shutdown (checkpoint or AOF fsync) before SIGKILL. */
  readonly terminationGracePeriodSeconds: number;
  /**
   * Ports the members of a replicated store use to reach each other, besides the client port
   * (which replication also uses). Opened between members only when there are two or more.
   */
  readonly peerPorts: ReadonlyArray<{ readonly name: string; readonly port: number }>;
  /**
   * Whole CPUs the server gets where the environment pins cores, because the ultra-low-latency
   * tier reads it on every request; the store then runs on the latency pool with Guaranteed QoS.
   * Absent: the store is never pinned and runs on the storage pool.
   */
  readonly pinnedCpu?: Cpu;
}

/** TimescaleDB: PostgreSQL 16 with the timescaledb extension, one primary (see README: HA). */
export const TIMESCALEDB: DataStoreSpec = {
  name: 'timescaledb',
  image: 'timescale/timescaledb:2.17.2-pg16',
  port: 5432,
  portName: 'postgres',
  cpu: Cpu.cores(2),
  memory: Memory.gibibytes(8),
  storage: Memory.gibibytes(100),
  storageTier: 'fast',
  uid: 70,
  terminationGracePeriodSeconds: 120,
  peerPorts: [],
};

/**
 * Redis Sentinel, beside each Redis member where the environment replicates Redis: its port, the
 * name it monitors the primary under (clients ask for it), and its container's small budget
 * (request == limit, so a pinned Redis pod stays Guaranteed; never a whole CPU, so never pinned).
 */
export const REDIS_SENTINEL = {
  port: 26379,
  portName: 'sentinel',
  masterName: 'nautilus',
  cpu: Cpu.millis(100),
  memory: Memory.mebibytes(64),
} as const;

/**
 * Redis with AOF persistence: one primary, replicas and Sentinel where the environment's Redis
 * settings ask for them. Pinned to a whole core where the environment pins cores.
 */
export const REDIS: DataStoreSpec = {
  name: 'redis',
  image: 'redis:7.4.1-alpine',
  port: 6379,
  portName: 'redis',
  cpu: Cpu.millis(500),
  memory: Memory.gibibytes(1),
  storage: Memory.gibibytes(20),
  storageTier: 'fast',
  uid: 999,
  terminationGracePeriodSeconds: 30,
  peerPorts: [{ name: REDIS_SENTINEL.portName, port: REDIS_SENTINEL.port }],
  pinnedCpu: Cpu.cores(1),
};

/** Every data store, by name. */
export const PLATFORM_DATA_STORES: Readonly<Record<DataStoreName, DataStoreSpec>> = {
  timescaledb: TIMESCALEDB,
  redis: REDIS,
};
