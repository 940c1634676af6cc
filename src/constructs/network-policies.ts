import { Construct } from 'constructs';
import { IntOrString, KubeNetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from '../../imports/k8s';
import { EnvironmentSpec } from '../environments/environment';
import { poolForRole } from '../environments/environment';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../planning/namespaces';
import { DataStorePlan, EnginePlan, isService } from '../planning/plan';
import { selectorLabels } from './labels';

/** Properties of {@link NetworkPolicies}. */
export interface NetworkPoliciesProps {
  readonly environment: EnvironmentSpec;
  readonly engines: readonly EnginePlan[];
  readonly stores: readonly DataStorePlan[];
}

/** A workload traffic can be allowed from. */
interface Workload {
  readonly name: string;
  readonly namespace: string;
  readonly hostNetwork: boolean;
}

/** A workload traffic can be allowed to, on its ports. */
interface Endpoint extends Workload {
  readonly ports: readonly number[];
}

/** Names of the engines and stores an engine calls. */
const dependencyNames = (plan: EnginePlan): string[] => [...plan.engine.dependencies.engines, ...plan.engine.dependencies.stores];

const tcp = (port: number): NetworkPolicyPort => ({ protocol: 'TCP', port: IntOrString.fromNumber(port) });

const namespaceSelector = (namespace: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': namespace } });

/**
 * Default deny in every namespace, DNS egress, and allow rules derived from the catalog's
 * dependencies: if engine A depends on B, A may reach B's port and B accepts A there; nothing else.
 * Plus Prometheus scrapes of engine ports and the ingress controller to public engines.
 *
 * Host-network pods use the node's address: they are matched by the environment's node CIDR, and
 * policies selecting them are kept for documentation, since most CNIs do not enforce them.
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { environment } = props;

    // The device plugin talks to the kubelet over a unix socket: its namespace needs no traffic at all.
    if (poolForRole(environment, 'gpu')) {
      new KubeNetworkPolicy(this, `DefaultDeny-${DEVICE_PLUGIN_NAMESPACE}`, {
        metadata: { name: 'default-deny', namespace: DEVICE_PLUGIN_NAMESPACE },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      });
    }
    for (const namespace of Object.values(NAMESPACE_NAMES)) {
      new KubeNetworkPolicy(this, `DefaultDeny-${namespace}`, {
        metadata: { name: 'default-deny', namespace },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      });
      new KubeNetworkPolicy(this, `Dns-${namespace}`, {
        metadata: { name: 'allow-dns', namespace },
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [{
            to: [{ namespaceSelector: namespaceSelector('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
            ports: [{ protocol: 'UDP', port: IntOrString.fromNumber(53) }, tcp(53)],
          }],
        },
      });
    }

    const endpoints = new Map<string, Endpoint>();
    for (const plan of props.engines) {
      if (isService(plan.engine)) {
        endpoints.set(plan.engine.name, {
          name: plan.engine.name, namespace: plan.namespace, ports: [plan.engine.workload.port], hostNetwork: plan.hostNetwork,
        });
      }
    }
    for (const plan of props.stores) {
      // With Sentinel, clients ask it for the primary, then connect to that member's own port.
      endpoints.set(plan.store.name, { name: plan.store.name, namespace: plan.namespace, ports: plan.clientPorts.map((p) => p.port), hostNetwork: false });
    }
    const peer = (e: Workload): NetworkPolicyPeer => e.hostNetwork
      ? { ipBlock: { cidr: environment.nodeNetworkCidr } }
      : { namespaceSelector: namespaceSelector(e.namespace), podSelector: { matchLabels: selectorLabels(e.name) } };

    // Who calls whom, from the catalog.
    const callers = new Map<string, Workload[]>();
    const engineByName = new Map(props.engines.map((p) => [p.engine.name, p]));
    for (const plan of props.engines) {
      const caller: Workload = { name: plan.engine.name, namespace: plan.namespace, hostNetwork: plan.hostNetwork };
      for (const target of dependencyNames(plan)) {
        callers.set(target, [...(callers.get(target) ?? []), caller]);
      }
    }

    for (const target of [...endpoints.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const plan = engineByName.get(target.name);
      const from: NetworkPolicyPeer[] = (callers.get(target.name) ?? []).map(peer);
      const targetPorts = target.ports.map(tcp);
      const ingress = from.length > 0 ? [{ from: dedupe(from), ports: targetPorts }] : [];
      if (plan) {
        ingress.push({ from: [{ namespaceSelector: namespaceSelector(environment.monitoringNamespace) }], ports: targetPorts });
        if (plan.engine.publicIngress) {
          ingress.push({ from: [{ namespaceSelector: namespaceSelector(environment.ingressNamespace) }], ports: targetPorts });
        }
      }
      new KubeNetworkPolicy(this, `Ingress-${target.name}`, {
        metadata: { name: `${target.name}-ingress`, namespace: target.namespace },
        spec: { podSelector: { matchLabels: selectorLabels(target.name) }, policyTypes: ['Ingress'], ingress },
      });
    }

    // Members of a replicated store reach each other on the client port (replication) and their
    // peer ports (e.g. Sentinel's, Patroni's REST API).
    for (const plan of props.stores.filter((s) => s.replicas > 1)) {
      const own = { podSelector: { matchLabels: selectorLabels(plan.store.name) } };
      const ports = [tcp(plan.store.port), ...plan.store.peerPorts.map((p) => tcp(p.port))];
      new KubeNetworkPolicy(this, `Peers-${plan.store.name}`, {
        metadata: { name: `${plan.store.name}-peers`, namespace: plan.namespace },
        spec: {
          podSelector: own.podSelector,
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: [own], ports }],
          egress: [{ to: [own], ports }],
        },
      });
    }
    // The Kubernetes API and object stores have no pod selector: any address on the HTTPS ports.
    // 6443 too, because CNIs that enforce policy after the Service's DNAT see the API server's own port.
    for (const plan of props.stores.filter((s) => s.store.callsHttpsApis)) {
      new KubeNetworkPolicy(this, `HttpsApis-${plan.store.name}`, {
        metadata: { name: `${plan.store.name}-https-apis`, namespace: plan.namespace },
        spec: {
          podSelector: { matchLabels: selectorLabels(plan.store.name) },
          policyTypes: ['Egress'],
          egress: [{ ports: [tcp(443), tcp(6443)] }],
        },
      });
    }

    for (const plan of [...props.engines].sort((a, b) => a.engine.name.localeCompare(b.engine.name))) {
      const targets = dependencyNames(plan)
        .map((name) => endpoints.get(name))
        .filter((e): e is Endpoint => e !== undefined);
      if (targets.length === 0) continue;
      new KubeNetworkPolicy(this, `Egress-${plan.engine.name}`, {
        metadata: { name: `${plan.engine.name}-egress`, namespace: plan.namespace },
        spec: {
          podSelector: { matchLabels: selectorLabels(plan.engine.name) },
          policyTypes: ['Egress'],
          egress: targets.map((t) => ({ to: [peer(t)], ports: t.ports.map(tcp) })),
        },
      });
    }
  }
}

function dedupe(peers: NetworkPolicyPeer[]): NetworkPolicyPeer[] {
  const seen = new Set<string>();
  return peers.filter((p) => {
    const key = JSON.stringify(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
