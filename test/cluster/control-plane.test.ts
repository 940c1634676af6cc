import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { applyManifests, ManifestObject, parseWarningHeader } from './apply';
import { ControlPlane, KWOK_NODE_LABEL_KEY, KWOK_NODE_LABEL_VALUE, startControlPlane } from './control-plane';
import { createFakeNodes } from './fake-nodes';

// A cold cache builds the binaries first (tens of minutes); a warm start takes seconds.
jest.setTimeout(60 * 60 * 1000);

const NAMESPACE = 'smoke';

const namespace: ManifestObject = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name: NAMESPACE,
    labels: {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/warn-version': 'latest',
      'pod-security.kubernetes.io/audit': 'restricted',
    },
  },
};

function deployment(securityContext: Record<string, unknown>): ManifestObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'hello', namespace: NAMESPACE },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'hello' } },
      template: {
        metadata: { labels: { app: 'hello' } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          nodeSelector: { [KWOK_NODE_LABEL_KEY]: KWOK_NODE_LABEL_VALUE },
          containers: [
            {
              name: 'hello',
              image: 'registry.example/hello:1.0.0',
              resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '64Mi' } },
              securityContext,
            },
          ],
        },
      },
    },
  };
}

const restrictedContainer = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control plane harness', () => {
  let controlPlane: ControlPlane | undefined;

  afterAll(async () => {
    await controlPlane?.stop();
  });

  test('starts, schedules a restricted Deployment onto a kwok node, and stops without leftovers', async () => {
    const started = Date.now();
    controlPlane = await startControlPlane();
    process.stderr.write(`control plane ready in ${Date.now() - started} ms at ${controlPlane.server}\n`);
    const kc = controlPlane.kubeConfig;

    await createFakeNodes(kc, [
      { name: 'kwok-node-a', cpu: '8', memory: '32Gi', labels: { 'topology.kubernetes.io/zone': 'zone-a' } },
    ]);
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: 'kwok-node-a' });
    expect(node.status?.allocatable).toMatchObject({ cpu: '8', memory: '32Gi' });
    expect(node.metadata?.labels?.['topology.kubernetes.io/zone']).toBe('zone-a');

    const result = await applyManifests(kc, [deployment(restrictedContainer), namespace], { fieldManager: 'nautilus-k8s-test' });
    expect(result.warnings).toEqual([]);
    expect(result.applied.map((object) => object.kind)).toEqual(['Namespace', 'Deployment']);

    const core = kc.makeApiClient(CoreV1Api);
    const pod = await eventually('a Ready pod of Deployment hello', async () => {
      const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=hello' });
      return pods.items.find((item) => item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    });
    expect(pod.spec?.nodeName).toBe('kwok-node-a');
    const apps = kc.makeApiClient(AppsV1Api);
    const rolledOut = await eventually('Deployment hello to report 1 available replica', async () => {
      const current = await apps.readNamespacedDeployment({ name: 'hello', namespace: NAMESPACE });
      return current.status?.availableReplicas === 1 ? current : undefined;
    });
    expect(rolledOut.status?.readyReplicas).toBe(1);

    const processes = controlPlane.processes;
    expect(processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
    await controlPlane.stop();
    controlPlane = undefined;
    expect(processes.filter((p) => processAlive(p.pid)).map((p) => p.name)).toEqual([]);
  });
});

describe('applyManifests against a live API server', () => {
  let controlPlane: ControlPlane;

  beforeAll(async () => {
    controlPlane = await startControlPlane();
    await applyManifests(controlPlane.kubeConfig, [namespace], { fieldManager: 'nautilus-k8s-test' });
  });

  afterAll(async () => {
    await controlPlane?.stop();
  });

  test('returns PodSecurity warnings instead of swallowing them', async () => {
    const privileged = deployment({ allowPrivilegeEscalation: true, capabilities: { add: ['NET_ADMIN'] } });
    const result = await applyManifests(controlPlane.kubeConfig, [privileged], { fieldManager: 'nautilus-k8s-test', dryRun: true });
    expect(result.warnings.length).toBeGreaterThan(0);
    expect(result.warnings[0].object).toBe(`Deployment ${NAMESPACE}/hello`);
    expect(result.warnings.map((w) => w.message).join('\n')).toMatch(/would violate PodSecurity "restricted:latest"/);
  });

  test('rejects unknown fields (fieldValidation=Strict) with an error naming the object', async () => {
    const typo: ManifestObject = { ...deployment(restrictedContainer), spec: { replicass: 1 } };
    await expect(applyManifests(controlPlane.kubeConfig, [typo], { fieldManager: 'nautilus-k8s-test' })).rejects.toThrow(
      /Deployment smoke\/hello failed: HTTP \d{3}: .*\.spec\.replicass: field not declared in schema/,
    );
  });

  test('fails clearly on a kind the server does not serve', async () => {
    const bogus: ManifestObject = { apiVersion: 'example.com/v1', kind: 'Bogus', metadata: { name: 'x' } };
    await expect(
      applyManifests(controlPlane.kubeConfig, [bogus], { fieldManager: 'nautilus-k8s-test', discoveryTimeoutMs: 1_000 }),
    ).rejects.toThrow(/does not serve kind Bogus in example.com\/v1/);
  });
});

describe('parseWarningHeader', () => {
  test('splits several warnings and unescapes quotes', () => {
    expect(parseWarningHeader('299 - "first, with comma", 299 - "second \\"quoted\\""')).toEqual([
      'first, with comma',
      'second "quoted"',
    ]);
  });
});
