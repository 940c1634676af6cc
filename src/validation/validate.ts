import { PLATFORM_DATA_STORES } from '../catalog/data-stores';
import { EngineSpec } from '../catalog/engine-spec';
import { EnvironmentSpec, poolForRole } from '../environments/environment';
import { ConfigurationError, ConfigurationProblem } from '../model/errors';
import { dnsLabelProblem } from '../model/kubernetes-names';
import { enabledEngines, environmentPinsCores, isService, planEngine } from '../planning/plan';

/** What a rule is given: the whole catalog and one environment. */
interface RuleInput {
  readonly catalog: readonly EngineSpec[];
  readonly environment: EnvironmentSpec;
}

/** A validation rule: a name (for docs and tests) and a check that reports problems. */
interface ValidationRule {
  readonly name: string;
  readonly check: (input: RuleInput) => ConfigurationProblem[];
}

type Report = Omit<ConfigurationProblem, 'environment'>;

function forEachEngine(input: RuleInput, check: (engine: EngineSpec) => Report[]): ConfigurationProblem[] {
  return enabledEngines(input.catalog, input.environment).flatMap((engine) =>
    check(engine).map((r) => ({ environment: input.environment.name, ...r })),
  );
}

/**
 * Every rule synthesis enforces, in the order problems are reported. Each has a failing-case test
 * in test/validation.test.ts.
 */
