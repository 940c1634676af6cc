import { cpus } from 'os';
import { ConfigurationError, RuntimeConfig, readConfig } from './config';
import { readAllowedCpus } from './cpu-set';
import { DefinitionError, EngineDefinition, parseEngineDefinition } from './definition';
import { DependencyCheck, PostgresCheck, RedisCheck } from './dependencies';
import { Logger } from './logger';
import { RUNTIME_METRICS } from './metric-names';
import { MetricsRegistry } from './metrics';

/** Exit status for a configuration the engine cannot run with (sysexits EX_CONFIG). */
export const EXIT_CONFIGURATION = 78;

/** Everything both kinds of engine set up before they start working. */
export interface Bootstrapped {
  readonly definition: EngineDefinition;
  readonly config: RuntimeConfig;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly cpuSet?: readonly number[];
  readonly checks: readonly DependencyCheck[];
}

/**
 * Validates the engine's definition and environment, or logs every problem and exits with
 * {@link EXIT_CONFIGURATION}: a misconfigured pod crash-loops with the reason in its log.
 */
export function bootstrap(rawDefinition: unknown, source: string): Bootstrapped {
  let logger = new Logger('json', { engine: typeof (rawDefinition as { name?: unknown })?.name === 'string' ? (rawDefinition as { name: string }).name : source });
  let definition: EngineDefinition;
  let config: RuntimeConfig;
  try {
    definition = parseEngineDefinition(rawDefinition, source);
    config = readConfig(definition, process.env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      logger.error('invalid configuration', { problems: error.problems });
    } else if (error instanceof DefinitionError) {
      logger.error('invalid engine definition', { problem: error.message });
    } else {
      throw error;
    }
    process.exit(EXIT_CONFIGURATION);
  }
  logger = logger.withFormat(config.logFormat).child({ environment: config.environment });
  for (const name of config.unknownVariables) {
    logger.warn('unknown NAUTILUS_ variable: the manifest and this runtime may disagree', { variable: name });
  }

  const metrics = new MetricsRegistry();
  metrics.gauge(RUNTIME_METRICS.info, 'The engine, environment and tier this process runs as.', ['engine', 'environment', 'tier'])
    .set({ engine: definition.name, environment: config.environment, tier: config.tier }, 1);
  const startTime = Date.now() / 1000;
  metrics.gauge(RUNTIME_METRICS.startTime, 'Start time of the process since the Unix epoch, in seconds.').set({}, startTime);
  const resident = metrics.gauge(RUNTIME_METRICS.residentMemory, 'Resident memory of the process, in bytes.');
  const heap = metrics.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.');
  metrics.onCollect(() => {
    const usage = process.memoryUsage();
    resident.set({}, usage.rss);
    heap.set({}, usage.heapUsed);
  });

  // Pinned engines report the cores they were given: proof that the static CPU manager did its
  // part, and the first thing to look at when latency regresses.
  let cpuSet: number[] | undefined;
  metrics.gauge('nautilus_pinned', 'Whether the manifest asks for dedicated cores (1) or not (0).').set({}, config.pinned ? 1 : 0);
  if (config.pinned) {
    cpuSet = readAllowedCpus();
    const online = cpus().length;
    if (!cpuSet) {
      logger.warn('cpu pinning requested but /proc/self/status has no Cpus_allowed_list');
    } else {
      const allowed = metrics.gauge('nautilus_cpu_allowed', 'CPUs this process may run on (1 per allowed CPU).', ['cpu']);
      for (const cpu of cpuSet) allowed.set({ cpu: String(cpu) }, 1);
      metrics.gauge('nautilus_cpu_set_size', 'How many CPUs this process may run on.').set({}, cpuSet.length);
      const fields = { cpus: cpuSet.join(','), count: cpuSet.length, online };
      if (cpuSet.length >= online) logger.warn('cpu pinning requested but the process may run on every CPU: is the static CPU manager on?', fields);
      else logger.info('cpu set', fields);
    }
  }

  const checks: DependencyCheck[] = [];
  if (config.redis) checks.push(new RedisCheck(config.redis, definition.name));
  if (config.postgres) checks.push(new PostgresCheck(config.postgres, definition.name));
  return { definition, config, logger, metrics, cpuSet, checks };
}
