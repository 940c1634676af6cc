import { IncomingMessage, ServerResponse } from 'http';
import type { WebSocket } from 'ws';
import { RuntimeConfig } from './config';
import { EngineDefinition } from './definition';
import { Logger } from './logger';
import { MetricsRegistry } from './metrics';

/** What trading logic gets from the runtime. */
export interface EngineContext {
  readonly definition: EngineDefinition;
  readonly config: RuntimeConfig;
  readonly logger: Logger;
  /** Register the engine's own metrics here; they are served on `/metrics`. */
  readonly metrics: MetricsRegistry;
  /** The CPUs the process may run on, when pinned. */
  readonly cpuSet?: readonly number[];
  /** Aborted when shutdown starts: long work should stop. */
  readonly shutdown: AbortSignal;
}

/** Handles one HTTP request of an engine's own API. */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse, context: EngineContext) => void | Promise<void>;

/**
 * Where a service engine's trading logic plugs in. Every hook is optional: without them an
 * engine serves only its probes and `/metrics`.
 */
export interface ServiceHooks {
  /** The engine's own API, keyed `METHOD /path` (e.g. `POST /orders`). */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /**
   * Takes each WebSocket connection the engine accepts (engines whose engine.json has `websocket`):
   * subscribe it, send on it. The runtime closes it when idle or at shutdown. @default the
   * connection is held open and answers pings
   */
  readonly onWebSocket?: (socket: WebSocket, request: IncomingMessage, context: EngineContext) => void;
  /** Runs once at start (JIT warm-up, cache loads); readiness stays false until it resolves. */
  readonly warmUp?: (context: EngineContext) => Promise<void>;
  /** Runs during shutdown after in-flight requests have drained. */
  readonly onShutdown?: (context: EngineContext) => Promise<void>;
}

/** Where a batch engine's work plugs in. */
export interface JobHooks {
  /** The job; it runs once the data stores answer. Throwing fails the run (the Job retries). */
  readonly run?: (context: EngineContext) => Promise<void>;
}
