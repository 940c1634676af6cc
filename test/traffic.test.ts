import { PROD } from '../src/environments/platform-environments';
import { planEnvironment } from '../src/planning/environment-plan';
import { isService } from '../src/planning/plan';
import { platformInput } from './support/platform';

// The traffic graph is decided in the plan from the catalog's dependencies; the NetworkPolicies render it.
describe('traffic plan', () => {
  const plan = planEnvironment(platformInput(), PROD);
  const ingress = (name: string) => plan.traffic.ingress.find((i) => i.target.name === name)!;

  test('every dependency is one flow: the caller\'s egress names the target, the target\'s ingress names the caller', () => {
    for (const engine of plan.engines) {
      const egress = plan.traffic.egress.find((e) => e.engine.name === engine.engine.name);
      const targets = [...engine.engine.dependencies.engines, ...engine.engine.dependencies.stores];
      expect(egress?.targets.map((t) => t.name) ?? []).toEqual(targets);
      for (const target of targets) {
        const callers = ingress(target).callers;
        expect(callers.some((c) => c.name === engine.engine.name || (engine.hostNetwork && c.hostNetwork))).toBe(true);
      }
    }
  });

  test('host-network callers are listed once (they share the node network); engines are scraped, stores on their metrics ports', () => {
    for (const { target, callers, scraped } of plan.traffic.ingress) {
      expect(callers.filter((c) => c.hostNetwork).length).toBeLessThanOrEqual(1);
      expect(scraped).toBe(plan.engines.some((e) => e.engine.name === target.name && isService(e.engine)));
    }
    expect(plan.traffic.metrics.map((m) => m.store).sort()).toEqual(plan.stores.map((s) => s.store.name).sort());
  });

  test('a store reached through Sentinel is reached on Sentinel\'s port too; replicated stores talk to their members on their peer ports', () => {
    const redis = plan.stores.find((s) => s.store.name === 'redis')!;
    expect(ingress('redis').target.ports).toEqual(redis.clientPorts.map((p) => p.port));
    const peers = plan.traffic.peers.find((p) => p.store === 'redis')!;
    expect(peers.ports).toEqual([redis.store.port, ...redis.store.peerPorts.map((p) => p.port)]);
  });
});