export const VALIDATION_RULES: readonly ValidationRule[] = [
  {
    name: 'kubernetes-names',
    check: ({ catalog, environment }) => {
      const problems: ConfigurationProblem[] = [];
      const named: Array<[string, string, string]> = [
        ['environment', 'name', environment.name],
        ...catalog.map((e): [string, string, string] => [e.name, 'name', e.name]),
        ...environment.nodePools.map((p): [string, string, string] => [`node pool ${p.name}`, 'name', p.name]),
      ];
      for (const [subject, field, name] of named) {
        const problem = dnsLabelProblem(name);
        if (problem) {
          problems.push({
            environment: environment.name, subject, field, value: JSON.stringify(name),
            problem: `not a valid Kubernetes name: ${problem}`,
            fix: 'use lower-case letters, digits and "-" (at most 63 characters), e.g. "risk-engine"',
          });
        }
      }
      return problems;
    },
  },
  {
    name: 'duplicate-engine-names',
    check: ({ catalog, environment }) => {
      const seen = new Set<string>();
      const problems: ConfigurationProblem[] = [];
      for (const engine of catalog) {
        if (seen.has(engine.name)) {
          problems.push({
            environment: environment.name, subject: engine.name, field: 'name', value: JSON.stringify(engine.name),
            problem: 'two catalog entries have this name; workloads and Services would overwrite each other',
            fix: 'rename one of the entries or remove the duplicate',
          });
        }
        seen.add(engine.name);
      }
      return problems;
    },
  },
  {
    name: 'disabled-engines-exist',
    check: ({ catalog, environment }) =>
      environment.disabledEngines
        .filter((d) => !catalog.some((e) => e.name === d.name))
        .map((d) => ({
          environment: environment.name, subject: 'environment', field: 'disabledEngines', value: JSON.stringify(d.name),
          problem: 'no engine of that name in the catalog',
          fix: `remove it from disabledEngines or correct the name (engines: ${catalog.map((e) => e.name).join(', ')})`,
        })),
  },
  {
    name: 'port-range',
    check: (input) =>
      forEachEngine(input, (engine) =>
        isService(engine) && !(Number.isInteger(engine.workload.port) && engine.workload.port >= 1 && engine.workload.port <= 65535)
          ? [{
            subject: engine.name, field: 'workload.port', value: String(engine.workload.port),
            problem: 'a TCP port must be an integer from 1 to 65535', fix: 'give the port the engine listens on, e.g. 8080',
          }]
          : []),
  },
  {
    name: 'host-network-port-conflicts',
    check: (input) => {
      const byPort = new Map<number, string>();
      return forEachEngine(input, (engine) => {
        if (!engine.tier.hostNetwork || !isService(engine)) return [];
        const owner = byPort.get(engine.workload.port);
        byPort.set(engine.workload.port, owner ?? engine.name);
        return owner
          ? [{
            subject: engine.name, field: 'workload.port', value: String(engine.workload.port),
            problem: `${owner} already uses this port; both run on the host network, so they could never share a node`,
            fix: `give ${engine.name} a port no other ${engine.tier.name} engine uses`,
          }]
          : [];
      });
    },
  },
  {
    name: 'dependencies-exist',
    check: (input) => {
      const deployed = new Set(enabledEngines(input.catalog, input.environment).map((e) => e.name));
      const known = new Set(input.catalog.map((e) => e.name));
      return forEachEngine(input, (engine) => [
        ...engine.dependencies.engines
          .filter((d) => !deployed.has(d))
          .map((d) => ({
            subject: engine.name, field: 'dependencies.engines', value: JSON.stringify(d),
            problem: known.has(d) ? `${d} is disabled in this environment` : 'no engine of that name in the catalog',
            fix: known.has(d)
              ? `enable ${d} in ${input.environment.name} or disable ${engine.name} too`
              : `correct the name or add ${d} to the catalog (engines: ${[...known].join(', ')})`,
          })),
        ...engine.dependencies.stores
          .filter((s) => !(s in PLATFORM_DATA_STORES))
          .map((s) => ({
            subject: engine.name, field: 'dependencies.stores', value: JSON.stringify(s),
            problem: 'no data store of that name',
            fix: `use one of: ${Object.keys(PLATFORM_DATA_STORES).join(', ')}`,
          })),
        ...engine.dependencies.engines
          .filter((d) => d === engine.name)
          .map((d) => ({
            subject: engine.name, field: 'dependencies.engines', value: JSON.stringify(d),
            problem: 'an engine cannot depend on itself', fix: 'remove it from its own dependencies',
          })),
      ]);
    },
  },
  {
    name: 'pinned-cpu-whole',
    check: (input) =>
      environmentPinsCores(input.environment)
        ? forEachEngine(input, (engine) =>
          engine.tier.dedicatedCores && !engine.resources.cpu.isWholeCores
            ? [{
              subject: engine.name, field: 'resources.cpu', value: engine.resources.cpu.toQuantity(),
              problem: `the ${engine.tier.name} tier pins cores in this environment, and only whole CPUs can be pinned (a fraction is shared, not exclusive)`,
              fix: `round the CPU up to Cpu.cores(${Math.ceil(engine.resources.cpu.millicores / 1000)})`,
            }]
            : [])
        : [],
  },
  {
    name: 'gpu-pool-present',
    check: (input) =>
      poolForRole(input.environment, 'gpu')
        ? []
        : forEachEngine(input, (engine) =>
          engine.resources.gpu?.mode === 'required'
            ? [{
              subject: engine.name, field: 'resources.gpu', value: `{ count: ${engine.resources.gpu.count}, mode: 'required' }`,
              problem: 'the engine requires a GPU and this environment has no GPU node pool',
              fix: `add a node pool with role 'gpu' to ${input.environment.name}, or add ${engine.name} to its disabledEngines`,
            }]
            : []),
  },
  {
    name: 'replica-bounds',
    check: (input) =>
      forEachEngine(input, (engine) => {
        if (!isService(engine)) return [];
        const { minReplicas, maxReplicas } = engine.workload.scaling;
        const reports: Report[] = [];
        if (!Number.isInteger(minReplicas) || minReplicas < 1) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.minReplicas', value: String(minReplicas),
            problem: 'must be a whole number of at least 1', fix: 'set minReplicas to 1 or more',
          });
        }
        if (maxReplicas < minReplicas) {
          reports.push({
            subject: engine.name, field: 'workload.scaling.maxReplicas', value: `${maxReplicas} (minReplicas ${minReplicas})`,
            problem: 'the autoscaler maximum is below its minimum',
            fix: `set maxReplicas to at least ${minReplicas}, or lower minReplicas`,
          });
        }
        return reports;
      }),
  },
  {
    name: 'disruption-budget-allows-drain',
    check: (input) =>
      forEachEngine(input, (engine) => {
        const maxUnavailable = isService(engine) ? engine.workload.scaling.maxUnavailable : undefined;
        return maxUnavailable !== undefined && !(Number.isInteger(maxUnavailable) && maxUnavailable >= 1)
          ? [{
            subject: engine.name, field: 'workload.scaling.maxUnavailable', value: String(maxUnavailable),
            problem: 'a PodDisruptionBudget allowing no pod to be unavailable blocks every node drain and upgrade',
            fix: 'set maxUnavailable to 1 (or more), or leave it unset',
          }]
          : [];
      }),
  },
  {
    name: 'memory-limit-not-below-request',
    check: (input) =>
      forEachEngine(input, (engine) =>
        engine.resources.memoryLimit && engine.resources.memoryLimit.mebibytes < engine.resources.memory.mebibytes
          ? [{
            subject: engine.name, field: 'resources.memoryLimit',
            value: `${engine.resources.memoryLimit.toQuantity()} (request ${engine.resources.memory.toQuantity()})`,
            problem: 'the memory limit is below the request; the API server rejects such a pod',
            fix: `raise memoryLimit to at least ${engine.resources.memory.toQuantity()} or remove it`,
          }]
          : []),
  },
  {
    name: 'host-network-replicas-fit-pool',
    check: (input) => {
      const pool = poolForRole(input.environment, 'latency');
      if (!pool) return [];
      const nodes = pool.zones.length * pool.nodesPerZone;
      return forEachEngine(input, (engine) => {
        if (!engine.tier.hostNetwork || !isService(engine)) return [];
        const replicas = planEngine(engine, input.environment).replicas;
        return replicas > nodes
          ? [{
            subject: engine.name, field: 'workload.scaling.minReplicas', value: String(replicas),
            problem: `host-network pods need one node each and the ${pool.name} pool has ${nodes}`,
            fix: `lower the replicas to ${nodes} or grow the ${pool.name} pool (nodesPerZone)`,
          }]
          : [];
      });
    },
  },
  {
    name: 'node-pool-zones',
    check: ({ environment }) =>
      environment.nodePools.flatMap((pool) =>
        pool.zones
          .filter((z) => !environment.zones.includes(z))
          .map((z) => ({
            environment: environment.name, subject: `node pool ${pool.name}`, field: 'zones', value: JSON.stringify(z),
            problem: 'not one of the environment\'s zones',
            fix: `use one of ${environment.zones.join(', ')} or add the zone to the environment`,
          }))),
  },
];

/** Checks the catalog against every environment; throws one error listing every problem found. */
export function validatePlatform(catalog: readonly EngineSpec[], environments: readonly EnvironmentSpec[]): void {
  const problems = environments.flatMap((environment) =>
    VALIDATION_RULES.flatMap((rule) => rule.check({ catalog, environment })),
  );
  // A catalog problem is reported for each environment it breaks: the fix can differ by environment.
  if (problems.length > 0) throw new ConfigurationError(problems);
}
