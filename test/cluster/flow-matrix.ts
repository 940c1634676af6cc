import { V1Pod } from '@kubernetes/client-node';
import { DataStoreSpec } from '../../src/catalog/data-stores';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { EnvironmentSpec } from '../../src/environments/environment';
import { isService, planDataStore } from '../../src/planning/plan';
import { RealNode } from './real-node';

/**
 * The NetworkPolicy flow matrix of an environment running as real pods: which connections the
 * catalog declares (expected to connect) and which it does not (expected to be refused), probed
 * from inside the pods themselves.
 *
 * The expectation is derived from the input (each engine's declared dependencies, public ingress
 * and the stores' client ports), never from the generated policies, so a missing or an extra allow
 * in the manifests shows up as a mismatch.
 */

/** Where a probe starts: a platform pod, or a probe pod standing in for a namespace's workloads. */
export interface FlowSource {
  /** How the matrix names it: an engine or store name, or `<namespace>/*` for a probe pod. */
  readonly name: string;
  readonly pod: V1Pod;
  /** The engine or store the pod runs; undefined for a probe pod. */
  readonly workload?: { readonly kind: 'engine'; readonly spec: EngineSpec } | { readonly kind: 'store'; readonly spec: DataStoreSpec };
  /** The probe pod's namespace role, for the namespaces the environment names. */
  readonly role?: 'monitoring' | 'ingress' | 'unrelated';
}

/** Where a probe goes. `address` is a pod IP, or a Service's cluster IP for DNS and the API server. */
export interface FlowDestination {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly hostNetwork: boolean;
}

/** One probe of the matrix, with what the catalog says it should do and why. */
export interface Flow {
  readonly source: FlowSource;
  readonly destination: FlowDestination;
  readonly allowed: boolean;
  readonly because: string;
}

/** A flow the matrix does not claim, with the reason (host-network traffic on the node itself). */
export interface SkippedFlow {
  readonly source: string;
  readonly destination: string;
  readonly because: string;
}

/** The cluster's DNS Service and the `kubernetes` Service, as destinations every pod has. */
export interface ClusterServices {
  readonly dns: { readonly address: string; readonly port: number };
  readonly apiServer: { readonly address: string; readonly port: number };
}

/** Builds the expected matrix: every source to every destination port of every other platform pod. */
export function expectedFlows(
  environment: EnvironmentSpec, stores: readonly DataStoreSpec[], sources: readonly FlowSource[], services: ClusterServices,
): { flows: Flow[]; skipped: SkippedFlow[] } {
  const clientPorts = new Map(stores.map((s) => [s.name, new Set(planDataStore(s, environment).clientPorts.map((p) => p.port))]));
  const destinations = sources.filter((s) => s.workload).flatMap((s) => podPorts(s).map((port) => ({ target: s, port })));
  const flows: Flow[] = [];
  const skipped: SkippedFlow[] = [];

  for (const source of sources) {
    const sourceHostNetwork = source.pod.spec?.hostNetwork === true;
    for (const { target, port } of destinations) {
      if (target.pod.metadata?.uid === source.pod.metadata?.uid) continue;
      const destination: FlowDestination = {
        name: target.name, address: target.pod.status!.podIP!, port, hostNetwork: target.pod.spec?.hostNetwork === true,
      };
      const [allowed, because] = expectation(source, target, port, clientPorts);
      // Node-local traffic of a host-network pod is the node's own: a pod-level policy
      // implementation admits it (the kubelet's probes need that), so only declared flows are claimed.
      if (!allowed && (sourceHostNetwork || destination.hostNetwork)) {
        skipped.push({ source: source.name, destination: `${target.name}:${port}`, because: 'host network: node-local traffic, not subject to pod policies' });
        continue;
      }
      flows.push({ source, destination, allowed, because });
    }
    if (sourceHostNetwork) continue;
    // Every platform pod resolves names; probe pods live in namespaces without policies of ours.
    if (source.workload) {
      flows.push({ source, destination: { name: 'kube-dns', ...services.dns, hostNetwork: false }, allowed: true, because: 'every platform namespace allows DNS' });
      const callsApi = source.workload.kind === 'store' && source.workload.spec.callsHttpsApis;
      flows.push({
        source, destination: { name: 'kube-apiserver', ...services.apiServer, hostNetwork: false }, allowed: callsApi,
        because: callsApi ? `${source.name} calls HTTPS APIs (its replication manager's leader lock)` : `${source.name} declares no call to the Kubernetes API`,
      });
    }
  }
  return { flows, skipped };
}

