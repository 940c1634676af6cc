import { Cpu, Memory } from '../src/model/quantities';
import { ConfigurationError } from '../src/model/errors';
import { DEV, PROD } from '../src/environments/platform-environments';
import { EngineSpec, ServiceWorkload } from '../src/catalog/engine-spec';
import { EnvironmentSpec } from '../src/environments/environment';
import { VALIDATION_RULES, validatePlatform } from '../src/validation/validate';
import { PLATFORM_ENGINES, withEngine } from './support/platform';

function problemsOf(catalog: readonly EngineSpec[], environments: readonly EnvironmentSpec[]): ConfigurationError {
  try {
    validatePlatform(catalog, environments);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected validation to fail');
}

const scaling = (e: EngineSpec, change: Partial<ServiceWorkload['scaling']>): EngineSpec => ({
  ...e, workload: { ...(e.workload as ServiceWorkload), scaling: { ...(e.workload as ServiceWorkload).scaling, ...change } },
});
const port = (e: EngineSpec, value: number): EngineSpec => ({ ...e, workload: { ...(e.workload as ServiceWorkload), port: value } });

/**
 * One failing case per rule: the catalog or environment change, the environment it is checked in,
 * and what the message must name (environment, engine, field, value, and a fix).
 */
const cases: Array<{ rule: string; catalog?: EngineSpec[]; environment: EnvironmentSpec; expect: RegExp }> = [
  {
    rule: 'pinned-cpu-whole',
    catalog: withEngine('position-keeper', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.cores(1.5) } })),
    environment: PROD,
    expect: /\[prod\] position-keeper: resources\.cpu = 1500m: .*whole CPUs.*Fix: round the CPU up to Cpu\.cores\(2\)/,
  },
  {
    rule: 'gpu-pool-present',
    environment: { ...DEV, disabledEngines: [] },
    expect: /\[dev\] ml-training: resources\.gpu = \{ count: 1, mode: 'required' \}: .*no GPU node pool.*Fix: add a node pool with role 'gpu' to dev, or add ml-training to its disabledEngines/,
  },
  {
    rule: 'host-network-port-conflicts',
    catalog: withEngine('order-manager', (e) => port(e, 8200)),
    environment: PROD,
    expect: /\[prod\] order-manager: workload\.port = 8200: risk-engine already uses this port.*Fix: give order-manager a port/,
  },
  {
    rule: 'dependencies-exist',
    catalog: withEngine('strategy', (e) => ({ ...e, dependencies: { ...e.dependencies, engines: ['market-date'] } })),
    environment: PROD,
    expect: /\[prod\] strategy: dependencies\.engines = "market-date": no engine of that name in the catalog\. Fix: correct the name/,
  },
  {
    rule: 'dependencies-exist',
    catalog: withEngine('strategy', (e) => ({ ...e, dependencies: { ...e.dependencies, stores: ['mongodb' as never] } })),
    environment: PROD,
    expect: /\[prod\] strategy: dependencies\.stores = "mongodb": no data store of that name\. Fix: use one of: timescaledb, redis/,
  },
  {
    rule: 'disruption-budget-allows-drain',
    catalog: withEngine('market-data', (e) => scaling(e, { maxUnavailable: 0 })),
    environment: PROD,
    expect: /\[prod\] market-data: workload\.scaling\.maxUnavailable = 0: .*blocks every node drain.*Fix: set maxUnavailable to 1/,
  },
  {
    rule: 'replica-bounds',
    catalog: withEngine('features', (e) => scaling(e, { minReplicas: 5, maxReplicas: 3 })),
    environment: PROD,
    expect: /\[prod\] features: workload\.scaling\.maxReplicas = 3 \(minReplicas 5\): the autoscaler maximum is below its minimum\. Fix: set maxReplicas to at least 5/,
  },
  {
    rule: 'memory-limit-not-below-request',
    catalog: withEngine('analytics', (e) => ({ ...e, resources: { ...e.resources, memoryLimit: Memory.gibibytes(2) } })),
    environment: PROD,
    expect: /\[prod\] analytics: resources\.memoryLimit = 2Gi \(request 6Gi\): .*below the request.*Fix: raise memoryLimit to at least 6Gi/,
  },
  {
    rule: 'kubernetes-names',
    catalog: withEngine('factor', (e) => ({ ...e, name: 'Factor_Engine' })).map((e) =>
      ({ ...e, dependencies: { ...e.dependencies, engines: e.dependencies.engines.map((d) => (d === 'factor' ? 'Factor_Engine' : d)) } })),
    environment: PROD,
    expect: /\[prod\] Factor_Engine: name = "Factor_Engine": not a valid Kubernetes name.*Fix: use lower-case letters/,
  },
  {
    rule: 'duplicate-engine-names',
    catalog: [...PLATFORM_ENGINES, PLATFORM_ENGINES.find((e) => e.name === 'backend')!],
    environment: PROD,
    expect: /\[prod\] backend: name = "backend": two catalog entries have this name.*Fix: rename one/,
  },
  {
    rule: 'port-range',
    catalog: withEngine('frontend', (e) => port(e, 70000)),
    environment: PROD,
    expect: /\[prod\] frontend: workload\.port = 70000: a TCP port must be an integer from 1 to 65535\. Fix:/,
  },
  {
    rule: 'disabled-engines-exist',
    environment: { ...DEV, disabledEngines: [...DEV.disabledEngines, { name: 'ml-trainer', reason: 'typo' }] },
    expect: /\[dev\] environment: disabledEngines = "ml-trainer": no engine of that name in the catalog/,
  },
  {
    rule: 'host-network-replicas-fit-pool',
    catalog: withEngine('risk-engine', (e) => scaling(e, { minReplicas: 3, maxReplicas: 3 })),
    environment: PROD,
    expect: /\[prod\] risk-engine: workload\.scaling\.minReplicas = 3: host-network pods need one node each and the latency pool has 2/,
  },
  {
    rule: 'node-pool-zones',
    environment: { ...PROD, nodePools: PROD.nodePools.map((p) => (p.role === 'gpu' ? { ...p, zones: ['us-east-1a'] } : p)) },
    expect: /\[prod\] node pool gpu: zones = "us-east-1a": not one of the environment's zones/,
  },
];

describe('validation', () => {
  test('the platform as shipped is valid in every environment', () => {
    expect(() => validatePlatform(PLATFORM_ENGINES, [DEV, PROD])).not.toThrow();
  });

  test.each(cases.map((c) => [c.rule, c] as const))('%s: fails with environment, engine, field, value and fix', (_rule, c) => {
    const error = problemsOf(c.catalog ?? PLATFORM_ENGINES, [c.environment]);
    expect(error.message).toMatch(c.expect);
    for (const problem of error.problems) {
      for (const part of [problem.environment, problem.subject, problem.field, problem.value, problem.fix]) expect(part.length).toBeGreaterThan(0);
    }
  });

  test('every rule has a failing case', () => {
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(VALIDATION_RULES.map((r) => r.name)));
  });

  test('all problems are reported at once', () => {
    const catalog = withEngine('frontend', (e) => port(e, 0)).map((e) => (e.name === 'features' ? scaling(e, { minReplicas: 4, maxReplicas: 1 }) : e));
    expect(problemsOf(catalog, [PROD]).problems.map((p) => p.subject).sort()).toEqual(['features', 'frontend']);
  });
});
