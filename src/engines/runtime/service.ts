import { IncomingMessage, Server, ServerResponse, createServer } from 'http';
import { EXIT_CONFIGURATION, bootstrap } from './bootstrap';
import { DependencyMonitor } from './dependencies';
import { EngineContext, RouteHandler, ServiceHooks } from './hooks';
import { LATENCY_BUCKETS, METRICS_PATH, RUNTIME_METRICS, UNMATCHED_PATH } from './metric-names';
import { PROMETHEUS_CONTENT_TYPE } from './metrics';
import { WebSocketEndpoint } from './websocket';

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  response.end(text);
}

/**
 * Runs a service engine: HTTP on the definition's port with liveness, readiness and `/metrics`,
 * the engine's own routes (its trading-logic hook), background dependency checks, and a graceful
 * shutdown on SIGTERM. Exits the process when done.
 *
 * @param rawDefinition the engine's engine.json, validated here
 */
export function runService(rawDefinition: unknown, hooks: ServiceHooks = {}): void {
  const { definition, config, logger, metrics, cpuSet, checks } = bootstrap(rawDefinition, 'engine.json');
  if (definition.kind !== 'service') {
    logger.error('invalid engine definition', { problem: `runService needs a service engine, got kind ${definition.kind}` });
    process.exit(EXIT_CONFIGURATION);
  }
  const { port, health } = definition;
  const abort = new AbortController();
  const context: EngineContext = { definition, config, logger, metrics, cpuSet, shutdown: abort.signal };

  const requests = metrics.counter(RUNTIME_METRICS.requests, 'HTTP requests answered, by route path and status code.', ['path', 'status']);
  const latency = metrics.histogram(RUNTIME_METRICS.requestDuration, 'Time to answer an HTTP request, by route path.', ['path'], LATENCY_BUCKETS);
  const readyGauge = metrics.gauge(RUNTIME_METRICS.ready, 'Whether the engine reports ready (1) or not (0).');
  const inFlightGauge = metrics.gauge(RUNTIME_METRICS.requestsInFlight, 'HTTP requests being answered.');
  const monitor = new DependencyMonitor(checks, logger, metrics);

  let warmedUp = hooks.warmUp === undefined;
  let shuttingDown = false;
  let inFlight = 0;
  const isReady = () => warmedUp && !shuttingDown && monitor.allUp;
  metrics.onCollect(() => {
    readyGauge.set({}, isReady() ? 1 : 0);
    inFlightGauge.set({}, inFlight);
  });

  const builtIn: Record<string, RouteHandler> = {
    [`GET ${health.liveness}`]: (_request, response) => sendJson(response, 200, { status: 'alive' }),
    [`GET ${health.readiness}`]: (_request, response) => {
      const ready = isReady();
      sendJson(response, ready ? 200 : 503, {
        status: ready ? 'ready' : 'not ready',
        warmedUp,
        shuttingDown,
        dependencies: monitor.snapshot(),
      });
    },
    [`GET ${METRICS_PATH}`]: (_request, response) => {
      const text = metrics.render();
      response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
      response.end(text);
    },
  };
  for (const key of Object.keys(hooks.routes ?? {})) {
    if (key in builtIn) throw new Error(`engine ${definition.name}: route ${key} is the runtime's own`);
  }
  const routes: Record<string, RouteHandler> = { ...hooks.routes, ...builtIn };
  const paths = new Set(Object.keys(routes).map((key) => key.slice(key.indexOf(' ') + 1)));

  let server: Server;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const started = process.hrtime.bigint();
    inFlight++;
    const path = (request.url ?? '/').split('?')[0];
    const label = paths.has(path) ? path : UNMATCHED_PATH;
    // A connection that delivers a request during shutdown is not kept for another one.
    if (shuttingDown) response.setHeader('Connection', 'close');
    response.once('close', () => {
      inFlight--;
      requests.inc({ path: label, status: String(response.statusCode) });
      latency.observe({ path: label }, Number(process.hrtime.bigint() - started) / 1e9);
      if (shuttingDown) server.closeIdleConnections();
    });
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const route = routes[`${method} ${path}`];
    if (!route) {
      sendJson(response, paths.has(path) ? 405 : 404, { error: paths.has(path) ? 'method not allowed' : 'not found' });
      return;
    }
    Promise.resolve()
      .then(() => route(request, response, context))
      .catch((error: Error) => {
        logger.error('request failed', { path, error });
        if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
        else response.destroy();
      });
  };

  server = createServer(handle);
  const webSockets = definition.websocket ? new WebSocketEndpoint(server, definition.websocket, hooks, context) : undefined;
  server.on('error', (error: NodeJS.ErrnoException) => {
    logger.error('cannot serve', { port, error: error.message, code: error.code });
    process.exit(1);
  });
  server.listen(port, () => {
    logger.info('listening', {
      port, liveness: health.liveness, readiness: health.readiness, metrics: METRICS_PATH,
      ...(definition.websocket ? { websocket: definition.websocket } : {}),
      stores: definition.stores, upstreams: Object.fromEntries([...config.upstreams].map(([name, url]) => [name, url.href])),
    });
  });
  monitor.runInBackground();
  if (hooks.warmUp) {
    const warmUp = hooks.warmUp;
    const started = Date.now();
    warmUp(context).then(
      () => { warmedUp = true; logger.info('warm-up done', { seconds: (Date.now() - started) / 1000 }); },
      (error: Error) => { logger.error('warm-up failed', { error }); process.exit(1); },
    );
  }

  const shutdown = (signal: string): void => {
    if (shuttingDown) {
      logger.warn('shutdown already in progress', { signal });
      return;
    }
    shuttingDown = true;
    abort.abort();
    const started = Date.now();
    logger.info('shutdown started', { signal, inFlight, timeoutSeconds: config.shutdownTimeoutSeconds });
    const deadline = setTimeout(() => {
      logger.error('shutdown timed out: dropping connections', { inFlight, timeoutSeconds: config.shutdownTimeoutSeconds });
      server.closeAllConnections();
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    monitor.stop();
    // Stops accepting at once; the callback runs once every in-flight request has been answered
    // and every WebSocket connection has been closed (they are the server's connections too).
    void webSockets?.closeAll();
    server.close(() => {
      const finish = async () => {
        if (hooks.onShutdown) await hooks.onShutdown(context);
      };
      finish().then(
        () => {
          clearTimeout(deadline);
          logger.info('shutdown complete', { seconds: (Date.now() - started) / 1000 });
          process.exit(0);
        },
        (error: Error) => {
          logger.error('shutdown hook failed', { error });
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