/** What the catalog says of one flow: allowed or not, and why. */
function expectation(source: FlowSource, target: FlowSource, port: number, clientPorts: ReadonlyMap<string, ReadonlySet<number>>): [boolean, string] {
  const workload = target.workload!;
  if (source.role === 'unrelated') return [false, 'an unrelated namespace reaches no platform pod'];
  if (workload.kind === 'engine') {
    const engine = workload.spec;
    if (source.role === 'monitoring') return [true, 'the monitoring namespace scrapes every engine'];
    if (source.role === 'ingress') return [engine.publicRoute !== undefined, engine.publicRoute ? `${engine.name} is public` : `${engine.name} is not public`];
    if (source.workload?.kind === 'engine' && source.workload.spec.dependencies.engines.includes(engine.name)) return [true, `${source.name} depends on ${engine.name}`];
    return [false, `${source.name} does not depend on ${engine.name}`];
  }
  const store = workload.spec;
  const client = clientPorts.get(store.name)?.has(port) ?? false;
  if (!client) {
    // The store's other ports: metrics and the members' peer ports.
    if (source.role === 'monitoring') return [true, `the monitoring namespace scrapes ${store.name}`];
    if (source.workload?.kind === 'store' && source.workload.spec.name === store.name) return [true, `members of ${store.name} reach each other`];
    return [false, `port ${port} of ${store.name} is for its members and the monitoring namespace`];
  }
  if (source.workload?.kind === 'engine' && (source.workload.spec.dependencies.stores as readonly string[]).includes(store.name)) {
    return [true, `${source.name} depends on ${store.name}`];
  }
  if (source.workload?.kind === 'store' && source.workload.spec.name === store.name) return [true, `members of ${store.name} replicate from each other`];
  return [false, `${source.name} does not depend on ${store.name}`];
}

/** The TCP ports a workload's pod listens on, from its containers. */
function podPorts(source: FlowSource): number[] {
  const ports = (source.pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort));
  if (source.workload?.kind === 'engine' && isService(source.workload.spec)) ports.push(source.workload.spec.workload.port);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * Connects to each `address:port` from inside a container (bash's /dev/tcp, in every image here),
 * all at once; resolves with the set that connected within `timeoutSeconds`. `dns` asks for a name
 * through the pod's resolver instead (the DNS probe is UDP).
 */
export async function probeFromContainer(
  node: Pick<RealNode, 'execInContainer'>, containerId: string, targets: readonly string[], timeoutSeconds: number,
): Promise<Set<string>> {
  const script = `
for target in "$@"; do
  (
    if [ "$target" = dns ]; then
      timeout ${timeoutSeconds} getent hosts kubernetes.default.svc.cluster.local >/dev/null 2>&1 && echo "$target"
    else
      timeout ${timeoutSeconds} bash -c "exec 3<>/dev/tcp/\${target%:*}/\${target##*:}" 2>/dev/null && echo "$target"
    fi
  ) &
done
wait`;
  return lines(await node.execInContainer(containerId, ['bash', '-c', script, 'probe', ...targets]));
}

/**
 * The same probe from the node's own network namespace, run by `exec` (the node's), where every
 * pod port must answer: node-local traffic is admitted by policy (the kubelet's probes).
 */
export function probeFromNode(exec: (command: readonly string[]) => string, targets: readonly string[], timeoutSeconds: number): Set<string> {
  const script = `for target in "$@"; do (timeout ${timeoutSeconds} bash -c "exec 3<>/dev/tcp/\${target%:*}/\${target##*:}" 2>/dev/null && echo "$target") & done; wait`;
  return lines(exec(['bash', '-c', script, 'probe', ...targets]));
}

function lines(output: string): Set<string> {
  return new Set(output.split('\n').map((line) => line.trim()).filter(Boolean));
}
