import { poolForRole } from '../../environments/environment';
import { cronScheduleProblem, portProblem, wholeNumberProblem } from '../../model/domains';
import { Duration, wholeSecondsProblem } from '../../model/duration';
import { Memory } from '../../model/quantities';
import { enabledEngines, environmentPinsCores, isBatch, isService, planEngine } from '../../planning/plan';
import { Finding } from '../../model/errors';
import { ValidationRule, defineRule, forEachEngine } from '../rule';

/** Ports a host-network pod can never bind: the kubelet's, kube-proxy's and the control plane's, and the NodePort range kube-proxy holds on every node. */
const NODE_RESERVED_PORTS: ReadonlyArray<{ readonly from: number; readonly to: number; readonly owner: string }> = [
  { from: 2379, to: 2380, owner: 'etcd' },
  { from: 6443, to: 6443, owner: 'the API server' },
  { from: 9100, to: 9100, owner: 'the node exporter' },
  { from: 10248, to: 10248, owner: 'the kubelet (healthz)' },
  { from: 10249, to: 10249, owner: 'kube-proxy (metrics)' },
  { from: 10250, to: 10250, owner: 'the kubelet' },
  { from: 10255, to: 10255, owner: 'the kubelet (read-only port)' },
  { from: 10256, to: 10256, owner: 'kube-proxy (healthz)' },
  { from: 10257, to: 10257, owner: 'the controller manager' },
  { from: 10259, to: 10259, owner: 'the scheduler' },
  { from: 30000, to: 32767, owner: 'kube-proxy (the NodePort range)' },
];

