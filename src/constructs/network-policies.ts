import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { IntOrString, NetworkPolicySpec } from '../../imports/k8s';
import { EnvironmentSpec } from '../environments/environment';
import { poolForRole } from '../environments/environment';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../planning/namespaces';
import { DataStorePlan, EnginePlan, isService } from '../planning/plan';
import { setField } from './escape-hatches';
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

const tcp = (port: number): kplus.NetworkPolicyPort => kplus.NetworkPolicyPort.tcp(port);

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
    const deny = { default: kplus.NetworkPolicyTrafficDefault.DENY };
    // Selectors and peers are made once each and shared by every policy that names them: a
    // construct per rule would make synthesis time grow with the number of rules, not workloads.
    const shared = new Map<string, kplus.INetworkPolicyPeer>();
    const once = <T extends kplus.INetworkPolicyPeer>(id: string, make: () => T): T => {
      if (!shared.has(id)) shared.set(id, make());
      return shared.get(id) as T;
    };
    /** All pods of `namespace`, as a peer. */
    const namespacePeer = (namespace: string): kplus.Namespaces =>
      once(`Namespace-${namespace}`, () => kplus.Namespaces.select(this, `Namespace-${namespace}`, { names: [namespace] }));
    /** The pods labelled `labels`, in `namespace` if given, else in the policy's own. */
    const podsPeer = (id: string, labels: Record<string, string>, namespace?: string): kplus.Pods =>
      once(`${id}@${namespace ?? ''}`, () => kplus.Pods.select(this, `${id}@${namespace ?? ''}`, {
        labels,
        namespaces: namespace ? namespacePeer(namespace) : undefined,
      }));
    /** A workload's own pods: the pods a policy selects, and the members of a replicated store. */
    const ownPods = (name: string): kplus.Pods => podsPeer(`Own-${name}`, selectorLabels(name));

    // The device plugin talks to the kubelet over a unix socket: its namespace needs no traffic at all.
    if (poolForRole(environment, 'gpu')) {
      new kplus.NetworkPolicy(this, `DefaultDeny-${DEVICE_PLUGIN_NAMESPACE}`, {
        metadata: { name: 'default-deny', namespace: DEVICE_PLUGIN_NAMESPACE }, ingress: deny, egress: deny,
      });
    }
    for (const namespace of Object.values(NAMESPACE_NAMES)) {
      new kplus.NetworkPolicy(this, `DefaultDeny-${namespace}`, { metadata: { name: 'default-deny', namespace }, ingress: deny, egress: deny });
      const dns = new kplus.NetworkPolicy(this, `Dns-${namespace}`, { metadata: { name: 'allow-dns', namespace } });
      dns.addEgressRule(podsPeer('KubeDns', { 'k8s-app': 'kube-dns' }, 'kube-system'), [kplus.NetworkPolicyPort.udp(53), tcp(53)]);
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
    const nodes = kplus.NetworkPolicyIpBlock.ipv4(this, 'Nodes', environment.nodeNetworkCidr);
    const peer = (e: Workload): kplus.INetworkPolicyPeer => e.hostNetwork
      ? nodes
      : podsPeer(`Pods-${e.name}`, selectorLabels(e.name), e.namespace);

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
      const targetPorts = target.ports.map(tcp);
      const policy = new kplus.NetworkPolicy(this, `Ingress-${target.name}`, {
        metadata: { name: `${target.name}-ingress`, namespace: target.namespace },
        selector: ownPods(target.name),
        // Deny first: a store nobody calls accepts nothing; each rule below opens one caller.
        ingress: deny,
      });
      // One rule per calling workload (cdk8s-plus-27 gives each rule one peer); host-network
      // callers share the node CIDR, so they make one rule between them.
      for (const caller of dedupe(callers.get(target.name) ?? [])) policy.addIngressRule(peer(caller), targetPorts);
      if (plan) {
        policy.addIngressRule(namespacePeer(environment.monitoringNamespace), targetPorts);
        if (plan.engine.publicIngress) policy.addIngressRule(namespacePeer(environment.ingressNamespace), targetPorts);
      }
    }

    // Members of a replicated store reach each other on the client port (replication) and their
    // peer ports (e.g. Sentinel's, Patroni's REST API).
    for (const plan of props.stores.filter((s) => s.replicas > 1)) {
      const ports = [tcp(plan.store.port), ...plan.store.peerPorts.map((p) => tcp(p.port))];
      const policy = new kplus.NetworkPolicy(this, `Peers-${plan.store.name}`, {
        metadata: { name: `${plan.store.name}-peers`, namespace: plan.namespace },
        selector: ownPods(plan.store.name),
      });
      const members = ownPods(plan.store.name);
      policy.addIngressRule(members, ports);
      policy.addEgressRule(members, ports);
    }
    // Prometheus scrapes every store member on its metrics ports (Patroni's API, the exporters).
    for (const plan of props.stores) {
      const ports = [...new Set(plan.monitoring.scrapeEndpoints.map((e) => e.port))].sort((a, b) => a - b);
      const policy = new kplus.NetworkPolicy(this, `Metrics-${plan.store.name}`, {
        metadata: { name: `${plan.store.name}-metrics`, namespace: plan.namespace },
        selector: ownPods(plan.store.name),
        ingress: deny,
      });
      policy.addIngressRule(namespacePeer(environment.monitoringNamespace), ports.map(tcp));
    }
    // The Kubernetes API and object stores have no pod selector: any address on the HTTPS ports.
    // 6443 too, because CNIs that enforce policy after the Service's DNAT see the API server's own port.
    for (const plan of props.stores.filter((s) => s.store.callsHttpsApis)) {
      const policy = new kplus.NetworkPolicy(this, `HttpsApis-${plan.store.name}`, {
        metadata: { name: `${plan.store.name}-https-apis`, namespace: plan.namespace },
        selector: ownPods(plan.store.name),
        egress: deny,
      });
      // cdk8s-plus-27 gives every rule a peer; "any address" here must include IPv6, so the rule has ports only.
      setField<NetworkPolicySpec, 'egress'>(policy, '/spec', 'egress', [{ ports: [443, 6443].map((port) => ({ protocol: 'TCP', port: IntOrString.fromNumber(port) })) }]);
    }

    for (const plan of [...props.engines].sort((a, b) => a.engine.name.localeCompare(b.engine.name))) {
      const targets = dependencyNames(plan)
        .map((name) => endpoints.get(name))
        .filter((e): e is Endpoint => e !== undefined);
      if (targets.length === 0) continue;
      const policy = new kplus.NetworkPolicy(this, `Egress-${plan.engine.name}`, {
        metadata: { name: `${plan.engine.name}-egress`, namespace: plan.namespace },
        selector: ownPods(plan.engine.name),
      });
      for (const t of targets) policy.addEgressRule(peer(t), t.ports.map(tcp));
    }
  }
}

/** The workloads, with host-network ones (all matched by the node CIDR) only once. */
function dedupe(workloads: readonly Workload[]): Workload[] {
  let hostNetworkSeen = false;
  return workloads.filter((w) => {
    if (!w.hostNetwork) return true;
    if (hostNetworkSeen) return false;
    hostNetworkSeen = true;
    return true;
  });
}
