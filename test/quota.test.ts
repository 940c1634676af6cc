import { DEV, PROD } from '../src/environments/platform-environments';
import { planEnvironment } from '../src/planning/environment-plan';
import { NAMESPACE_NAMES } from '../src/planning/namespaces';
import { platformInput } from './support/platform';

// The namespaces' quotas are decided in the plan; ClusterFoundation only renders them.
describe('namespace quotas', () => {
  test.each([DEV, PROD].map((e) => [e.name, e] as const))('%s: each namespace\'s quota is its pods at their maximum plus the largest pod once more', (_name, environment) => {
    const plan = planEnvironment(platformInput(), environment);
    expect(plan.quotas.map((q) => q.namespace)).toEqual(Object.values(NAMESPACE_NAMES));
    for (const quota of plan.quotas) {
      const engines = plan.engines.filter((p) => p.namespace === quota.namespace);
      const stores = plan.stores.filter((p) => p.namespace === quota.namespace);
      const pods = [
        ...engines.map((p) => ({ count: p.autoscaling?.maxReplicas ?? p.replicas, cpu: p.cpuRequest.millicores })),
        ...stores.map((p) => ({ count: p.replicas, cpu: p.podRequests.cpu.millicores })),
      ];
      expect(quota.pods).toBe(pods.reduce((t, p) => t + p.count + 1, 0));
      expect(quota.cpu.millicores).toBe(pods.reduce((t, p) => t + p.count * p.cpu, 0) + Math.max(...pods.map((p) => p.cpu)));
    }
  });

  test('store members claim their volumes: storage and one claim per member, in the data namespace only', () => {
    const plan = planEnvironment(platformInput(), PROD);
    const data = plan.quotas.find((q) => q.namespace === NAMESPACE_NAMES.data)!;
    expect(data.storage!.mebibytes).toBe(plan.stores.reduce((t, s) => t + s.replicas * s.storage.mebibytes, 0));
    expect(data.persistentVolumeClaims).toBe(plan.stores.reduce((t, s) => t + s.replicas, 0));
    for (const quota of plan.quotas.filter((q) => q !== data)) expect([quota.storage, quota.persistentVolumeClaims]).toEqual([undefined, undefined]);
  });

  test('hugepages and GPUs are counted only where a pod asks for them', () => {
    const plan = planEnvironment(platformInput(), PROD);
    const latency = plan.quotas.find((q) => q.namespace === NAMESPACE_NAMES.latency)!;
    const engines = plan.quotas.find((q) => q.namespace === NAMESPACE_NAMES.engines)!;
    expect(latency.hugepages?.mebibytes).toBeGreaterThan(0);
    expect(latency.gpus).toBeUndefined();
    expect(engines.gpus).toBeGreaterThan(0);
    expect(engines.hugepages).toBeUndefined();
  });
});
