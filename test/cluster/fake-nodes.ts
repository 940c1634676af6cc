import { KubeConfig } from '@kubernetes/client-node';
import { applyManifests, kubeRequest, ManifestObject } from './apply';
import { KWOK_NODE_LABEL_KEY, KWOK_NODE_LABEL_VALUE } from './control-plane';

/** A node kwok should fake. */
export interface FakeNodeSpec {
  /** Node name. */
  readonly name: string;
  /** CPU capacity as a Kubernetes quantity, e.g. `'8'`. */
  readonly cpu: string;
  /** Memory capacity as a Kubernetes quantity, e.g. `'32Gi'`. */
  readonly memory: string;
  /**
   * Allocatable memory, when less than the capacity: a kubelet subtracts
   * pre-allocated hugepages (and any reservations) from it.
   * @default memory
   */
  readonly allocatableMemory?: string;
  /**
   * Allocatable CPU, when less than the capacity: a kubelet subtracts
   * kube-reserved and system-reserved CPU (or its reservedSystemCPUs).
   * @default cpu
   */
  readonly allocatableCpu?: string;
  /**
   * CPU architecture: the `kubernetes.io/arch` label and `status.nodeInfo.architecture`.
   * @default 'amd64'
   */
  readonly arch?: 'amd64' | 'arm64';
  /**
   * Further resources the node advertises, in both capacity and allocatable:
   * extended resources such as `nvidia.com/gpu` (a device plugin's job on a real
   * node) and pre-allocated `hugepages-2Mi` / `hugepages-1Gi`.
   * @default {}
   */
  readonly extraResources?: Readonly<Record<string, string>>;
  /**
   * Maximum pods on the node.
   * @default 110
   */
  readonly pods?: number;
  /**
   * Extra labels, e.g. `topology.kubernetes.io/zone`. The kwok label is always added.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Taints on the node.
   * @default []
   */
  readonly taints?: readonly { readonly key: string; readonly value?: string; readonly effect: string }[];
}

/** The Node object for `spec`, labelled so that the harness's kwok manages it. */
export function fakeNode(spec: FakeNodeSpec): ManifestObject {
  const arch = spec.arch ?? 'amd64';
  const capacity = { cpu: spec.cpu, memory: spec.memory, pods: String(spec.pods ?? 110), ...spec.extraResources };
  const allocatable = { ...capacity, cpu: spec.allocatableCpu ?? spec.cpu, memory: spec.allocatableMemory ?? spec.memory };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': arch,
        ...spec.labels,
        [KWOK_NODE_LABEL_KEY]: KWOK_NODE_LABEL_VALUE,
      },
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { taints: [...(spec.taints ?? [])] },
    // kwok's node-initialize stage keeps whatever architecture is set here.
    status: { capacity, allocatable, nodeInfo: { architecture: arch, operatingSystem: 'linux' } },
  };
}

/**
 * Taints a new node carries until the node lifecycle controller has seen it
 * Ready. A pod the scheduler tries while they are there is parked as
 * unschedulable and may wait for a retry much longer than the taint lasts.
 */
const NODE_CONDITION_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/**
 * Creates the fake nodes and waits until kwok reports each one Ready and the
 * node lifecycle controller has lifted the not-ready taint, i.e. until pods can
 * be scheduled onto them. Capacity lives in `status`, which apply does not
 * own, so it is also written through the status subresource.
 */
export async function createFakeNodes(kc: KubeConfig, specs: readonly FakeNodeSpec[], timeoutMs = 60_000): Promise<void> {
  const nodes = specs.map(fakeNode);
  await applyManifests(kc, nodes, { fieldManager: 'nautilus-k8s-fake-nodes' });
  for (const node of nodes) {
    const response = await kubeRequest(kc, `/api/v1/nodes/${node.metadata?.name}/status`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: JSON.stringify({ status: node.status }),
    });
    if (response.status !== 200) {
      throw new Error(`setting the capacity of fake node ${node.metadata?.name} failed: HTTP ${response.status}: ${response.body}`);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const spec of specs) {
    for (;;) {
      const response = await kubeRequest(kc, `/api/v1/nodes/${spec.name}`);
      const node = JSON.parse(response.body) as {
        spec?: { taints?: { key: string }[] };
        status?: { conditions?: { type: string; status: string }[] };
      };
      const ready = node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True');
      const notReadyTaints = (node.spec?.taints ?? []).filter((taint) => NODE_CONDITION_TAINTS.includes(taint.key));
      if (ready && notReadyTaints.length === 0) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          ready
            ? `fake node ${spec.name} is Ready but still tainted ${notReadyTaints.map((t) => t.key).join(', ')} after ${timeoutMs} ms; is kube-controller-manager running?`
            : `fake node ${spec.name} did not become Ready within ${timeoutMs} ms; is kwok running (see its log)?`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
