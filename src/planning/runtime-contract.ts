import { Duration } from '../model/duration';
import { ENV, upstreamUrlVariable } from '../engines/runtime/environment-contract';
import { EnvironmentVariable } from './environment-variables';
import { DataStorePlan, EnginePlan, isService } from './plan';
import { STORE_KIND_ORDER, kindOf } from './stores/store-kinds';
import { serviceHost } from './namespaces';

/**
 * The names of the environment variables an engine's container gets: the contract between the
 * manifests and the engine runtime, defined once in the runtime. Port and probe paths are
 * deliberately absent: the runtime knows its own, and test/contract checks the two agree.
 */
export const RUNTIME_ENV = ENV;

export { upstreamUrlVariable };

// How engines and the stores' own pods reach a store is decided beside the store kinds; these names
// are part of the runtime contract too.
export { CREDENTIAL_SECRETS, TIMESCALEDB_SECRETS, TRADING_DATABASE } from './store-access';

/** Time between the start of termination and SIGKILL for an engine pod. */
export const ENGINE_TERMINATION_GRACE = Duration.seconds(30);

/**
 * How long an engine keeps serving after termination starts, before it is sent SIGTERM: Service
 * endpoints are removed asynchronously, and without the pause clients would still be sent to a
 * listener that has just closed.
 */
export const ENGINE_PRE_STOP = Duration.seconds(5);

/** What the grace period leaves the runtime after its own shutdown timeout, to exit before the kubelet's SIGKILL. */
const ENGINE_EXIT_MARGIN = Duration.seconds(5);

/**
 * The container environment of one engine in one environment. `stores` are the environment's data
 * store plans (from the input, not the global catalog): hosts and ports come from them.
 */
export function engineContainerEnv(plan: EnginePlan, upstreams: readonly EnginePlan[], stores: readonly DataStorePlan[]): EnvironmentVariable[] {
  const env: EnvironmentVariable[] = [
    { name: RUNTIME_ENV.engine, value: plan.engine.name },
    { name: RUNTIME_ENV.environment, value: plan.environment.name },
    { name: RUNTIME_ENV.tier, value: plan.engine.tier.name },
    { name: RUNTIME_ENV.pinned, value: String(plan.pinned) },
    // The grace period also covers the pre-stop pause; the runtime reads whole seconds.
    {
      name: RUNTIME_ENV.shutdownTimeoutSeconds,
      value: String(ENGINE_TERMINATION_GRACE.toSeconds() - ENGINE_PRE_STOP.toSeconds() - ENGINE_EXIT_MARGIN.toSeconds()),
    },
    { name: RUNTIME_ENV.logFormat, value: 'json' },
  ];
  const dependsOn = new Set(plan.engine.dependencies.stores);
  // Each store the engine depends on adds how to reach it, in the order the store kinds are listed.
  for (const name of STORE_KIND_ORDER.filter((n) => dependsOn.has(n))) {
    const store = stores.find((s) => s.store.name === name);
    if (!store) throw new Error(`${plan.engine.name} depends on ${name}, which is not among the data stores of ${plan.environment.name}`);
    env.push(...kindOf(store).engineEnv(store, plan));
  }
  for (const upstream of upstreams) {
    if (!isService(upstream.engine)) continue;
    env.push({
      name: upstreamUrlVariable(upstream.engine.name),
      value: `http://${serviceHost(upstream.engine.name, upstream.namespace)}:${upstream.engine.workload.port}`,
    });
  }
  return env;
}