/** An engine's shape: ports, dependencies, replicas and autoscaling, resources, schedules and probes. */
export const ENGINE_SHAPE_RULES: readonly ValidationRule[] = [
  defineRule('port-range', (input) =>
    forEachEngine(input, (engine) =>
      isService(engine) && portProblem(engine.workload.port)
        ? [{
          subject: engine.name, field: 'workload.port', value: String(engine.workload.port),
          problem: portProblem(engine.workload.port)!, fix: 'give the port the engine listens on, e.g. 8080',
        }]
        : [])),
  defineRule('host-network-port-conflicts', (input) => {
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
  }),
  defineRule('host-network-ports-allowed', (input) =>
    forEachEngine(input, (engine) => {
      if (!engine.tier.hostNetwork || !isService(engine)) return [];
      const p = engine.workload.port;
      const owner = NODE_RESERVED_PORTS.find((r) => p >= r.from && p <= r.to)?.owner;
      const problem = p < 1024
        ? 'the engine runs on the host network as a non-root user without NET_BIND_SERVICE, and only root may bind a port below 1024'
        : owner ? `on the host network the port is the node's, and ${owner} already holds it on every node` : undefined;
      return problem
        ? [{ subject: engine.name, field: 'workload.port', value: String(p), problem, fix: 'pick a free port from 1024 to 29999 outside 10248–10259, e.g. 8205' }]
        : [];
    })),
  defineRule('dependencies-exist', (input) => {
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
        .filter((s) => !input.stores.some((store) => store.name === s))
        .map((s) => ({
          subject: engine.name, field: 'dependencies.stores', value: JSON.stringify(s),
          problem: 'no data store of that name',
          fix: `use one of: ${input.stores.map((store) => store.name).join(', ')}`,
        })),
      ...engine.dependencies.engines
        .filter((d) => d === engine.name)
        .map((d) => ({
          subject: engine.name, field: 'dependencies.engines', value: JSON.stringify(d),
          problem: 'an engine cannot depend on itself', fix: 'remove it from its own dependencies',
        })),
    ]);
  }),
  defineRule('pinned-cpu-whole', (input) =>
    environmentPinsCores(input.environment)
      ? forEachEngine(input, (engine) =>
        engine.tier.pinned && !engine.resources.cpu.isWholeCores
          ? [{
            subject: engine.name, field: 'resources.cpu', value: engine.resources.cpu.toQuantity(),
            problem: `the ${engine.tier.name} tier pins cores in this environment, and only whole CPUs can be pinned (a fraction is shared, not exclusive)`,
            fix: `round the CPU up to Cpu.cores(${Math.ceil(engine.resources.cpu.millicores / 1000)})`,
          }]
          : [])
      : []),
  defineRule('gpu-pool-present', (input) =>
    poolForRole(input.environment, 'gpu')
      ? []
      : forEachEngine(input, (engine) =>
        engine.resources.gpu?.mode === 'required'
          ? [{
            subject: engine.name, field: 'resources.gpu', value: `{ count: ${engine.resources.gpu.count}, mode: 'required' }`,
            problem: 'the engine requires a GPU and this environment has no GPU node pool',
            fix: `add a node pool with role 'gpu' to ${input.environment.name}, or add ${engine.name} to its disabledEngines`,
          }]
          : [])),
  defineRule('gpu-count', (input) =>
    forEachEngine(input, (engine) =>
      engine.resources.gpu && !(Number.isInteger(engine.resources.gpu.count) && engine.resources.gpu.count >= 1)
        ? [{
          subject: engine.name, field: 'resources.gpu.count', value: String(engine.resources.gpu.count),
          problem: 'GPUs are whole devices: the count must be a whole number of at least 1',
          fix: 'use count: 1 (or more), or remove resources.gpu',
        }]
        : [])),
  defineRule('replica-bounds', (input) =>
    forEachEngine(input, (engine) => {
      if (!isService(engine)) return [];
      const { minReplicas, maxReplicas } = engine.workload.scaling;
      const reports: Finding[] = [];
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
    })),
  defineRule('disruption-budget-allows-drain', (input) =>
    forEachEngine(input, (engine) => {
      const maxUnavailable = isService(engine) ? engine.workload.scaling.maxUnavailable : undefined;
      return maxUnavailable !== undefined && !(Number.isInteger(maxUnavailable) && maxUnavailable >= 1)
        ? [{
          subject: engine.name, field: 'workload.scaling.maxUnavailable', value: String(maxUnavailable),
          problem: 'a PodDisruptionBudget allowing no pod to be unavailable blocks every node drain and upgrade',
          fix: 'set maxUnavailable to 1 (or more), or leave it unset',
        }]
        : [];
    })),
  defineRule('autoscaling-targets', (input) =>
    forEachEngine(input, (engine) => {
      if (!isService(engine)) return [];
      const { targetCpuUtilization, targetRequestsPerSecond } = engine.workload.scaling;
      const reports: Finding[] = [];
      if (targetCpuUtilization !== undefined && !(Number.isInteger(targetCpuUtilization) && targetCpuUtilization >= 1)) {
        reports.push({
          subject: engine.name, field: 'workload.scaling.targetCpuUtilization', value: String(targetCpuUtilization),
          problem: 'an HPA utilisation target is a whole percentage of the CPU request, at least 1', fix: 'set it to a whole number such as 70',
        });
      }
      if (targetRequestsPerSecond !== undefined && !(Number.isFinite(targetRequestsPerSecond) && targetRequestsPerSecond > 0)) {
        reports.push({
          subject: engine.name, field: 'workload.scaling.targetRequestsPerSecond', value: String(targetRequestsPerSecond),
          problem: 'an average-value target must be a positive number', fix: 'set it to the requests per second one pod handles, e.g. 1000, or remove it',
        });
      }
      return reports;
    })),
  defineRule('host-network-replicas-fit-pool', (input) => {
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
  }),
  defineRule('memory-limit-not-below-request', (input) =>
    forEachEngine(input, (engine) =>
      engine.resources.memoryLimit && engine.resources.memoryLimit.mebibytes < engine.resources.memory.mebibytes
        ? [{
          subject: engine.name, field: 'resources.memoryLimit',
          value: `${engine.resources.memoryLimit.toQuantity()} (request ${engine.resources.memory.toQuantity()})`,
          problem: 'the memory limit is below the request; the API server rejects such a pod',
          fix: `raise memoryLimit to at least ${engine.resources.memory.toQuantity()} or remove it`,
        }]
        : [])),
  defineRule('resource-amounts', (input) => {
    const amounts: Array<[string, string, number, string]> = [
      ...enabledEngines(input.catalog, input.environment).flatMap((e): Array<[string, string, number, string]> => [
        [e.name, 'resources.cpu', e.resources.cpu.millicores, e.resources.cpu.toQuantity()],
        [e.name, 'resources.memory', e.resources.memory.mebibytes, e.resources.memory.toQuantity()],
        ...(e.resources.memoryLimit ? [[e.name, 'resources.memoryLimit', e.resources.memoryLimit.mebibytes, e.resources.memoryLimit.toQuantity()] as [string, string, number, string]] : []),
        ...(e.resources.hugepages2Mi ? [[e.name, 'resources.hugepages2Mi', e.resources.hugepages2Mi.mebibytes, e.resources.hugepages2Mi.toQuantity()] as [string, string, number, string]] : []),
      ]),
      ...input.stores.flatMap((s): Array<[string, string, number, string]> => [
        [s.name, 'cpu', s.cpu.millicores, s.cpu.toQuantity()],
        [s.name, 'memory', s.memory.mebibytes, s.memory.toQuantity()],
        [s.name, 'storage', s.storage.mebibytes, s.storage.toQuantity()],
      ]),
    ];
    const problems: Finding[] = amounts
      .filter(([, , amount]) => !(Number.isFinite(amount) && amount > 0))
      .map(([subject, field, , value]) => ({
        subject, field, value,
        problem: 'must be more than zero (environments scale it; they do not repair it)',
        fix: 'give the production amount, e.g. Cpu.cores(1) or Memory.gibibytes(1)',
      }));
    for (const e of enabledEngines(input.catalog, input.environment)) {
      const hugepages = e.resources.hugepages2Mi;
      if (hugepages && hugepages.mebibytes > 0 && hugepages.mebibytes % 2 !== 0) {
        problems.push({
          subject: e.name, field: 'resources.hugepages2Mi', value: hugepages.toQuantity(),
          problem: 'a hugepages-2Mi amount must be a whole number of 2Mi pages', fix: `use ${Memory.mebibytes(Math.ceil(hugepages.mebibytes / 2) * 2)}`,
        });
      }
    }
    return problems;
  }),
  defineRule('batch-schedule', (input) =>
    forEachEngine(input, (engine) => {
      if (!isBatch(engine)) return [];
      const { schedule, startingDeadline, activeDeadline, backoffLimit } = engine.workload;
      const reports: Finding[] = [];
      const cronProblem = cronScheduleProblem(schedule);
      if (cronProblem) {
        reports.push({
          subject: engine.name, field: 'workload.schedule', value: JSON.stringify(schedule), problem: `not a schedule the API server accepts: ${cronProblem}`,
          fix: 'write five fields "minute hour day-of-month month day-of-week" in UTC, e.g. "30 22 * * 1-5"',
        });
      }
      const starting = wholeSecondsProblem(startingDeadline, Duration.seconds(10));
      if (starting) {
        reports.push({
          subject: engine.name, field: 'workload.startingDeadline', value: String(startingDeadline),
          problem: `${starting} (the CronJob controller checks every 10 seconds; less may skip every run)`, fix: 'give how late a run may start, e.g. Duration.minutes(30)',
        });
      }
      const deadline = wholeSecondsProblem(activeDeadline, Duration.seconds(1));
      if (deadline) reports.push({ subject: engine.name, field: 'workload.activeDeadline', value: String(activeDeadline), problem: deadline, fix: 'give the longest a run may take, e.g. Duration.hours(6)' });
      const retries = wholeNumberProblem(backoffLimit, 0);
      if (retries) reports.push({ subject: engine.name, field: 'workload.backoffLimit', value: String(backoffLimit), problem: retries, fix: 'give the number of retries, e.g. 2' });
      return reports;
    })),
  defineRule('health-endpoints', (input) =>
    forEachEngine(input, (engine) => {
      if (!isService(engine)) return [];
      const { liveness, readiness, startupBudget } = engine.workload.health;
      const reports: Finding[] = ([['liveness', liveness], ['readiness', readiness]] as const)
        .filter(([, path]) => !/^\/\S*$/.test(path))
        .map(([field, path]) => ({
          subject: engine.name, field: `workload.health.${field}`, value: JSON.stringify(path),
          problem: 'an HTTP probe path must start with "/" and contain no spaces', fix: 'use a path such as "/health/live"',
        }));
      const budget = wholeSecondsProblem(startupBudget, Duration.seconds(1));
      if (budget) reports.push({ subject: engine.name, field: 'workload.health.startupBudget', value: String(startupBudget), problem: budget, fix: 'give how long the engine may take to start, e.g. Duration.seconds(30)' });
      return reports;
    })),
];
