import { Duration } from '../model/duration';
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
  readonly terminationGracePeriod: Duration;
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
  /**
   * Whether the store's pods call HTTPS APIs outside the pod network: the Kubernetes API (a
   * replication manager's leader lock) and an object store (backups).
   */
  readonly callsHttpsApis: boolean;
  /**
   * How far a replica may fall behind its primary, in bytes of replication stream, and for how
   * long, before `NautilusDataStoreReplicationLag` fires (replicated environments only).
   */
  readonly replicationLagAlert: { readonly bytes: Memory; readonly for: Duration };
}

/** A container beside a store's server: what it is called and its budget (request == limit). */
export interface StoreSidecarSpec {
  /** The container's name. */
  readonly name: string;
  readonly cpu: Cpu;
  readonly memory: Memory;
}

/** A metrics exporter beside a store's server, scraped by Prometheus on `port`. */
export interface StoreExporterSpec extends StoreSidecarSpec {
  /** Container image, pinned by version (pulled through the environment's registry mirror). */
  readonly image?: string;
  readonly port: number;
  readonly portName: string;
}

/**
 * How TimescaleDB runs under Patroni, in the image below: the facts the StatefulSet, the Patroni
 * configuration, the Role and the failover test share.
 */
export const TIMESCALEDB_PATRONI = {
  /** Patroni's cluster name (`scope`): names its leader and config ConfigMaps (`<scope>`, `<scope>-config`). */
  scope: 'timescaledb',
  /** Patroni's REST API (health, role, switchover). */
  restApiPort: 8008,
  restApiPortName: 'patroni',
  /** The Service routing to replicas only, for read-only clients (the client Service routes to the primary). */
  replicaService: 'timescaledb-replica',
  /** The pod label Patroni keeps on each member with its role. */
  roleLabel: 'role',
  /** Values of the role label. Patroni 4 calls the leader `primary` (3.x: `master`): set explicitly. */
  primaryRole: 'primary',
  replicaRole: 'replica',
  /** Label holding the scope on each member; Patroni lists members by it. */
  scopeLabel: 'cluster-name',
  /** Where the image keeps PostgreSQL's programs and where the data directory goes on the volume. */
  binDirectory: '/usr/lib/postgresql/16/bin',
  volumeMountPath: '/home/postgres/pgdata',
  dataDirectory: '/home/postgres/pgdata/data',
  /** Where the generated configuration is mounted. */
  configDirectory: '/etc/timescaledb',
  /** The Unix socket directory (a writable emptyDir under a read-only root filesystem). */
  socketDirectory: '/var/run/postgresql',
  /** pgBackRest's name for this database cluster. */
  backupStanza: 'timescaledb',
  /** Patroni releases this configuration is written for (the failover test installs the first). */
  patroniVersion: '4.1.5',
} as const;

/**
 * TimescaleDB: PostgreSQL 16 with the timescaledb extension, replicated and failed over by
 * Patroni; pgBackRest archives WAL and takes full backups. The timescaledb-ha image ships all four.
 */
export const TIMESCALEDB: DataStoreSpec = {
  name: 'timescaledb',
  image: 'timescale/timescaledb-ha:pg16.6-ts2.17.2',
  port: 5432,
  portName: 'postgres',
  cpu: Cpu.cores(2),
  memory: Memory.gibibytes(8),
  storage: Memory.gibibytes(100),
  storageTier: 'fast',
  // The timescaledb-ha image runs as `postgres`, uid and gid 1000.
  uid: 1000,
  terminationGracePeriod: Duration.minutes(2),
  peerPorts: [{ name: TIMESCALEDB_PATRONI.restApiPortName, port: TIMESCALEDB_PATRONI.restApiPort }],
  callsHttpsApis: true,
  // 64 MiB of WAL is a few seconds of heavy ingest; five minutes behind that is a stuck replica.
  replicationLagAlert: { bytes: Memory.mebibytes(64), for: Duration.minutes(5) },
};

/** The container running the full-backup schedule beside each TimescaleDB member (environments with backups). */
export const TIMESCALEDB_BACKUP_SCHEDULE: StoreSidecarSpec = {
  name: 'backup-schedule',
  cpu: Cpu.millis(100),
  memory: Memory.mebibytes(256),
};

/**
 * pgBackRest's backup ages for Prometheus, beside each TimescaleDB member (environments with
 * backups): a small generated Python program in the store's own image (it ships pgBackRest and
 * Python), because the maintained pgbackrest_exporter cannot be installed here (the Go module
 * proxy refuses github.com/woblerr/pgbackrest_exporter, and Debian does not package it). It serves
 * that exporter's metric names on its default port, so replacing it changes no rule.
 */
export const TIMESCALEDB_BACKUP_METRICS: StoreExporterSpec = {
  name: 'backup-metrics',
  port: 9854,
  portName: 'backup-metrics',
  cpu: Cpu.millis(100),
  memory: Memory.mebibytes(128),
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
  terminationGracePeriod: Duration.seconds(30),
  peerPorts: [{ name: REDIS_SENTINEL.portName, port: REDIS_SENTINEL.port }],
  pinnedCpu: Cpu.cores(1),
  callsHttpsApis: false,
  // Redis replicas stream commands as they happen: 8 MiB behind for two minutes is a replica that cannot keep up.
  replicationLagAlert: { bytes: Memory.mebibytes(8), for: Duration.minutes(2) },
};

/**
 * oliver006/redis_exporter beside every Redis member: the server's metrics on `/metrics`, its
 * Sentinel's on `/scrape?target=...`. v1.45.0 is the release Debian packages
 * (`prometheus-redis-exporter`), which the tests run: the Go module proxy refuses the module.
 */
export const REDIS_EXPORTER: StoreExporterSpec & { readonly image: string } = {
  name: 'metrics',
  image: 'oliver006/redis_exporter:v1.45.0',
  port: 9121,
  portName: 'metrics',
  cpu: Cpu.millis(50),
  memory: Memory.mebibytes(64),
};

/** Every data store, by name. */
export const PLATFORM_DATA_STORES: Readonly<Record<DataStoreName, DataStoreSpec>> = {
  timescaledb: TIMESCALEDB,
  redis: REDIS,
};
