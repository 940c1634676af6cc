import { DataStoreSpec } from '../../catalog/data-stores';
import { AlertSeverity } from '../../catalog/tier';
import { EnvironmentSpec, NodePoolSpec } from '../../environments/environment';
import { DataFormat } from '../../model/data-format';
import { Finding } from '../../model/errors';
import { Cpu, Memory } from '../../model/quantities';
import { EnvironmentVariable } from '../environment-variables';
import { SecretDefinition } from '../store-access';
import { DisruptionBudgetPlan, EnginePlan } from '../plan';
import { AlertingRule } from '../monitoring';
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
  /** Members that must be up for the store to serve and fail over: a majority (all of one). */
  readonly quorum: number;
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
  /** The on-disk format its server writes (its kind reads it from the image); undefined when the image's tag does not say. */
  readonly dataFormat?: DataFormat;
}

/** A rule on one kind of store's settings: its id (a validation rule's name) and what it finds in a plan of the kind. */
export interface StoreCheck<P extends StorePlanBase> {
  readonly rule: string;
  check(plan: P): Finding[];
}

/** What a kind of store decides for itself before the common plan is made. */
export interface StoreKindBasics {
  /** Members the environment runs. */
  readonly members: number;
  /** What they run beside the server and how Prometheus scrapes them. */
  readonly monitoring: Omit<StoreMonitoringPlan, 'scrapeInterval'>;
}

/** A panel on a store's own series, in the data stores dashboard. */
export interface StorePanel {
  readonly title: string;
  /** Grafana's unit of the values: `short`, `bytes`, `s`. */
  readonly unit: string;
  readonly queries: ReadonlyArray<{ readonly expr: string; readonly legend: string }>;
  /** A red line at this value: where the matching alert fires. */
  readonly objective?: number;
}

/** A series of a store's members as Prometheus scrapes them: `metric{namespace,service[,extra]}`. */
export type StoreSeries = (metric: string, extra?: Readonly<Record<string, string>>) => string;

/** What every store's alerts share, whatever its kind: how they address its series, their labels, how to list its pods. */
export interface StoreAlertContext {
  readonly series: StoreSeries;
  /** The labels of an alert of `severity` on this store. */
  labels(severity: AlertSeverity): Readonly<Record<string, string>>;
  /** The command listing the store's members, for runbooks. */
  readonly listPods: string;
  /**
   * The replication-lag alert on `lag` (bytes each replica is behind): its threshold and delay are
   * the store's (`replicationLagAlert`), its words the kind's.
   */
  replicationLagAlert(lag: string, annotations: AlertingRule['annotations']): AlertingRule;
}

/**
 * One kind of data store, described once: how many members an environment runs and where that is
 * set, what runs beside the server, and what its plan adds to the common one (its replication and
 * failover settings, the ports clients use besides the store's own), the rules on its settings, how
 * engines reach it, and the alerts and dashboard panels on its own series, which share their
 * PromQL. planDataStore, validation, the engines' environment, the summary, the store alerts and
 * the dashboards read it; nothing else asks which store it is handling.
 */
export interface StoreKind<P extends StorePlanBase> {
  /** The environment setting the member count comes from, for messages: `redis.members`. */
  readonly membersSetting: string;
  /** The members and sidecars a store of this kind runs in `environment`. */
  basics(environment: EnvironmentSpec): StoreKindBasics;
  /**
   * The on-disk format the server of `image` writes, from the image's tag: a rollback refuses to
   * move any part of it backwards. Undefined when the tag does not name the versions.
   */
  dataFormat(image: string): DataFormat | undefined;
  /** The plan of this kind: the common decisions with the kind's own added. */
  complete(common: Omit<StorePlanBase, 'synchronousReplication'>): P;
  /** Rules on the kind's own settings (members, failover, replication, backups), run where a store of the kind is deployed. */
  readonly checks: ReadonlyArray<StoreCheck<P>>;
  /** The variables an engine depending on the store is given to reach it (hosts, ports, credentials). */
  engineEnv(plan: P, engine: EnginePlan): EnvironmentVariable[];
  /** The Secrets only the store's own pods read (its superuser, replication and backup credentials), besides its clients' credentials. */
  ownSecrets(plan: P): SecretDefinition[];
  /** The lines the environment's SUMMARY.txt gives the store besides its Secrets: its backups. */
  summary(plan: P): string[];
  /** The alerts on the kind's own series (no primary, replication, failover, its own parts), after the alerts every store has. */
  alerts(plan: P, context: StoreAlertContext): AlertingRule[];
  /** The panels on the kind's own series: each member's role, replication, its own parts. */
  panels(plan: P, series: StoreSeries): StorePanel[];
  /** The series its alerts and panels read, as its exporters name them (checked against the real programs). */
  readonly metrics: Readonly<Record<string, string>>;
}
