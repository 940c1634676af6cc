/**
 * The names of the series every engine serves on `/metrics`: one definition shared by the runtime
 * (which registers them) and the manifests (the prometheus-adapter rule behind the HPAs'
 * `requests_per_second`, the alert and recording rules, the dashboards). Renaming one here
 * renames it everywhere; the end-to-end Prometheus test proves both sides agree.
 */
export const RUNTIME_METRICS = {
  /** Counter of answered HTTP requests, labels `path` (route or `unmatched`) and `status`. */
  requests: 'nautilus_http_requests_total',
  /** Histogram of answer times in seconds, label `path`; buckets {@link LATENCY_BUCKETS}. */
  requestDuration: 'nautilus_http_request_duration_seconds',
  /** Gauge of HTTP requests being answered. */
  requestsInFlight: 'nautilus_http_requests_in_flight',
  /** Gauge of open WebSocket connections (engines whose public route upgrades them). */
  webSocketConnections: 'nautilus_websocket_connections',
  /** Counter of closed WebSocket connections, label `reason` (`client`, `idle`, `shutdown`, `error`). */
  webSocketClosed: 'nautilus_websocket_closed_total',
  /** Gauge: 1 while the engine reports ready. */
  ready: 'nautilus_ready',
  /** Gauge, always 1, labels `engine`, `environment`, `tier`. */
  info: 'nautilus_engine_info',
  /** Gauge: 1 while a dependency (label `dependency`: `redis`, `timescaledb`) answers its check. */
  dependencyUp: 'nautilus_dependency_up',
  /** Gauge: how long the last check of a dependency took, in seconds. */
  dependencyCheckDuration: 'nautilus_dependency_check_duration_seconds',
  /** Gauge: resident memory of the process, in bytes. */
  residentMemory: 'process_resident_memory_bytes',
  /** Gauge: start time of the process since the Unix epoch, in seconds. */
  startTime: 'process_start_time_seconds',
} as const;

/** Latency buckets in seconds: from the pinned tier's sub-millisecond answers to slow API calls. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The `path` label of requests that match no route (kept to one series against scanners). */
export const UNMATCHED_PATH = 'unmatched';

/** The path Prometheus scrapes. */
export const METRICS_PATH = '/metrics';
