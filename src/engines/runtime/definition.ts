/**
 * What an engine is, as its own source declares it (`<engine>/engine.json`): its port, probe
 * paths and dependencies. The runtime serves exactly these; the manifests are derived from the
 * catalog, and test/contract checks that the two agree.
 */
import { METRICS_PATH } from './metric-names';

/** The data stores an engine can depend on. */
export type StoreName = 'redis' | 'timescaledb';

/** Probe paths an engine serves. */
export interface HealthPaths {
  /** Answers 200 while the process is alive. */
  readonly liveness: string;
  /** Answers 200 while every declared data store answers and the engine has warmed up. */
  readonly readiness: string;
}

/** A long-running engine serving HTTP. */
export interface ServiceEngineDefinition {
  readonly name: string;
  readonly kind: 'service';
  /** The TCP port the engine serves HTTP (API, probes, `/metrics`) on. */
  readonly port: number;
  readonly health: HealthPaths;
  /** Data stores it connects to; readiness requires each to answer. */
  readonly stores: readonly StoreName[];
  /** Engines it calls; their URLs must be configured, their readiness is not ours. */
  readonly upstreams: readonly string[];
  /** WebSocket connections it accepts, when its public route upgrades them. @default none (upgrades are refused) */
  readonly websocket?: WebSocketDefinition;
}

/** The WebSocket connections a service engine accepts (its catalog entry's `publicRoute.websocket`). */
export interface WebSocketDefinition {
  /** Upgrades are accepted on paths under this prefix (the public route's). */
  readonly path: string;
  /** A connection with no message either way for this long is closed. */
  readonly idleTimeoutSeconds: number;
}

/** A batch engine: runs one job and exits. */
export interface BatchEngineDefinition {
  readonly name: string;
  readonly kind: 'batch';
  readonly stores: readonly StoreName[];
  readonly upstreams: readonly string[];
}

/** Either kind of engine. */
export type EngineDefinition = ServiceEngineDefinition | BatchEngineDefinition;

const STORE_NAMES: readonly StoreName[] = ['redis', 'timescaledb'];
const ENGINE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~\/-]*$/;

/** Thrown when an engine.json is malformed: a build error, never a runtime condition. */
export class DefinitionError extends Error {}

function fail(source: string, field: string, value: unknown, fix: string): never {
  throw new DefinitionError(`${source}: ${field} is ${JSON.stringify(value)}; ${fix}`);
}

function stringList(source: string, field: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    fail(source, field, value, 'expected an array of strings');
  }
  return value as string[];
}

/**
 * Validates a parsed engine.json. `source` names it in errors. Accepts `unknown` because JSON
 * imports are typed loosely; the check here is what makes them safe to use.
 */
export function parseEngineDefinition(raw: unknown, source: string): EngineDefinition {
  if (typeof raw !== 'object' || raw === null) fail(source, 'the definition', raw, 'expected a JSON object');
  const value = raw as Record<string, unknown>;
  const name = value.name;
  if (typeof name !== 'string' || !ENGINE_NAME.test(name)) fail(source, 'name', name, 'expected an RFC 1123 label');
  const stores = stringList(source, 'stores', value.stores);
  for (const store of stores) {
    if (!STORE_NAMES.includes(store as StoreName)) fail(source, 'a store', store, `expected one of ${STORE_NAMES.join(', ')}`);
  }
  const upstreams = stringList(source, 'upstreams', value.upstreams);
  for (const upstream of upstreams) {
    if (!ENGINE_NAME.test(upstream)) fail(source, 'an upstream', upstream, 'expected an engine name');
  }
  if (value.kind === 'batch') {
    return { name, kind: 'batch', stores: stores as StoreName[], upstreams };
  }
  if (value.kind !== 'service') fail(source, 'kind', value.kind, "expected 'service' or 'batch'");
  const port = value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(source, 'port', port, 'expected an integer from 1 to 65535');
  }
  const health = value.health as Record<string, unknown> | undefined;
  if (typeof health !== 'object' || health === null) fail(source, 'health', health, 'expected { liveness, readiness }');
  for (const key of ['liveness', 'readiness'] as const) {
    const path = health[key];
    if (typeof path !== 'string' || !HTTP_PATH.test(path) || path === METRICS_PATH) {
      fail(source, `health.${key}`, path, 'expected an absolute HTTP path other than /metrics');
    }
  }
  if (health.liveness === health.readiness) {
    fail(source, 'health.readiness', health.readiness, 'must differ from health.liveness: they answer different questions');
  }
  return {
    name,
    kind: 'service',
    port,
    health: { liveness: health.liveness as string, readiness: health.readiness as string },
    stores: stores as StoreName[],
    upstreams,
    ...(value.websocket === undefined ? {} : { websocket: parseWebSocket(source, value.websocket) }),
  };
}

function parseWebSocket(source: string, raw: unknown): WebSocketDefinition {
  if (typeof raw !== 'object' || raw === null) fail(source, 'websocket', raw, 'expected { path, idleTimeoutSeconds } or no websocket field');
  const { path, idleTimeoutSeconds } = raw as Record<string, unknown>;
  if (typeof path !== 'string' || !HTTP_PATH.test(path)) fail(source, 'websocket.path', path, 'expected an absolute HTTP path prefix');
  if (typeof idleTimeoutSeconds !== 'number' || !Number.isInteger(idleTimeoutSeconds) || idleTimeoutSeconds < 1) {
    fail(source, 'websocket.idleTimeoutSeconds', idleTimeoutSeconds, 'expected a whole number of seconds, at least 1');
  }
  return { path, idleTimeoutSeconds };
}
