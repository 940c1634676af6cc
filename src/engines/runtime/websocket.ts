import { IncomingMessage, Server } from 'http';
import { Duplex } from 'stream';
import { WebSocket, WebSocketServer } from 'ws';
import { WebSocketDefinition } from './definition';
import { EngineContext, ServiceHooks } from './hooks';
import { RUNTIME_METRICS } from './metric-names';

/** Why a connection ended, the `reason` label of {@link RUNTIME_METRICS.webSocketClosed}. */
type CloseReason = 'client' | 'idle' | 'shutdown' | 'error';

/** Close codes (RFC 6455 section 7.4.1). */
const NORMAL_CLOSURE = 1000;
const GOING_AWAY = 1001;
/** How long a peer gets to answer our close frame before its connection is dropped. */
const CLOSE_HANDSHAKE_MS = 2000;
/** The largest message accepted from a client; clients send subscriptions, not bulk data. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * The WebSocket connections of an engine whose public route upgrades them (engine.json's
 * `websocket`), on the engine's own HTTP server, through the `ws` package (the protocol, its
 * framing, masking and ping/pong are its, not ours).
 *
 * - An upgrade on a path under the definition's prefix is accepted; any other is answered 404, and
 *   every upgrade once shutdown has started 503.
 * - A connection with no traffic either way (messages, pings and pongs, from the client or the
 *   engine) for `idleTimeoutSeconds` is closed (1000, "idle timeout"): the socket's own inactivity
 *   timer, so a stream the engine keeps sending on stays open however quiet its client is.
 * - At shutdown every connection is closed with 1001 ("going away"), so clients reconnect to
 *   another replica, before the HTTP server can finish closing.
 * - The engine's trading logic gets each connection through `hooks.onWebSocket`; without it, the
 *   runtime holds the connection open and answers pings.
 */
export class WebSocketEndpoint {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly open = new Set<WebSocket>();
  private readonly reasons = new Map<WebSocket, CloseReason>();
  private accepting = true;
  private readonly closed;

  constructor(
    httpServer: Server,
    private readonly settings: WebSocketDefinition,
    private readonly hooks: ServiceHooks,
    private readonly context: EngineContext,
  ) {
    const { metrics } = context;
    const connections = metrics.gauge(RUNTIME_METRICS.webSocketConnections, 'WebSocket connections open.');
    this.closed = metrics.counter(RUNTIME_METRICS.webSocketClosed, 'WebSocket connections closed, by reason (client, idle, shutdown, error).', ['reason']);
    metrics.onCollect(() => connections.set({}, this.open.size));
    httpServer.on('upgrade', (request: IncomingMessage, raw: Duplex, head: Buffer) => this.upgrade(request, raw, head));
  }

  /** Refuses new upgrades and closes every connection with 1001; resolves when all have ended. */
  async closeAll(): Promise<void> {
    this.accepting = false;
    const ended = [...this.open].map((socket) => new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      this.close(socket, GOING_AWAY, 'going away', 'shutdown');
    }));
    await Promise.all(ended);
  }

  private upgrade(request: IncomingMessage, raw: Duplex, head: Buffer): void {
    const path = (request.url ?? '/').split('?')[0];
    const prefix = this.settings.path;
    const underPrefix = prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
    if (!underPrefix || !this.accepting) {
      const status = this.accepting ? '404 Not Found' : '503 Service Unavailable';
      raw.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.server.handleUpgrade(request, raw, head, (socket) => this.accept(socket, request, raw));
  }

  private accept(socket: WebSocket, request: IncomingMessage, raw: Duplex): void {
    const { logger } = this.context;
    this.open.add(socket);
    const peer = request.socket.remoteAddress;
    // ws clears the socket's timeout when it takes the socket over: set it after.
    if ('setTimeout' in raw && typeof raw.setTimeout === 'function') {
      raw.setTimeout(this.settings.idleTimeoutSeconds * 1000, () => this.close(socket, NORMAL_CLOSURE, 'idle timeout', 'idle'));
    }
    socket.on('error', (error) => {
      logger.warn('websocket error', { peer, error: error.message });
      this.reasons.set(socket, this.reasons.get(socket) ?? 'error');
    });
    socket.once('close', (code) => {
      this.open.delete(socket);
      const reason = this.reasons.get(socket) ?? 'client';
      this.reasons.delete(socket);
      this.closed.inc({ reason });
      logger.info('websocket closed', { peer, code, reason, open: this.open.size });
    });
    logger.info('websocket opened', { peer, path: (request.url ?? '/').split('?')[0], open: this.open.size });
    this.hooks.onWebSocket?.(socket, request, this.context);
  }

  /** Starts the close handshake; a peer that does not answer within {@link CLOSE_HANDSHAKE_MS} is dropped. */
  private close(socket: WebSocket, code: number, text: string, reason: CloseReason): void {
    if (!this.reasons.has(socket)) this.reasons.set(socket, reason);
    socket.close(code, text);
    setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }
}
