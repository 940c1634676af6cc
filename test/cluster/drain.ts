import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from './apply';
import { ClusterState, isDaemonSetPod, isTerminal, isTerminating, objectName } from './cluster-state';

/** What the API server answered to one eviction. */
export interface EvictionOutcome {
  /** `namespace/name` of the pod. */
  readonly pod: string;
  /** The pod's node. */
  readonly node: string;
  /** HTTP status: 201 evicted, 429 refused because of a PodDisruptionBudget. */
  readonly status: number;
  /** The API server's message (empty on success). */
  readonly message: string;
}

/** What {@link drainNodes} did. */
export interface DrainResult {
  readonly nodes: readonly string[];
  /** Evictions the API server accepted. */
  readonly evicted: readonly EvictionOutcome[];
  /** Evictions the API server refused (429 when a PDB forbids it). */
  readonly refused: readonly EvictionOutcome[];
}

/** Marks the node unschedulable, as `kubectl cordon` does. */
export async function cordon(kc: KubeConfig, node: string): Promise<void> {
  const response = await kubeRequest(kc, `/api/v1/nodes/${encodeURIComponent(node)}`, {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    body: JSON.stringify({ spec: { unschedulable: true } }),
  });
  if (response.status !== 200) {
    throw new Error(`cordoning node ${node} failed: HTTP ${response.status}: ${response.body}`);
  }
}

/**
 * Asks the API server to evict the pod through the `policy/v1` Eviction
 * subresource, which honours PodDisruptionBudgets (unlike a plain delete).
 * Returns the status instead of throwing: 201 evicted, 429 refused by a PDB.
 */
export async function evictPod(kc: KubeConfig, namespace: string, name: string): Promise<{ status: number; message: string }> {
  const response = await kubeRequest(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`, {
    method: 'POST',
    contentType: 'application/json',
    body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } }),
  });
  let message = '';
  if (response.status !== 201 && response.status !== 200) {
    try {
      message = (JSON.parse(response.body) as { message?: string }).message ?? response.body;
    } catch {
      message = response.body;
    }
  }
  return { status: response.status, message };
}

/**
 * Drains `nodes` the way `kubectl drain --ignore-daemonsets` does, in a single
 * pass: cordons them, then asks for the eviction of every pod on them except
 * DaemonSet pods and finished pods. Evictions a PDB forbids are refused (429)
 * and, unlike kubectl, not retried: the result says which were.
 */
export async function drainNodes(kc: KubeConfig, state: ClusterState, nodes: readonly string[]): Promise<DrainResult> {
  for (const node of nodes) {
    await cordon(kc, node);
  }
  const evicted: EvictionOutcome[] = [];
  const refused: EvictionOutcome[] = [];
  const targets = state.pods.filter(
    (pod) => nodes.includes(pod.spec?.nodeName ?? '') && !isDaemonSetPod(pod) && !isTerminal(pod) && !isTerminating(pod),
  );
  for (const pod of targets) {
    const { status, message } = await evictPod(kc, pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    const outcome = { pod: objectName(pod), node: pod.spec?.nodeName ?? '', status, message };
    (status === 201 || status === 200 ? evicted : refused).push(outcome);
  }
  return { nodes, evicted, refused };
}

/** Every eviction of the drain was accepted; refused ones (a PDB that blocks the drain) are listed. */
export function checkDrainCompleted(result: DrainResult): string[] {
  return result.refused.map((outcome) => `eviction of pod ${outcome.pod} from node ${outcome.node} refused: HTTP ${outcome.status}: ${outcome.message}`);
}
