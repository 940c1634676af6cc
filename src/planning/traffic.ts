import { DataStorePlan, EnginePlan, isService } from './plan';

/** A workload traffic is allowed from: its pods, or the nodes for a host-network one. */
export interface TrafficWorkload {
  readonly name: string;
  readonly namespace: string;
  readonly hostNetwork: boolean;
}

/** A workload traffic is allowed to, on its ports. */
export interface TrafficEndpoint extends TrafficWorkload {
  readonly ports: readonly number[];
}

/** Who may reach one engine or store on its ports. */
export interface IngressTraffic {
  readonly target: TrafficEndpoint;
  /** The workloads that call it, host-network ones once (they share the node network's addresses). */
  readonly callers: readonly TrafficWorkload[];
  /** Whether the monitoring stack scrapes it on these ports (engines; stores are scraped on their metrics ports). */
  readonly scraped: boolean;
  /** Whether the edge controller reaches it (engines with a public route). */
  readonly public: boolean;
}

/** Traffic a store's own pods send or accept on some ports: between its members, from Prometheus, to HTTPS APIs. */
export interface StoreTraffic {
  readonly store: string;
  readonly namespace: string;
  readonly ports: readonly number[];
}

/** Where one engine may call: the engines and stores it depends on. */
export interface EgressTraffic {
  readonly engine: TrafficWorkload;
  readonly targets: readonly TrafficEndpoint[];
}

/**
 * Every flow the environment allows, derived from the catalog's dependencies and the store plans:
 * the NetworkPolicies render it, default-deny everywhere else. If engine A depends on B, A may
 * reach B's ports and B accepts A there; nothing else.
 */
export interface TrafficPlan {
  /** Each engine and store, by name, with who may reach it. */
  readonly ingress: readonly IngressTraffic[];
  /** The members of each replicated store reaching each other on its client and peer ports. */
  readonly peers: readonly StoreTraffic[];
  /** Each store's metrics ports, which the monitoring stack scrapes. */
  readonly metrics: readonly StoreTraffic[];
  /** Stores calling HTTPS APIs (the Kubernetes API, an object store) anywhere on these ports. */
  readonly httpsApis: readonly StoreTraffic[];
  /** Each engine that calls anything, by name, with what it calls. */
  readonly egress: readonly EgressTraffic[];
}

/**
 * The ports of HTTPS APIs, which have no pod to select: 6443 besides 443, because CNIs that
 * enforce policy after the Service's DNAT see the API server's own port.
 */
const HTTPS_API_PORTS: readonly number[] = [443, 6443];

/** Names of the engines and stores an engine calls. */
function dependencyNames(plan: EnginePlan): string[] {
  return [...plan.engine.dependencies.engines, ...plan.engine.dependencies.stores];
}

/** The workloads, with host-network ones (all matched by the node network) only once. */
function dedupe(workloads: readonly TrafficWorkload[]): TrafficWorkload[] {
  let hostNetworkSeen = false;
  return workloads.filter((w) => {
    if (!w.hostNetwork) return true;
    if (hostNetworkSeen) return false;
    hostNetworkSeen = true;
    return true;
  });
}

/** The environment's traffic graph, from its engine and store plans. */
export function planTraffic(engines: readonly EnginePlan[], stores: readonly DataStorePlan[]): TrafficPlan {
  const endpoints = new Map<string, TrafficEndpoint>();
  for (const plan of engines) {
    if (isService(plan.engine)) {
      endpoints.set(plan.engine.name, { name: plan.engine.name, namespace: plan.namespace, ports: [plan.engine.workload.port], hostNetwork: plan.hostNetwork });
    }
  }
  for (const plan of stores) {
    // With Sentinel, clients ask it for the primary, then connect to that member's own port.
    endpoints.set(plan.store.name, { name: plan.store.name, namespace: plan.namespace, ports: plan.clientPorts.map((p) => p.port), hostNetwork: false });
  }
  // Who calls whom, from the catalog.
  const callers = new Map<string, TrafficWorkload[]>();
  for (const plan of engines) {
    const caller: TrafficWorkload = { name: plan.engine.name, namespace: plan.namespace, hostNetwork: plan.hostNetwork };
    for (const target of dependencyNames(plan)) callers.set(target, [...(callers.get(target) ?? []), caller]);
  }
  const engineByName = new Map(engines.map((p) => [p.engine.name, p]));
  const byName = <T>(name: (t: T) => string) => (a: T, b: T) => name(a).localeCompare(name(b));
  return {
    ingress: [...endpoints.values()].sort(byName((e) => e.name)).map((target) => {
      const engine = engineByName.get(target.name);
      return { target, callers: dedupe(callers.get(target.name) ?? []), scraped: engine !== undefined, public: engine?.engine.publicRoute !== undefined };
    }),
    peers: stores.filter((s) => s.replicas > 1).map((plan) => ({
      store: plan.store.name, namespace: plan.namespace, ports: [plan.store.port, ...plan.store.peerPorts.map((p) => p.port)],
    })),
    metrics: stores.map((plan) => ({
      store: plan.store.name, namespace: plan.namespace, ports: [...new Set(plan.monitoring.scrapeEndpoints.map((e) => e.port))].sort((a, b) => a - b),
    })),
    httpsApis: stores.filter((s) => s.store.callsHttpsApis).map((plan) => ({ store: plan.store.name, namespace: plan.namespace, ports: HTTPS_API_PORTS })),
    egress: [...engines].sort(byName((p) => p.engine.name)).flatMap((plan) => {
      const targets = dependencyNames(plan).map((name) => endpoints.get(name)).filter((e): e is TrafficEndpoint => e !== undefined);
      return targets.length > 0 ? [{ engine: { name: plan.engine.name, namespace: plan.namespace, hostNetwork: plan.hostNetwork }, targets }] : [];
    }),
  };
}
