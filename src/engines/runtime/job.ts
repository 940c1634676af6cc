import { EXIT_CONFIGURATION, bootstrap } from './bootstrap';
import { DependencyMonitor } from './dependencies';
import { EngineContext, JobHooks } from './hooks';

/** How long a run waits for its data stores before failing (the Job's retries take over). */
const DEPENDENCY_WAIT_SECONDS = 120;

/**
 * Runs a batch engine: waits for its data stores, runs the job hook once, exits 0 on success and 1
 * on failure or SIGTERM (so the Job's backoffLimit retries an interrupted run).
 *
 * @param rawDefinition the engine's engine.json, validated here
 */
export function runJob(rawDefinition: unknown, hooks: JobHooks = {}): void {
  const { definition, config, logger, metrics, cpuSet, checks } = bootstrap(rawDefinition, 'engine.json');
  if (definition.kind !== 'batch') {
    logger.error('invalid engine definition', { problem: `runJob needs a batch engine, got kind ${definition.kind}` });
    process.exit(EXIT_CONFIGURATION);
  }
  const abort = new AbortController();
  const context: EngineContext = { definition, config, logger, metrics, cpuSet, shutdown: abort.signal };
  const monitor = new DependencyMonitor(checks, logger, metrics);
  const started = Date.now();

  const onSignal = (signal: string) => {
    logger.warn('job interrupted', { signal });
    abort.abort();
    monitor.stop();
    process.exit(1);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const run = async () => {
    logger.info('job starting', { stores: definition.stores, upstreams: definition.upstreams });
    if (!(await monitor.waitUntilUp(Date.now() + DEPENDENCY_WAIT_SECONDS * 1000))) {
      throw new Error(`data stores did not answer within ${DEPENDENCY_WAIT_SECONDS}s: ${JSON.stringify(monitor.snapshot())}`);
    }
    monitor.stop();
    if (hooks.run) await hooks.run(context);
    else logger.info('no job hook: nothing to do');
  };
  run().then(
    () => {
      logger.info('job complete', { seconds: (Date.now() - started) / 1000 });
      process.exit(0);
    },
    (error: Error) => {
      monitor.stop();
      logger.error('job failed', { error, seconds: (Date.now() - started) / 1000 });
      process.exit(1);
    },
  );
}
