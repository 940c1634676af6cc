import { Tier } from '../../src/catalog/tier';
import { DEV, PROD, STAGING } from '../../src/environments/platform-environments';
import { countQuantity } from '../../src/model/quantities';
import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { enabledEngines, isService, planDataStore, planEngine } from '../../src/planning/plan';
import { PLATFORM_ENGINES, find, has, podSpecOf, synthObjects } from '../support/platform';

const environments = [DEV, STAGING, PROD];

describe.each(environments.map((e) => [e.name, e] as const))('engines in %s', (_name, environment) => {
  const objects = synthObjects(environment);
  const engines = enabledEngines(PLATFORM_ENGINES, environment);

  test('every enabled engine has its workload, a ServiceAccount, and (if a service) a Service with a stable name', () => {
    for (const engine of engines) {
      expect(has(objects, isService(engine) ? 'Deployment' : 'CronJob', engine.name)).toBe(true);
      expect(find(objects, 'ServiceAccount', engine.name).automountServiceAccountToken).toBe(false);
      expect(podSpecOf(objects, engine).automountServiceAccountToken).toBe(false);
      expect(podSpecOf(objects, engine).serviceAccountName).toBe(engine.name);
      if (isService(engine)) {
        const service = find(objects, 'Service', engine.name);
        // A WebSocket engine's port says so where the edge is a Gateway (dev's is).
        const appProtocol = engine.publicRoute?.websocket && environment.externalAccess.api === 'gateway' ? { appProtocol: 'kubernetes.io/ws' } : {};
        expect(service.spec.ports).toEqual([{ name: 'http', port: engine.workload.port, targetPort: 'http', protocol: 'TCP', ...appProtocol }]);
      }
    }
    for (const disabled of environment.disabledEngines) {
      expect(objects.some((o) => o.metadata.name === disabled.name)).toBe(false);
    }
  });

  test('a PodDisruptionBudget (maxUnavailable 1, AlwaysAllow) exists exactly for workloads with more than one replica', () => {
    for (const engine of engines.filter(isService)) {
      const plan = planEngine(engine, environment);
      expect(has(objects, 'PodDisruptionBudget', engine.name)).toBe(plan.replicas > 1);
      if (plan.replicas > 1) {
        const pdb = find(objects, 'PodDisruptionBudget', engine.name);
        expect(pdb.spec.maxUnavailable).toBe(1);
        expect(pdb.spec.minAvailable).toBeUndefined();
        expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
        expect(pdb.spec.selector.matchLabels).toEqual(find(objects, 'Deployment', engine.name).spec.selector.matchLabels);
      }
    }
  });

  test('autoscalers: CPU plus requests_per_second, fast up / slow down, never on the pinned tier, none without autoscaling', () => {
    for (const engine of engines.filter(isService)) {
      const plan = planEngine(engine, environment);
      const hasHpa = has(objects, 'HorizontalPodAutoscaler', engine.name);
      expect(hasHpa).toBe(plan.autoscaling !== undefined);
      if (engine.tier === Tier.ULTRA_LOW_LATENCY || !environment.autoscaling) expect(hasHpa).toBe(false);
      // Released through a Rollout, the Deployment holds the pod template only: the Rollout is scaled.
      const released = plan.release.kind !== 'rolling';
      if (released) expect(find(objects, 'Deployment', engine.name).spec.replicas).toBe(0);
      const workload = find(objects, released ? 'Rollout' : 'Deployment', engine.name);
      if (!hasHpa) {
        expect(workload.spec.replicas).toBe(plan.replicas);
        continue;
      }
      expect(workload.spec.replicas).toBeUndefined();
      const hpa = find(objects, 'HorizontalPodAutoscaler', engine.name);
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: workload.apiVersion, kind: workload.kind, name: engine.name });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      expect(hpa.spec.metrics[0]).toMatchObject({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } });
      const rps = engine.workload.scaling.targetRequestsPerSecond;
      if (rps !== undefined) {
        expect(hpa.spec.metrics[1]).toEqual({
          type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: countQuantity(rps) } },
        });
      }
      expect(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds).toBe(0);
      expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    }
  });

  test('probes use the catalog health endpoints on the named http port', () => {
    for (const engine of engines.filter(isService)) {
      const container = podSpecOf(objects, engine).containers[0];
      expect(container.ports).toEqual([{ name: 'http', containerPort: engine.workload.port, protocol: 'TCP' }]);
      expect(container.livenessProbe.httpGet).toEqual({ path: engine.workload.health.liveness, port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: engine.workload.health.readiness, port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: engine.workload.health.liveness, port: 'http' });
      const { periodSeconds, failureThreshold } = container.startupProbe;
      expect(periodSeconds * failureThreshold).toBeGreaterThanOrEqual(engine.workload.health.startupBudget.toSeconds());
    }
  });

  test('multi-replica workloads spread across zones (maxSkew 1, DoNotSchedule, cordoned nodes not counted)', () => {
    for (const engine of engines.filter(isService)) {
      const plan = planEngine(engine, environment);
      const spread = podSpecOf(objects, engine).topologySpreadConstraints;
      if (plan.replicas === 1) {
        expect(spread).toBeUndefined();
        continue;
      }
      const zone = spread.find((c: { topologyKey: string }) => c.topologyKey === 'topology.kubernetes.io/zone');
      expect(zone).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor' });
      expect(zone.minDomains).toBeUndefined();
      expect(zone.labelSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': engine.name, 'app.kubernetes.io/instance': engine.name });
    }
  });

  test('containers are hardened: non-root, read-only root, no privilege escalation, drop ALL, seccomp, never privileged', () => {
    for (const engine of engines) {
      const pod = podSpecOf(objects, engine);
      const container = pod.containers[0];
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
      });
      expect(container.securityContext.privileged).toBe(false);
      expect(pod.priorityClassName).toBe(engine.tier.priorityClassName);
      expect(container.image).toBe(`${environment.imageRegistry}/${engine.name}:sha-0123456789abcdef`);
    }
  });

  test('every object carries the standard labels and a human name without hash suffix', () => {
    for (const object of objects) {
      expect(object.metadata.labels).toMatchObject({
        'app.kubernetes.io/part-of': 'nautilus', 'app.kubernetes.io/managed-by': 'cdk8s', 'nautilus.io/environment': environment.name,
      });
      // cdk8s appends an 8-hex-digit hash to generated names unless told not to.
      expect(object.metadata.name).not.toMatch(/-[0-9a-f]{8}$/);
    }
    for (const engine of engines) {
      expect(find(objects, isService(engine) ? 'Deployment' : 'CronJob', engine.name).metadata.labels).toMatchObject({
        'app.kubernetes.io/name': engine.name, 'app.kubernetes.io/instance': engine.name, 'app.kubernetes.io/component': engine.tier.name,
      });
    }
  });
});

