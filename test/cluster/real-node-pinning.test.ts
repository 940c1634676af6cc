/**
 * The ultra-low-latency tier's promise on a real kubelet: a pinned engine's pod gets CPUs no other
 * container shares, and hugepages it can use. The node is one of a pinned latency pool's (dev
 * with such a pool, fitted to this machine: real-node-environment.ts), its kubelet running the
 * static CPU manager with the pool's CPU reservation and hugepages pre-allocated. risk-engine's
 * generated Deployment runs on it beside a BestEffort neighbour pod; its stores are not deployed
 * (it stays unready, which pinning does not depend on). Asserts the container's cpuset cgroup, the process's own
 * `Cpus_allowed_list`, that no other container's cpuset holds those CPUs, that the hugepages
 * volume is mounted and a page can be taken from it, and that the runtime's `nautilus_pinned` and
 * `nautilus_cpu_allowed` gauges say the same.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { poolForRole } from '../../src/environments/environment';
import { poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { parseCpuList } from '../../src/engines/runtime/cpu-set';
import { applyManifests } from './apply';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from './dist-manifests';
import { RealNodeCluster, ensureRealNodeBinaries, startRealNodeCluster } from './real-node';
import { PINNED_ENGINE_CPUS, REAL_NODE_HUGEPAGES, realNodePinnedEnvironment } from './real-node-environment';
import { buildEngineImages, synthesizeEnvironment } from './real-node-setup';

jest.setTimeout(15 * 60_000);

const ENGINE = 'risk-engine';
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job']);
const { environment, catalog, stores } = realNodePinnedEnvironment();
const latency = poolForRole(environment, 'latency')!;
const reservedCpus = latency.reserved.cpu.millicores / 1000;

let workDir: string;
let cluster: RealNodeCluster | undefined;
let pod: V1Pod;
let containerId: string;

/** The directories of the cpuset hierarchy under the node's cgroup root, with their CPUs. */
function cpusetCgroups(root: string): Array<{ dir: string; cpus: string }> {
  const found: Array<{ dir: string; cpus: string }> = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const child = path.join(dir, entry.name);
      found.push({ dir: child, cpus: fs.readFileSync(path.join(child, 'cpuset.cpus'), 'utf8').trim() });
      walk(child);
    }
  };
  walk(root);
  return found;
}


