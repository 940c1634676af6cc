import { StoreExporterSpec, StoreSidecarSpec } from '../catalog/data-stores';
import { Duration } from '../model/duration';

/**
 * What a store's pods run besides the server and how Prometheus scrapes them, decided once per
 * store and environment: the sidecars (with their budgets, which the namespace quota counts), the
 * scrape endpoints, and the backup age past which `NautilusDataStoreBackupTooOld` fires.
 */
export interface StoreMonitoringPlan {
  /** Containers beside the server, each requested == limited, in pod order. */
  readonly sidecars: readonly StoreSidecarSpec[];
  /** The exporters among them with their own image (the others run the store's image). */
  readonly exporters: readonly StoreExporterSpec[];
  /** Endpoints Prometheus scrapes on every member (the ServiceMonitor's). */
  readonly scrapeEndpoints: readonly StoreScrapeEndpoint[];
  /** How often Prometheus scrapes them: replication lag and role changes are seen within it. */
  readonly scrapeInterval: Duration;
  /** How old a full backup may be before the alert fires; absent where the environment has no backups. */
  readonly backupAgeLimit?: Duration;
}

/** One scrape endpoint of a store's members. */
export interface StoreScrapeEndpoint {
  /** Name of the port on the metrics Service and the container. */
  readonly portName: string;
  readonly port: number;
  readonly path: string;
  /** Query parameters (redis_exporter's `/scrape?target=`). @default none */
  readonly params?: Readonly<Record<string, readonly string[]>>;
  /** The value of the `process` label the scrape adds: which process the series describe. */
  readonly process: string;
}

/** The label every store series carries naming the process it describes (server, sentinel, patroni, backup). */
export const STORE_PROCESS_LABEL = 'process';

/** How long after a failover its alert keeps firing (and the window that detects it). */
export const FAILOVER_WINDOW = Duration.minutes(10);

/** Name of the headless Service Prometheus discovers a store's members through. */
export function storeMetricsServiceName(storeName: string): string {
  return `${storeName}-metrics`;
}

/** `name{a="x",...}` with values quoted for PromQL. */
export function promSelector(name: string, matchers: Readonly<Record<string, string>>): string {
  return `${name}{${Object.entries(matchers).map(([label, value]) => `${label}=${JSON.stringify(value)}`).join(',')}}`;
}

/** A store's series as its ServiceMonitor scrapes them, `metric{namespace,service[,extra]}`: the matchers its alerts and panels share. */
export function storeSeries(namespace: string, storeName: string): (metric: string, extra?: Readonly<Record<string, string>>) => string {
  const scraped = { namespace, service: storeMetricsServiceName(storeName) };
  return (metric, extra = {}) => promSelector(metric, { ...scraped, ...extra });
}

/** How often Prometheus scrapes every store: replication lag and role changes are seen within it. */
export const STORE_SCRAPE_INTERVAL = Duration.seconds(15);