describe('ultra-low-latency tier', () => {
  const latencyEngines = PLATFORM_ENGINES.filter((e) => e.tier === Tier.ULTRA_LOW_LATENCY);

  test('prod: host network, Guaranteed QoS with whole CPUs, hugepages, latency pool, SYS_NICE/IPC_LOCK, no HPA', () => {
    const objects = synthObjects(PROD);
    for (const engine of latencyEngines) {
      const pod = podSpecOf(objects, engine);
      const { requests, limits } = pod.containers[0].resources;
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
      expect(requests.cpu).toBe(limits.cpu);
      expect(requests.memory).toBe(limits.memory);
      expect(Number(requests.cpu)).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(Number(requests.cpu))).toBe(true);
      expect(requests['hugepages-2Mi']).toBe(limits['hugepages-2Mi']);
      expect(pod.volumes).toContainEqual({ name: 'hugepages', emptyDir: { medium: 'HugePages-2Mi' } });
      expect(pod.containers[0].securityContext.capabilities.add).toEqual(['SYS_NICE', 'IPC_LOCK']);
      expect(pod.tolerations).toEqual([{ key: 'nautilus.io/dedicated', operator: 'Equal', value: 'latency', effect: 'NoSchedule' }]);
      expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions)
        .toContainEqual({ key: 'nautilus.io/node-pool', operator: 'In', values: ['latency'] });
      expect(pod.containers[0].env).toContainEqual({ name: 'NAUTILUS_PINNED', value: 'true' });
      expect(has(objects, 'HorizontalPodAutoscaler', engine.name)).toBe(false);
      expect(find(objects, 'Deployment', engine.name).spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    }
  });

  test('dev: the tier still runs, on shared cores, without hugepages or the latency pool', () => {
    const objects = synthObjects(DEV);
    for (const engine of latencyEngines) {
      const pod = podSpecOf(objects, engine);
      expect(pod.hostNetwork).toBe(true);
      expect(pod.containers[0].resources.requests['hugepages-2Mi']).toBeUndefined();
      expect(pod.affinity).toBeUndefined();
      expect(pod.tolerations).toBeUndefined();
      expect(pod.containers[0].env).toContainEqual({ name: 'NAUTILUS_PINNED', value: 'false' });
    }
  });
});

