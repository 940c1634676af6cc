/** The shared engine runtime: what every engine's main.ts imports. */
export { runService } from './service';
export { runJob } from './job';
export type { EngineContext, JobHooks, RouteHandler, ServiceHooks } from './hooks';
export type { EngineDefinition } from './definition';
export type { RuntimeConfig } from './config';
export type { RedisSettings, PostgresSettings } from './config';
/** Clients for the trading logic's own connections, configured like the readiness checks'. */
export { createRedisClient, createPostgresPool } from './clients';
