/** The shared engine runtime: what every engine's main.ts imports. */
export { runService } from './service';
export { runJob } from './job';
export type { EngineContext, JobHooks, RouteHandler, ServiceHooks } from './hooks';
export type { EngineDefinition } from './definition';
export type { RuntimeConfig } from './config';
export { RedisConnection } from './redis-client';
export { PostgresConnection } from './postgres-client';
