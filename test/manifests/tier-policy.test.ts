import { Tier } from '../../src/catalog/tier';
import { PROD } from '../../src/environments/platform-environments';
import { isService } from '../../src/planning/plan';
import { PLATFORM_ENGINES, find, podSpecOf, synthObjects } from '../support/platform';

// Probe periods, scrape interval, rollout pace and added capabilities are decided by the tier
// policy (src/catalog/tier.ts) and only rendered by the Engine construct.
describe('tier runtime policy', () => {
  const objects = synthObjects(PROD);
  const tiers = Tier.all().filter((tier) => PLATFORM_ENGINES.some((e) => e.tier === tier && isService(e)));

  test('every tier with a service engine is covered, and the two runtime policies differ', () => {
    expect(tiers.map((t) => t.name).sort()).toEqual(Tier.all().map((t) => t.name).sort());
    expect(Tier.ULTRA_LOW_LATENCY.runtime).not.toEqual(Tier.COMPUTE.runtime);
  });

  test.each(tiers.map((t) => [t.name, t] as const))('%s engines are rendered with their tier\'s runtime policy', (_name, tier) => {
    const { probes, scrapeInterval, rollout, addedCapabilities } = tier.runtime;
    for (const engine of PLATFORM_ENGINES.filter((e) => e.tier === tier && isService(e))) {
      const [container] = podSpecOf(objects, engine).containers;
      expect(container.startupProbe.periodSeconds).toBe(probes.startupPeriod.toSeconds());
      expect(container.livenessProbe.periodSeconds).toBe(probes.livenessPeriod.toSeconds());
      expect(container.readinessProbe.periodSeconds).toBe(probes.readinessPeriod.toSeconds());
      expect(container.readinessProbe.failureThreshold).toBe(probes.readinessFailureThreshold);
      expect(container.securityContext.capabilities.add ?? []).toEqual(addedCapabilities);
      expect(find(objects, 'Deployment', engine.name).spec.strategy.rollingUpdate).toEqual(rollout);
      expect(find(objects, 'ServiceMonitor', engine.name).spec.endpoints[0].interval).toBe(scrapeInterval.toPrometheus());
    }
  });
});