describe('GPU tier', () => {
  const inference = PLATFORM_ENGINES.find((e) => e.name === 'ml-inference')!;
  const training = PLATFORM_ENGINES.find((e) => e.name === 'ml-training')!;

  test.each([['staging', STAGING], ['prod', PROD]] as const)('%s: GPU limits, GPU taint toleration, GPU node affinity, arm64', (_n, environment) => {
    const objects = synthObjects(environment);
    for (const engine of [inference, training]) {
      const pod = podSpecOf(objects, engine);
      expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
      expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }]);
      const expressions = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions;
      expect(expressions).toContainEqual({ key: 'nvidia.com/gpu.present', operator: 'In', values: ['true'] });
      expect(expressions).toContainEqual({ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] });
    }
    expect(find(objects, 'CronJob', 'ml-training').spec.jobTemplate.spec.template.spec.restartPolicy).toBe('Never');
  });

  test('a missed nightly training run is skipped after the catalog\'s starting deadline, never started in trading hours', () => {
    const cronJob = find(synthObjects(PROD), 'CronJob', 'ml-training');
    expect(cronJob.spec.startingDeadlineSeconds).toBe(1800);
    expect(cronJob.spec).toMatchObject({ schedule: '30 22 * * 1-5', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid' });
  });

  test('dev: inference runs on CPU (its GPU is only preferred) and training is disabled', () => {
    const objects = synthObjects(DEV);
    const pod = podSpecOf(objects, inference);
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
    expect(has(objects, 'CronJob', 'ml-training')).toBe(false);
  });

  test('nothing but the GPU tier tolerates the GPU taint', () => {
    for (const environment of [STAGING, PROD]) {
      const objects = synthObjects(environment);
      for (const engine of PLATFORM_ENGINES.filter((e) => e.tier !== Tier.GPU)) {
        const tolerations = podSpecOf(objects, engine).tolerations ?? [];
        expect(tolerations.some((t: { key: string }) => t.key === 'nvidia.com/gpu')).toBe(false);
      }
    }
  });
});

describe('resource scale', () => {
  const strategy = PLATFORM_ENGINES.find((e) => e.name === 'strategy')!;

  test('one factor scales CPU and memory alike; a pair scales each by its own', () => {
    const same = planEngine(strategy, { ...DEV, resourceScale: 0.5 });
    const split = planEngine(strategy, { ...DEV, resourceScale: { cpu: 0.02, memory: 0.5 } });
    expect(split.memoryRequest).toEqual(same.memoryRequest);
    expect(split.memoryLimit).toEqual(same.memoryLimit);
    expect(split.cpuRequest).toEqual(strategy.resources.cpu.scaledBy(0.02));
    expect(same.cpuRequest).toEqual(strategy.resources.cpu.scaledBy(0.5));
    expect(split.cpuRequest.millicores).toBeLessThan(same.cpuRequest.millicores);
  });

  test('data stores take the CPU factor for CPU and the memory factor for memory', () => {
    const same = planDataStore(PLATFORM_DATA_STORES.timescaledb, { ...DEV, resourceScale: 0.125 });
    const split = planDataStore(PLATFORM_DATA_STORES.timescaledb, { ...DEV, resourceScale: { cpu: 0.5, memory: 0.125 } });
    expect(split.memory).toEqual(same.memory);
    expect(split.cpuRequest).toEqual(PLATFORM_DATA_STORES.timescaledb.cpu.scaledBy(0.5));
    expect(same.cpuRequest).toEqual(PLATFORM_DATA_STORES.timescaledb.cpu.scaledBy(0.125));
  });
});

describe('disruption budgets are decided in the plan', () => {
  test('a budget exactly where there is more than one replica, for engines and stores alike', () => {
    for (const environment of environments) {
      for (const engine of enabledEngines(PLATFORM_ENGINES, environment).filter(isService)) {
        const plan = planEngine(engine, environment);
        expect([engine.name, plan.disruptionBudget !== undefined]).toEqual([engine.name, plan.replicas > 1]);
      }
      for (const store of Object.values(PLATFORM_DATA_STORES)) {
        const plan = planDataStore(store, environment);
        expect([store.name, plan.disruptionBudget]).toEqual([store.name, plan.replicas > 1 ? { maxUnavailable: 1 } : undefined]);
      }
    }
  });
});
