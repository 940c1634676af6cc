import { DataStoreSpec } from '../../catalog/data-stores';
import { EnvironmentSpec, NodePoolSpec } from '../../environments/environment';
import { Cpu, Memory } from '../../model/quantities';
import { DisruptionBudgetPlan } from '../plan';
import { StoreMonitoringPlan } from '../store-monitoring';

/** A port clients or peers connect to, by name. */
export interface NamedPort {
  readonly name: string;
  readonly port: number;
}

/** What every data store plan holds, whatever the store's kind: decided once in planDataStore. */
export interface StorePlanBase {
  readonly store: DataStoreSpec;
  readonly environment: EnvironmentSpec;
  readonly namespace: string;
  /** Members of the store (one primary, the rest replicas). */
  readonly replicas: number;
  /** The environment setting the member count comes from, for messages: `redis.members`. */
  readonly membersSetting: string;
  /** Whether a commit waits for a replica to confirm it. */
  readonly synchronousReplication: boolean;
  /** The PodDisruptionBudget: one member at a time, where there is more than one. */
  readonly disruptionBudget?: DisruptionBudgetPlan;
  readonly cpuRequest: Cpu;
  /** Set only where the server gets exclusive whole cores (Guaranteed QoS): equal to the request. */
  readonly cpuLimit?: Cpu;
  /** Whether the server gets exclusive whole cores (Guaranteed QoS on a static-CPU-manager pool). */
  readonly pinned: boolean;
  readonly memory: Memory;
  readonly storage: Memory;
  readonly storageClassName: string;
  /** The pool the members are placed on; undefined when the environment's general nodes take them untainted. */
  readonly pool?: NodePoolSpec;
  /** The pool whose nodes the members land on: their own, else the general pool (undefined where the environment has neither). */
  readonly nodePool?: NodePoolSpec;
  /** The zones the members can run in: their node pool's, else the environment's. */
  readonly zones: readonly string[];
  /** The ports clients connect to: the store's own, and those its kind adds (Sentinel's). */
  readonly clientPorts: readonly NamedPort[];
  /** Containers beside the server, scrape endpoints and the backup age limit. */
  readonly monitoring: StoreMonitoringPlan;
  /** What one member's pod requests: the server's budget plus every sidecar's (Sentinel, backups, exporters). */
  readonly podRequests: { readonly cpu: Cpu; readonly memory: Memory };
}

/** What a kind of store decides for itself before the common plan is made. */
export interface StoreKindBasics {
  /** Members the environment runs. */
  readonly members: number;
  /** What they run beside the server and how Prometheus scrapes them. */
  readonly monitoring: Omit<StoreMonitoringPlan, 'scrapeInterval'>;
}

/**
 * One kind of data store, described once: how many members an environment runs and where that is
 * set, what runs beside the server, and what its plan adds to the common one (its replication and
 * failover settings, the ports clients use besides the store's own). planDataStore reads it;
 * nothing else asks which store it is handling.
 */
export interface StoreKind<P extends StorePlanBase> {
  /** The environment setting the member count comes from, for messages: `redis.members`. */
  readonly membersSetting: string;
  /** The members and sidecars a store of this kind runs in `environment`. */
  basics(environment: EnvironmentSpec): StoreKindBasics;
  /** The plan of this kind: the common decisions with the kind's own added. */
  complete(common: Omit<StorePlanBase, 'synchronousReplication'>): P;
}
