import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { IntOrString, NetworkPolicySpec } from '../../imports/k8s';
import { EnvironmentSpec } from '../environments/environment';
import { poolForRole } from '../environments/environment';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../planning/namespaces';
import { EdgePlan } from '../planning/edge';
import { TrafficPlan, TrafficWorkload } from '../planning/traffic';
import { setField } from './escape-hatches';
import { selectorLabels } from './labels';

/** Properties of {@link NetworkPolicies}. */
export interface NetworkPoliciesProps {
  readonly environment: EnvironmentSpec;
  /** Every flow the environment allows, as planned. */
  readonly traffic: TrafficPlan;
  /** The public engines' edge, where there is one. */
  readonly edge?: EdgePlan;
}

/** The port and pod label of cert-manager's HTTP-01 solver, which answers an ACME authority's challenge. */
const ACME_SOLVER = { port: 8089, labels: { 'acme.cert-manager.io/http01-solver': 'true' } } as const;

const tcp = (port: number): kplus.NetworkPolicyPort => kplus.NetworkPolicyPort.tcp(port);

/**
 * Default deny in every namespace, DNS egress, and allow rules for the planned traffic (derived
 * from the catalog's dependencies: if engine A depends on B, A may reach B's port and B accepts A
 * there; nothing else), Prometheus scrapes and the ingress controller to public engines.
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

    const { traffic } = props;
    const nodes = kplus.NetworkPolicyIpBlock.ipv4(this, 'Nodes', environment.nodeNetworkCidr);
    const peer = (e: TrafficWorkload): kplus.INetworkPolicyPeer => e.hostNetwork
      ? nodes
      : podsPeer(`Pods-${e.name}`, selectorLabels(e.name), e.namespace);

    for (const { target, callers, scraped, public: publicIngress } of traffic.ingress) {
      const targetPorts = target.ports.map(tcp);
      const policy = new kplus.NetworkPolicy(this, `Ingress-${target.name}`, {
        metadata: { name: `${target.name}-ingress`, namespace: target.namespace },
        selector: ownPods(target.name),
        // Deny first: a store nobody calls accepts nothing; each rule below opens one caller.
        ingress: deny,
      });
      // One rule per calling workload (cdk8s-plus-27 gives each rule one peer); host-network
      // callers share the node CIDR, so the plan lists them once.
      for (const caller of callers) policy.addIngressRule(peer(caller), targetPorts);
      if (scraped) policy.addIngressRule(namespacePeer(environment.monitoringNamespace), targetPorts);
      if (publicIngress) policy.addIngressRule(namespacePeer(environment.externalAccess.controller.namespace), targetPorts);
    }

    // Members of a replicated store reach each other on the client port (replication) and their
    // peer ports (e.g. Sentinel's, Patroni's REST API).
    for (const { store, namespace, ports } of traffic.peers) {
      const policy = new kplus.NetworkPolicy(this, `Peers-${store}`, {
        metadata: { name: `${store}-peers`, namespace },
        selector: ownPods(store),
      });
      const members = ownPods(store);
      policy.addIngressRule(members, ports.map(tcp));
      policy.addEgressRule(members, ports.map(tcp));
    }
    // Prometheus scrapes every store member on its metrics ports (Patroni's API, the exporters).
    for (const { store, namespace, ports } of traffic.metrics) {
      const policy = new kplus.NetworkPolicy(this, `Metrics-${store}`, {
        metadata: { name: `${store}-metrics`, namespace },
        selector: ownPods(store),
        ingress: deny,
      });
      policy.addIngressRule(namespacePeer(environment.monitoringNamespace), ports.map(tcp));
    }
    // The Kubernetes API and object stores have no pod selector: any address on the HTTPS ports.
    for (const { store, namespace, ports } of traffic.httpsApis) {
      const policy = new kplus.NetworkPolicy(this, `HttpsApis-${store}`, {
        metadata: { name: `${store}-https-apis`, namespace },
        selector: ownPods(store),
        egress: deny,
      });
      // cdk8s-plus-27 gives every rule a peer; "any address" here must include IPv6, so the rule has ports only.
      setField<NetworkPolicySpec, 'egress'>(policy, '/spec', 'egress', [{ ports: ports.map((port) => ({ protocol: 'TCP', port: IntOrString.fromNumber(port) })) }]);
    }

    // An ACME authority's HTTP-01 challenge reaches cert-manager's solver pod, in the routes'
    // namespace, through the edge controller, while a certificate is being issued.
    const edge = props.edge;
    if (edge?.access.issuer.kind === 'acme') {
      const policy = new kplus.NetworkPolicy(this, 'AcmeSolver', {
        metadata: { name: 'acme-http01-solver-ingress', namespace: edge.namespace },
        selector: podsPeer('AcmeSolver', { ...ACME_SOLVER.labels }),
        ingress: deny,
      });
      policy.addIngressRule(namespacePeer(edge.access.controller.namespace), [tcp(ACME_SOLVER.port)]);
    }

    for (const { engine, targets } of traffic.egress) {
      const policy = new kplus.NetworkPolicy(this, `Egress-${engine.name}`, {
        metadata: { name: `${engine.name}-egress`, namespace: engine.namespace },
        selector: ownPods(engine.name),
      });
      for (const t of targets) policy.addEgressRule(peer(t), t.ports.map(tcp));
    }
  }
}