// Cold, the programs are built first, in a hook of their own with a bound that allows it (about 20
// minutes on 2 cores beside the other lanes, when this file comes first in its lane).
beforeAll(() => ensureRealNodeBinaries(), 60 * 60_000);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-real-node-pinning-'));
  process.once('exit', () => fs.rmSync(workDir, { recursive: true, force: true }));
  await buildEngineImages(environment, [ENGINE]);
  const objects = synthesizeEnvironment(path.join(workDir, 'dist'), environment, catalog, stores);
  const engine = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === ENGINE)!;
  const image = (engine.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0].image;

  cluster = await startRealNodeCluster({
    name: `${latency.name}-${latency.zones[0]}-0`,
    labels: { ...poolLabels(latency), 'topology.kubernetes.io/zone': latency.zones[0] },
    taints: poolTaints(latency),
    images: [image],
    // The pool's reservation: its first whole CPUs, as reservedSystemCPUs.
    reservedSystemCpus: reservedCpus > 1 ? `0-${reservedCpus - 1}` : '0',
    hugepages2Mi: REAL_NODE_HUGEPAGES.mebibytes / 2,
    // The one CPU left is the pinned engine's: nothing else may ask for any.
    clusterDns: false,
  });
  // Everything the engine's pod needs, and no other workload.
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  await applyManifests(cluster.controlPlane.kubeConfig, [
    ...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment), ...credentialSecrets(namespaces.map((n) => n.metadata?.name ?? '').filter((n) => n.startsWith('nautilus-'))),
    ...objects.filter((o) => !WORKLOAD_KINDS.has(o.kind) || o === engine),
  ], { fieldManager: 'nautilus-test-cluster' });

  // A neighbour in the shared pool: BestEffort (no requests), as the pinned pod leaves no CPU to request.
  await applyManifests(cluster.controlPlane.kubeConfig, [{
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'neighbour', namespace: 'default' },
    spec: {
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'neighbour', image, imagePullPolicy: 'Never', command: ['sleep', 'infinity'], securityContext: { runAsUser: 10001 } }],
    },
  }], { fieldManager: 'nautilus-test-cluster' });

  const core = cluster.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace: engine.metadata!.namespace!, labelSelector: `app.kubernetes.io/name=${ENGINE}` })).items;
    const running = pods.find((p) => p.status?.containerStatuses?.[0]?.state?.running);
    const neighbour = await core.readNamespacedPod({ name: 'neighbour', namespace: 'default' });
    if (running && neighbour.status?.containerStatuses?.[0]?.state?.running) {
      pod = running;
      containerId = running.status!.containerStatuses![0].containerID!.replace(/^containerd:\/\//, '');
      break;
    }
    if (Date.now() > deadline) throw new Error(`${ENGINE} did not start: ${JSON.stringify(pods.map((p) => p.status))}\n${cluster.node.logTails(20)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

afterAll(async () => {
  await cluster?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('a pinned engine on a kubelet with the static CPU manager', () => {
  test('the pod is Guaranteed with whole CPUs and hugepages, as generated', () => {
    expect(pod.status?.qosClass).toBe('Guaranteed');
    const resources = pod.spec!.containers[0].resources!;
    expect(resources.requests?.cpu).toBe(String(PINNED_ENGINE_CPUS));
    expect(resources.limits?.cpu).toBe(String(PINNED_ENGINE_CPUS));
    expect(resources.limits?.['hugepages-2Mi']).toBeDefined();
  });

  test('its container has CPUs of its own: outside the reservation, shared with no other container', async () => {
    const root = path.join('/sys/fs/cgroup/cpuset', cluster!.node.cgroupRoot);
    const cgroups = cpusetCgroups(root);
    const mine = cgroups.find((c) => path.basename(c.dir) === containerId);
    expect(mine).toBeDefined();
    const cpus = parseCpuList(mine!.cpus);
    expect(cpus).toHaveLength(PINNED_ENGINE_CPUS);
    // Never one of the reserved CPUs.
    expect(cpus.filter((cpu) => cpu < reservedCpus)).toEqual([]);
    // Every other container runs on the shared pool, without those CPUs. (Pod sandboxes, `pause`,
    // keep their pod cgroup's CPUs: the CPU manager assigns containers, and pause only sleeps.)
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const containers = (await core.listPodForAllNamespaces()).items.flatMap((p) => (p.status?.containerStatuses ?? [])
      .map((c) => (c.containerID ?? '').replace(/^containerd:\/\//, '')).filter((id) => id && id !== containerId));
    const others = cgroups.filter((c) => containers.includes(path.basename(c.dir)));
    expect(others.length).toBe(containers.length);
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((c) => parseCpuList(c.cpus).some((cpu) => cpus.includes(cpu))).map((c) => `${c.dir}: ${c.cpus}`)).toEqual([]);
    const neighbour = (await core.readNamespacedPod({ name: 'neighbour', namespace: 'default' })).status!.containerStatuses![0].containerID!.replace(/^containerd:\/\//, '');
    const neighbourStatus = await cluster!.node.execInContainer(neighbour, ['cat', '/proc/self/status']);
    expect(parseCpuList(/^Cpus_allowed_list:\s*(.*)$/m.exec(neighbourStatus)![1]).filter((cpu) => cpus.includes(cpu))).toEqual([]);

    // The process sees the same set, and so does the runtime's own report of it.
    const status = await cluster!.node.execInContainer(containerId, ['cat', '/proc/self/status']);
    expect(parseCpuList(/^Cpus_allowed_list:\s*(.*)$/m.exec(status)![1])).toEqual(cpus);
    const port = pod.spec!.containers[0].ports![0].containerPort;
    const scraped = cluster!.node.httpGet(`http://${pod.status!.podIP}:${port}/metrics`);
    expect(scraped.status).toBe(200);
    const metrics = scraped.body;
    expect(metrics).toMatch(/^nautilus_pinned 1$/m);
    const allowed = [...metrics.matchAll(/^nautilus_cpu_allowed\{cpu="(\d+)"\} 1$/gm)].map((m) => Number(m[1]));
    expect(allowed).toEqual(cpus);
  });

  test('its hugepages volume is mounted and a page can be taken from it', async () => {
    const container = pod.spec!.containers[0];
    const volume = pod.spec!.volumes!.find((v) => v.emptyDir?.medium?.startsWith('HugePages'));
    expect(volume).toBeDefined();
    const mountPath = container.volumeMounts!.find((m) => m.name === volume!.name)!.mountPath;
    const mounts = await cluster!.node.execInContainer(containerId, ['cat', '/proc/self/mounts']);
    // On failure the whole mount table is shown.
    expect(mounts.split('\n').filter((line) => line.split(' ')[1] === mountPath).join('\n') || mounts).toMatch(new RegExp(`^\\S+ ${mountPath} hugetlbfs `));
    // fallocate takes a page from the pool (hugetlbfs has no write()): HugePages_Free drops by one,
    // and rm gives it back. The count is the machine's: a PostgreSQL another test starts meanwhile
    // (huge_pages=try, its default) takes pages too, so a round that saw another change is tried again.
    const free = () => Number(/^HugePages_Free:\s*(\d+)$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]);
    let round = { before: 0, taken: 0, returned: 0 };
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = free();
      await cluster!.node.execInContainer(containerId, ['fallocate', '-l', '2M', `${mountPath}/probe`]);
      const taken = free();
      await cluster!.node.execInContainer(containerId, ['rm', `${mountPath}/probe`]);
      round = { before, taken, returned: free() };
      if (round.taken === before - 1 && round.returned === before) break;
    }
    expect(round).toEqual({ before: round.before, taken: round.before - 1, returned: round.before });
  });
});
