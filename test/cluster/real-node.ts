import { ChildProcess, execFile, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiregistrationV1Api, CoreV1Api, Metrics } from '@kubernetes/client-node';
import { killOnExit } from './support/process-guard';
import { applyManifests } from './apply';
import { ensureCachedBuild, ensureControlPlaneBinaries } from './binaries';
import { ControlPlane, SERVICE_CLUSTER_IP_RANGE, startControlPlane } from './control-plane';
import {
  ensureMetricsServer, METRICS_API_SERVICE, METRICS_SERVER_DNS_NAME, METRICS_SERVER_USER, metricsServerArgs, metricsServerObjects, metricsServerStartFailure,
} from './metrics-server';

/**
 * A real node for the test control plane: containerd and runc running real containers, the CNI
 * bridge plugin for the pod network, a kubelet of the control plane's release, kube-proxy in
 * iptables mode, and CoreDNS as a pod for cluster DNS.
 *
 * Everything the node starts lives in one sandbox made of fresh Linux namespaces (`unshare`):
 *   - a PID namespace whose first process is the release's own `pause`: when it dies the kernel
 *     kills every process of the node (containerd, its shims, the kubelet, kube-proxy, every
 *     container), so no process can outlive the node, even after a crash;
 *   - a mount namespace with its own /run, /var/lib and /var/log (tmpfs, with containerd's and the
 *     kubelet's state bound from the node's work directory): every mount the node makes (overlay
 *     snapshots, Secret volumes, network-namespace files) is in it and goes with it;
 *   - a network namespace holding the node's address, the CNI bridge, the pods' veths and every
 *     iptables rule kube-proxy and the bridge plugin write: it goes with the node, and with it the
 *     veth pair that links it to the machine.
 * What the kernel does not scope to a namespace is undone by {@link RealNode.stop}: the kubelet's
 * cgroups (under a cgroup root of the node's own), and the three kernel settings the kubelet
 * insists on (`vm.overcommit_memory`, `kernel.panic`, `kernel.panic_on_oops`), restored to their
 * values from before the node started.
 *
 * Addresses: slot N (the first free one) gives the machine's end of the link 10.201.N.1, the
 * node 10.201.N.2 and the pods 10.202.N.0/24. The API server binds to 10.201.N.1 so that the
 * kubelet and the pods (through the `kubernetes` Service) reach it. No traffic leaves the machine:
 * CoreDNS answers for cluster.local only and forwards nothing.
 */
export interface RealNode {
  /** The Node's name. */
  readonly name: string;
  /** The node's address (the kubelet's InternalIP, host-network pods' address). */
  readonly address: string;
  /**
   * The machine's address on the node's link: what a test client on the machine reaches the
   * node's pods from (not the node's own address, which policy enforcers admit as node-local).
   */
  readonly hostAddress: string;
  /** The pods' subnet on the node's bridge. */
  readonly podSubnet: string;
  /** The work directory: configuration, logs, containerd's and the kubelet's state. */
  readonly workDir: string;
  /** containerd's socket, for `ctr --address` and `crictl --runtime-endpoint`. */
  readonly containerdSocket: string;
  /** The node's cgroup root (under every cgroup v1 hierarchy, and the v2 one where mounted). */
  readonly cgroupRoot: string;
  /** Runs a command inside the node (its mount, network and PID namespaces); returns its output. */
  exec(command: readonly string[]): string;
  /**
   * `command` wrapped to run in the node's network namespace only (its loopback, its routes, the
   * Service addresses kube-proxy serves there), on the machine's filesystem and processes: for a
   * program a test starts as a host process but that must reach the cluster as the node does.
   */
  inNetwork(command: readonly string[]): string[];
  /**
   * Starts a command inside the node, as {@link exec} runs one, without waiting for it (a load
   * generator): it leads its own process group, so `process.kill(-child.pid)` stops it, and it dies
   * with the node at the latest. Its stdout and stderr are the returned child's pipes.
   */
  spawn(command: readonly string[]): ChildProcess;
  /**
   * Runs a command in a running container (as its own user, in its namespaces: `ctr tasks exec`);
   * resolves with its output, rejects when it exits non-zero.
   */
  execInContainer(containerId: string, command: readonly string[]): Promise<string>;
  /**
   * GET `url` from inside the node (its network namespace): the address pods' policies admit, as
   * they admit the kubelet's probes. Resolves with the status (an HTTP error status included).
   */
  httpGet(url: string): { status: number; body: string };
  /**
   * Loads images of the local image store (containers-storage) into the node's containerd, as its
   * start loads the cluster's: for an image a test builds once the node runs.
   */
  importImages(refs: readonly string[]): Promise<void>;
  /** The containers containerd runs for the kubelet, as `ctr containers list` prints them. */
  listContainers(): string;
  /** The last lines of every node component's log. */
  logTails(lines?: number): string;
  /** Stops the node and removes all it left: processes, mounts, interfaces, rules, cgroups, settings. Idempotent. */
  stop(): Promise<void>;
}

/** A control plane with real nodes joined to it. */
export interface RealNodeCluster {
  readonly controlPlane: ControlPlane;
  /** The first node: the one the control plane's address is on, and whose settings the cluster's kernel settings are saved by. */
  readonly node: RealNode;
  /** Every node: {@link node}, then those of {@link RealNodeOptions.joinNodes}, in order. */
  readonly nodes: readonly RealNode[];
  /** Stops the nodes (the joined ones first), then the control plane. */
  stop(): Promise<void>;
}

/** A further node of the cluster: its own sandbox, containerd, kubelet and kube-proxy. */
export interface JoinedNodeOptions {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly taints?: RealNodeOptions['taints'];
}

/** What to start. */
export interface RealNodeOptions {
  /** The Node's name. */
  readonly name: string;
  /** Labels the kubelet registers the node with. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Taints the kubelet registers the node with. */
  readonly taints?: readonly { readonly key: string; readonly value?: string; readonly effect: string }[];
  /** Images (references in the local image store) to load into the node's containerd. */
  readonly images: readonly string[];
  /** Keep the work directories after stop(). @default false */
  readonly keepWorkDir?: boolean;
  /**
   * Enforce NetworkPolicies on every node (the joined ones too) with kube-router's firewall
   * controller (iptables and ipsets in each node's network namespace). Without it, policies are
   * stored but nothing enforces them.
   * @default false
   */
  readonly enforceNetworkPolicies?: boolean;
  /**
   * Run the kubelet's static CPU manager with these CPUs reserved (`reservedSystemCPUs`, e.g.
   * "0"): a Guaranteed pod's container with whole CPUs gets them exclusively.
   * @default the kubelet's `none` policy
   */
  readonly reservedSystemCpus?: string;
  /** 2 MiB hugepages to pre-allocate (`vm.nr_hugepages`) before the kubelet starts. @default 0 */
  readonly hugepages2Mi?: number;
  /** Install CoreDNS (cluster DNS). @default true */
  readonly clusterDns?: boolean;
  /**
   * Serve the resource metrics API (`metrics.k8s.io`, what `kubectl top` and HorizontalPodAutoscalers
   * read) with metrics-server on the node, behind the control plane's aggregation layer (see
   * metrics-server.ts). Without it, HPAs report `FailedGetResourceMetric`.
   * @default false
   */
  readonly metricsServer?: boolean;
  /**
   * More nodes to join, each a sandbox of its own with every image loaded (a machine with several
   * kubelets, as store members spread over nodes need). Pods reach each other across nodes
   * through the machine, which forwards between the nodes' links only (see {@link POD_NETWORK}).
   * NetworkPolicy enforcement, metrics-server, hugepages and the static CPU manager are the first
   * node's alone.
   * @default none
   */
  readonly joinNodes?: readonly JoinedNodeOptions[];
}

const REPOSITORY = path.resolve(__dirname, '..', '..');
const BUILD_SCRIPT = path.join(REPOSITORY, 'scripts', 'real-node', 'build.sh');
const NODE_IMAGES_SCRIPT = path.join(REPOSITORY, 'scripts', 'real-node', 'node-images.sh');
const CLEANUP_SCRIPT = path.join(REPOSITORY, 'scripts', 'real-node', 'cleanup.sh');
const NETWORK_POLICY_BUILD_SCRIPT = path.join(REPOSITORY, 'scripts', 'real-node', 'build-network-policy.sh');
/** Work directories of nodes are made here, so a later run can find the ones a crash left. */
const WORK_PREFIX = 'nautilus-node-';
const CONTAINERS_CONF = path.join(REPOSITORY, 'scripts', 'images', 'containers.conf');
const CLUSTER_DNS = '10.0.0.10';
/**
 * Every node's pod subnet is a /24 of this network. A pod's traffic leaves its node unchanged to
 * another node's pods (so the receiving side sees the pod's own address, as a flat pod network
 * does) and masqueraded to the node's address otherwise (the API server on the machine's end).
 */
const POD_NETWORK = '10.202.0.0/16';
const CNI_PLUGINS = '/usr/lib/cni';
/**
 * The kernel settings a node changes and must put back: those the kubelet sets (pkg/kubelet/cm
 * setupKernelTunables), and the hugepages a node pre-allocates.
 */
export const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'vm.panic_on_oom', 'kernel.panic', 'kernel.panic_on_oops', 'kernel.keys.root_maxkeys', 'kernel.keys.root_maxbytes', 'vm.nr_hugepages', 'net.ipv4.ip_forward'];
const START_TIMEOUT_MS = 180_000;
/** A node work directory without a sandbox for this long was left by a crash, not being created. */
const ABANDONED_AFTER_MS = 10 * 60_000;
const LOG_TAIL_LINES = 30;

/** Nodes whose sandboxes must die with this process. */
const live = new Set<NodeSandbox>();

/**
 * Checks what a real node needs on this machine; returns one line per problem with its fix.
 * Root, the runtime and network tools, and a cgroup layout the kubelet can use (cgroup v1
 * controllers, or the v2 unified hierarchy).
 */
export function realNodePrerequisites(env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not running as root: a node creates namespaces, mounts, cgroups and network interfaces; run the tests as root');
  const missing = ['containerd', 'runc', 'ctr', 'unshare', 'nsenter', 'ip', 'iptables', 'ipset', 'buildah', 'podman']
    .filter((tool) => spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', env }).status !== 0);
  if (!fs.existsSync(path.join(CNI_PLUGINS, 'bridge'))) missing.push(`${CNI_PLUGINS}/bridge`);
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')}: install them with 'bash scripts/install-container-tools.sh' (Debian: containerd runc containernetworking-plugins iptables ipset buildah podman)`);
  const v1 = ['cpu', 'memory', 'pids', 'cpuset'].every((controller) => fs.existsSync(`/sys/fs/cgroup/${controller}/cgroup.procs`));
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  if (!v1 && !v2) problems.push('no cgroup layout the kubelet can use: neither the cgroup v1 cpu, cpuset, memory and pids hierarchies under /sys/fs/cgroup nor a cgroup v2 unified hierarchy there; mount one (a container without its own cgroup namespace cannot run a kubelet)');
  if (!fs.existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) problems.push('bridged traffic is not seen by iptables (no /proc/sys/net/bridge): load br_netfilter (modprobe br_netfilter), or Services between pods on the node will not work');
  return problems;
}

/**
 * Builds what {@link startRealNodeCluster} with `options` runs, where the caches lack it: the
 * control plane's binaries, the node's (kubelet, kube-proxy, CoreDNS, pause), and the policy
 * enforcer and metrics-server when asked for. On a cold cache that is about 20 minutes of
 * compiling beside the other lanes: a test file calls this in a hook of its own, with a bound
 * that allows it, so the node's start and the tests keep bounds that catch a hang.
 */
export async function ensureRealNodeBinaries(options: Pick<RealNodeOptions, 'enforceNetworkPolicies' | 'metricsServer'> = {}): Promise<void> {
  await Promise.all([
    ensureControlPlaneBinaries(),
    ensureCachedBuild(BUILD_SCRIPT, 'real-node binaries (kubelet, kube-proxy, CoreDNS, pause)'),
    options.enforceNetworkPolicies ? ensureCachedBuild(NETWORK_POLICY_BUILD_SCRIPT, 'the NetworkPolicy enforcer (kube-router)') : undefined,
    options.metricsServer ? ensureMetricsServer() : undefined,
  ]);
}

/**
 * Starts a control plane whose API server the node and its pods can reach, joins one real node
 * to it, installs CoreDNS and resolves when the node is Ready and cluster DNS answers.
 */
export async function startRealNodeCluster(options: RealNodeOptions): Promise<RealNodeCluster> {
  const problems = realNodePrerequisites();
  if (problems.length > 0) throw new Error(`a real node cannot run on this machine:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const binaries = await ensureCachedBuild(BUILD_SCRIPT, 'real-node binaries (kubelet, kube-proxy, CoreDNS, pause)');
  const binDir = path.join(binaries, 'bin');
  const enforcer = options.enforceNetworkPolicies
    ? path.join(await ensureCachedBuild(NETWORK_POLICY_BUILD_SCRIPT, 'the NetworkPolicy enforcer (kube-router)'), 'bin', 'kube-router')
    : undefined;
  const metricsServer = options.metricsServer ? await ensureMetricsServer() : undefined;
  const [pauseImage, corednsImage] = run('bash', [NODE_IMAGES_SCRIPT, binDir]).trim().split(' ');

  sweepAbandonedNodes();
  const sandbox = new NodeSandbox(options, binDir);
  const joined = (options.joinNodes ?? []).map((join) => new NodeSandbox({ ...join, images: options.images }, binDir));
  const sandboxes = [sandbox, ...joined];
  for (const each of sandboxes) live.add(each);
  installExitHandlers();
  let controlPlane: ControlPlane | undefined;
  const stopAll = async () => {
    for (const each of [...sandboxes].reverse()) await each.stop();
    await controlPlane?.stop();
  };
  try {
    for (const each of sandboxes) await each.create();
    // The node's own link address, so 6443 (the port real clusters serve on) is free there.
    controlPlane = await startControlPlane({
      apiServerAddress: sandbox.hostAddress, apiServerPort: 6443, horizontalPodAutoscalerSyncPeriodSeconds: 2, aggregationLayer: metricsServer !== undefined,
    });
    const dns = options.clusterDns ?? true;
    // Every image the nodes need, saved from the local store once (shared layers once), imported by each.
    const archive = path.join(sandbox.workDir, 'images.tar');
    run('podman', ['save', '--quiet', '--multi-image-archive', '--format', 'docker-archive', '-o', archive, pauseImage, ...options.images, ...(dns ? [corednsImage] : [])],
      { CONTAINERS_CONF });
    // The first node saves the kernel settings before any node's kubelet changes them; then the
    // nodes start side by side.
    sandbox.saveMachineSettings();
    await Promise.all(sandboxes.map((each) => each.startComponents(controlPlane!, pauseImage, archive)));
    fs.rmSync(archive);
    if (joined.length > 0) sandbox.forwardBetweenNodes(sandboxes);
    if (dns) await installCoreDns(controlPlane, corednsImage, sandbox);
    if (enforcer) {
      // One enforcer per node, each rendering the policies of its own pods in its own namespace:
      // traffic between nodes is checked where it arrives, as on a cluster.
      await applyManifests(controlPlane.kubeConfig, NETWORK_POLICY_ENFORCER_RBAC, { fieldManager: 'nautilus-test-cluster' });
      await Promise.all(sandboxes.map((each) => each.startNetworkPolicyEnforcer(controlPlane!, enforcer)));
    }
    if (metricsServer) await sandbox.startMetricsServer(controlPlane, metricsServer);
  } catch (error) {
    const tails = sandboxes.map((each) => each.logTails()).join('\n');
    await stopAll();
    throw new Error(`real node failed to start: ${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
  return { controlPlane, node: sandbox, nodes: sandboxes, stop: stopAll };
}

class NodeSandbox implements RealNode {
  readonly name: string;
  readonly workDir: string;
  readonly cgroupRoot: string;
  readonly containerdSocket: string;
  address = '';
  hostAddress = '';
  podSubnet = '';
  private slot = -1;
  private hostInterface = '';
  private unshare?: ChildProcess;
  private initPid = 0;
  private readonly components: Array<{ name: string; child: ChildProcess; logPath: string; exit?: string }> = [];
  private stopping?: Promise<void>;
  private nextExec = 0;

  constructor(private readonly options: RealNodeOptions, private readonly binDir: string) {
    this.name = options.name;
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), WORK_PREFIX));
    this.cgroupRoot = `/${path.basename(this.workDir)}`;
    this.containerdSocket = path.join(this.workDir, 'containerd', 'containerd.sock');
  }

  /** The namespaces, the link to the machine and the node's network. */
  async create(): Promise<void> {
    for (const dir of ['containerd/root', 'containerd/state', 'kubelet', 'cni', 'logs']) fs.mkdirSync(path.join(this.workDir, dir), { recursive: true });

    // Mounts made here are the sandbox's own (unshare makes them private).
    const setup = [
      'set -e',
      'mount -t tmpfs -o mode=0755 nautilus-run /run',
      'mkdir -p /run/netns /run/containerd /run/lock',
      'mount -t tmpfs -o mode=0755 nautilus-var-lib /var/lib',
      'mkdir -p /var/lib/containerd /var/lib/kubelet /var/lib/cni',
      `mount --bind ${this.workDir}/containerd/root /var/lib/containerd`,
      `mount --bind ${this.workDir}/kubelet /var/lib/kubelet`,
      'mount -t tmpfs -o mode=0755 nautilus-var-log /var/log',
      'mkdir -p /var/log/pods /var/log/containers',
      `mkdir -p /etc/cni/net.d && mount --bind ${this.workDir}/cni /etc/cni/net.d`,
      `hostname ${this.name}`,
      `exec ${path.join(this.binDir, 'pause')}`,
    ].join('\n');
    const log = fs.openSync(path.join(this.workDir, 'logs', 'sandbox.log'), 'a');
    this.unshare = spawn('unshare', [
      '--mount', '--pid', '--net', '--uts', '--ipc', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private',
      '--', 'sh', '-c', setup,
    ], { detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    fs.writeFileSync(path.join(this.workDir, 'unshare.pid'), `${this.unshare.pid}\n`);
    this.startWatchdog();
    this.initPid = await waitForValue('the node sandbox to start', 10_000, () => {
      const children = readChildren(this.unshare!.pid!);
      const init = children[0];
      // Ready once the setup script has exec'd pause.
      return init && fs.readlinkSync(`/proc/${init}/exe`).endsWith('/pause') ? init : undefined;
    });
    fs.writeFileSync(path.join(this.workDir, 'init.pid'), `${this.initPid}\n`);

    // The link's name claims the slot: a node starting at the same time that picked the same
    // slot finds the name taken and takes the next.
    for (let attempt = 0; ; attempt++) {
      const slot = freeSlot();
      try {
        run('ip', ['link', 'add', `nautilus-n${slot}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(this.initPid)]);
        this.slot = slot;
        break;
      } catch (error) {
        if (attempt >= 5 || !/File exists/.test(String(error))) throw error;
      }
    }
    fs.writeFileSync(path.join(this.workDir, 'slot'), `${this.slot}\n`);
    this.hostInterface = `nautilus-n${this.slot}`;
    this.hostAddress = `10.201.${this.slot}.1`;
    this.address = `10.201.${this.slot}.2`;
    this.podSubnet = `10.202.${this.slot}.0/24`;
    run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostInterface]);
    run('ip', ['link', 'set', this.hostInterface, 'up']);
    this.exec(['sh', '-c', [
      'set -e',
      'ip link set lo up',
      `ip addr add ${this.address}/24 dev eth0`,
      'ip link set eth0 up',
      `ip route add default via ${this.hostAddress}`,
      // Per network namespace: forwarding for the pods, and bridged traffic through iptables so
      // that kube-proxy's Service rules see pod-to-pod traffic on the bridge.
      'sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1',
      `iptables -t nat -A POSTROUTING -s ${this.podSubnet} ! -d ${POD_NETWORK} -j MASQUERADE`,
    ].join('\n')]);
    // The machine reaches the pods directly (the tests probe pod IPs); the route goes with the link.
    run('ip', ['route', 'add', this.podSubnet, 'via', this.address, 'dev', this.hostInterface]);
  }

  /**
   * Records the kernel settings the nodes will change, for cleanup.sh to put back, and
   * pre-allocates the hugepages the node asks for: called on the cluster's first node only, before
   * any kubelet starts (joined nodes stop before it, so its cleanup restores the settings last).
   */
  saveMachineSettings(): void {
    this.saveSysctls();
    if (this.options.hugepages2Mi) this.allocateHugepages(this.options.hugepages2Mi);
  }

  /** containerd (with the images loaded), the kubelet and kube-proxy; resolves when the node is Ready. */
  async startComponents(controlPlane: ControlPlane, pauseImage: string, imageArchive: string): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    this.writeContainerdConfig(pauseImage);
    this.writeCniConfig();
    this.startInside('containerd', ['containerd', '--config', path.join(this.workDir, 'containerd', 'config.toml')]);
    await this.waitFor('containerd socket', deadline, () => fs.existsSync(this.containerdSocket));

    // Asynchronously, so that the nodes of a cluster import (and unpack) side by side.
    await runAsync('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', '--no-unpack=false', imageArchive]);

    this.createCgroupRoot();
    const kubeletKubeconfig = controlPlane.issueKubeconfig(`kubelet-${this.name}`, `system:node:${this.name}`, 'system:nodes');
    const proxyKubeconfig = controlPlane.issueKubeconfig('kube-proxy', 'system:kube-proxy');
    this.writeKubeletConfig(controlPlane.caFile);
    const labels = Object.entries(this.options.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const taints = (this.options.taints ?? []).map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).join(',');
    this.startInside('kubelet', [
      path.join(this.binDir, 'kubelet'),
      `--config=${path.join(this.workDir, 'kubelet.yaml')}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.address}`,
      ...(labels ? [`--node-labels=${labels}`] : []),
      ...(taints ? [`--register-with-taints=${taints}`] : []),
      '--v=1',
    ]);
    this.writeKubeProxyConfig(proxyKubeconfig);
    this.startInside('kube-proxy', [path.join(this.binDir, 'kube-proxy'), `--config=${path.join(this.workDir, 'kube-proxy.yaml')}`, '--v=1']);

    const core = controlPlane.kubeConfig;
    await this.waitFor(`node ${this.name} Ready`, deadline, async () => {
      const node = await core.makeApiClient(CoreV1Api).readNode({ name: this.name }).catch(() => undefined);
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
  }

  /**
   * kube-router's firewall controller only (no routing, no service proxy, no CNI): it watches
   * NetworkPolicies, pods and namespaces and renders them as iptables chains and ipsets in the
   * node's network namespace, which go with the namespace. Its RBAC (NETWORK_POLICY_ENFORCER_RBAC)
   * is applied first, once for every node. Resolves once its chains are in place.
   */
  async startNetworkPolicyEnforcer(controlPlane: ControlPlane, binary: string): Promise<void> {
    const kubeconfig = controlPlane.issueKubeconfig(`kube-router-${this.name}`, 'kube-router');
    this.startInside('kube-router', [
      binary, `--kubeconfig=${kubeconfig}`, `--hostname-override=${this.name}`,
      '--run-firewall=true', '--run-router=false', '--run-service-proxy=false', '--enable-cni=false',
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`, '--health-port=0', '--v=1',
    ]);
    await this.waitFor('kube-router\'s firewall chains', Date.now() + 60_000, () => {
      try {
        return this.exec(['iptables', '-S', 'KUBE-ROUTER-FORWARD']).includes('-N KUBE-ROUTER-FORWARD');
      } catch {
        return false;
      }
    });
  }

  /**
   * metrics-server, at the node's address: registered as the APIService v1beta1.metrics.k8s.io, it
   * scrapes this kubelet. Resolves once the API server reports the APIService Available (it reached
   * metrics-server and trusts it) and the resource metrics API lists this node. Fails with one
   * message naming metrics-server, why it did not start and the end of its log.
   */
  async startMetricsServer(controlPlane: ControlPlane, binary: string): Promise<void> {
    const started = Date.now();
    const kubeconfig = controlPlane.issueKubeconfig('metrics-server', METRICS_SERVER_USER);
    const certificate = controlPlane.issueServingCertificate('metrics-server-serving', [METRICS_SERVER_DNS_NAME]);
    const certDir = path.join(this.workDir, 'metrics-server');
    fs.mkdirSync(certDir, { recursive: true });
    try {
      await applyManifests(controlPlane.kubeConfig, metricsServerObjects(this.address, controlPlane.caFile), { fieldManager: 'nautilus-test-cluster' });
      this.startInside('metrics-server', [binary, ...metricsServerArgs({ kubeconfig, address: this.address, certificate, certDir })]);
      const registration = controlPlane.kubeConfig.makeApiClient(ApiregistrationV1Api);
      let available = '';
      await this.waitFor(`APIService ${METRICS_API_SERVICE} to be Available`, Date.now() + 60_000, async () => {
        const service = await registration.readAPIService({ name: METRICS_API_SERVICE }).catch(() => undefined);
        const condition = service?.status?.conditions?.find((c) => c.type === 'Available');
        available = condition ? `Available=${condition.status} ${condition.reason ?? ''}: ${condition.message ?? ''}` : 'no Available condition';
        return condition?.status === 'True';
      }).catch((error: Error) => { throw /^timed out/.test(error.message) ? new Error(`${error.message} (last: ${available})`) : error; });
      // Its first answer comes after two scrapes: a rate needs two samples.
      const metrics = new Metrics(controlPlane.kubeConfig);
      await this.waitFor(`metrics.k8s.io to list node ${this.name}`, Date.now() + 60_000, async () => {
        const nodes = await metrics.getNodeMetrics().catch(() => undefined);
        return nodes?.items.some((n) => n.metadata.name === this.name) ?? false;
      });
    } catch (error) {
      const file = path.join(this.workDir, 'logs', 'metrics-server.log');
      throw new Error(metricsServerStartFailure(error instanceof Error ? error.message : String(error),
        fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined, file, (Date.now() - started) / 1000));
    }
  }

  /**
   * Lets the machine forward between the nodes' links, and nothing else: `net.ipv4.ip_forward`
   * (saved by this node, restored by cleanup.sh) and, per node link, a rule dropping what would
   * be forwarded anywhere but another node (recorded in each node's `host-rules` for cleanup.sh).
   */
  forwardBetweenNodes(nodes: readonly NodeSandbox[]): void {
    for (const node of nodes) node.addHostRule(['FORWARD', '-i', node.hostInterface, '!', '-o', 'nautilus-n+', '-j', 'DROP']);
    run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  }

  private addHostRule(rule: readonly string[]): void {
    fs.appendFileSync(path.join(this.workDir, 'host-rules'), `${rule.join(' ')}\n`);
    run('iptables', ['-I', ...rule]);
  }

  exec(command: readonly string[]): string {
    return run('nsenter', [`--target=${this.initPid}`, '--mount', '--net', '--pid', '--uts', '--ipc', '--', ...command]);
  }

  inNetwork(command: readonly string[]): string[] {
    return ['nsenter', `--target=${this.initPid}`, '--net', '--', ...command];
  }

  spawn(command: readonly string[]): ChildProcess {
    const child = spawn('nsenter', [`--target=${this.initPid}`, '--mount', '--net', '--pid', '--uts', '--ipc', '--', ...command], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    fs.appendFileSync(path.join(this.workDir, 'component.pids'), `${child.pid}\n`);
    return child;
  }

  execInContainer(containerId: string, command: readonly string[]): Promise<string> {
    const execId = `nautilus-exec-${process.pid}-${(this.nextExec++).toString(36)}`;
    // The exec's stdio fifos must be where containerd's shim, in the node's mount namespace, finds
    // them too: the work directory is the same path on both sides (ctr's default, /run, is not).
    const fifoDir = path.join(this.workDir, 'exec-fifos');
    fs.mkdirSync(fifoDir, { recursive: true });
    const args = ['--address', this.containerdSocket, '--namespace', 'k8s.io', 'tasks', 'exec', '--fifo-dir', fifoDir, '--exec-id', execId, containerId, ...command];
    return new Promise((resolve, reject) => {
      const child = spawn('ctr', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      child.on('error', reject);
      child.on('close', (code) => (code === 0
        ? resolve(stdout)
        : reject(new Error(`${command.join(' ')} in container ${containerId.slice(0, 12)} failed (${code}): ${(stderr || stdout).trim()}`))));
    });
  }

  httpGet(url: string): { status: number; body: string } {
    const script = [
      'import sys, urllib.request, urllib.error',
      'try:',
      '    r = urllib.request.urlopen(sys.argv[1], timeout=3); status, body = r.status, r.read()',
      'except urllib.error.HTTPError as e:',
      '    status, body = e.code, e.read()',
      'print(status); print(body.decode())',
    ].join('\n');
    const [status, ...body] = this.exec(['python3', '-c', script, url]).split('\n');
    return { status: Number(status), body: body.join('\n') };
  }

  async importImages(refs: readonly string[]): Promise<void> {
    const archive = path.join(this.workDir, `images-${(this.nextExec++).toString(36)}.tar`);
    try {
      run('podman', ['save', '--quiet', '--multi-image-archive', '--format', 'docker-archive', '-o', archive, ...refs], { CONTAINERS_CONF });
      await runAsync('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', '--no-unpack=false', archive]);
    } finally {
      fs.rmSync(archive, { force: true });
    }
  }

  listContainers(): string {
    return run('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', 'containers', 'list']);
  }

  logTails(lines = LOG_TAIL_LINES): string {
    return ['sandbox', ...this.components.map((c) => c.name)].map((name) => {
      const component = this.components.find((c) => c.name === name);
      const file = path.join(this.workDir, 'logs', `${name}.log`);
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n') : '(no log)';
      return `--- node ${this.name}: ${name} (${component?.exit ?? 'running'}; ${file}) ---\n${text}`;
    }).join('\n');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      live.delete(this);
      const cleanup = spawn('bash', [CLEANUP_SCRIPT, this.workDir, ...(this.options.keepWorkDir ? ['--keep'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
      await new Promise((resolve) => cleanup.on('close', resolve));
      if (this.watchdog?.pid) {
        try { process.kill(-this.watchdog.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    })();
    return this.stopping;
  }

  /**
   * A detached shell that runs the cleanup if this process dies without stopping the node
   * (SIGKILL, a jest worker torn down): the kernel kills the node's processes with the sandbox,
   * the watchdog removes the cgroups and restores the kernel settings.
   */
  private watchdog?: ChildProcess;
  private startWatchdog(): void {
    const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" "$3"';
    this.watchdog = spawn('bash', ['-c', script, 'real-node-watchdog', String(process.pid), CLEANUP_SCRIPT, this.workDir], {
      detached: true, stdio: 'ignore',
    });
    this.watchdog.unref();
  }

  /** Synchronous last resort (process exit): kill the sandbox; the kernel does the rest. */
  killNow(): void {
    if (this.initPid) {
      try { process.kill(this.initPid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (this.unshare?.pid) {
      try { process.kill(-this.unshare.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const component of this.components) {
      try { process.kill(-component.child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  }

  /** Runs a long-lived component inside the sandbox, logging to logs/<name>.log. */
  private startInside(name: string, command: readonly string[]): void {
    const logPath = path.join(this.workDir, 'logs', `${name}.log`);
    const log = fs.openSync(logPath, 'a');
    fs.writeSync(log, `$ ${command.join(' ')}\n`);
    const child = spawn('nsenter', [`--target=${this.initPid}`, '--mount', '--net', '--pid', '--uts', '--ipc', '--', ...command], {
      detached: true, stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    fs.appendFileSync(path.join(this.workDir, 'component.pids'), `${child.pid}\n`);
    const component: { name: string; child: ChildProcess; logPath: string; exit?: string } = { name, child, logPath };
    child.on('exit', (code, signal) => { component.exit = signal ? `killed by ${signal}` : `exited with code ${code}`; });
    this.components.push(component);
  }

  private async waitFor(what: string, deadline: number, check: () => boolean | Promise<boolean>): Promise<void> {
    for (;;) {
      const dead = this.components.find((c) => c.exit !== undefined);
      if (dead) throw new Error(`${dead.name} ${dead.exit} while waiting for ${what}`);
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  }

  private writeContainerdConfig(pauseImage: string): void {
    // containerd 1.6 (Debian bookworm), config version 2.
    fs.writeFileSync(path.join(this.workDir, 'containerd', 'config.toml'), `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "${this.containerdSocket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # Root may not lower oom_score_adj on these machines: runc would fail to start the sandbox.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_PLUGINS}"
    conf_dir = "/etc/cni/net.d"
`);
  }

  private writeCniConfig(): void {
    fs.writeFileSync(path.join(this.workDir, 'cni', '10-nautilus-bridge.conflist'), `${JSON.stringify({
      cniVersion: '1.0.0',
      name: 'nautilus',
      plugins: [
        {
          // Masquerading is the node's own rule (see POD_NETWORK), not the plugin's, which would
          // hide a pod's address from pods on other nodes.
          type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: this.podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }, null, 2)}\n`);
  }

  private writeKubeletConfig(caFile: string): void {
    fs.writeFileSync(path.join(this.workDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    fs.writeFileSync(path.join(this.workDir, 'kubelet.yaml'), `${JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // cgroup v1 (hybrid) and no systemd on these machines; kubelets since 1.35 refuse v1 unless told.
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      cgroupRoot: this.cgroupRoot,
      containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
      address: this.address,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
      authorization: { mode: 'Webhook' },
      clusterDNS: [CLUSTER_DNS],
      clusterDomain: 'cluster.local',
      // Pods get cluster DNS only: nothing is forwarded off the machine.
      resolvConf: path.join(this.workDir, 'resolv.conf'),
      // The images were loaded, not pulled: the kubelet must never garbage-collect them.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      serializeImagePulls: false,
      protectKernelDefaults: false,
      failSwapOn: false,
      nodeStatusReportFrequency: '10s',
      syncFrequency: '10s',
      fileCheckFrequency: '10s',
      streamingConnectionIdleTimeout: '5m',
      ...(this.options.reservedSystemCpus !== undefined
        ? { cpuManagerPolicy: 'static', reservedSystemCPUs: this.options.reservedSystemCpus, cpuManagerReconcilePeriod: '5s' }
        : {}),
    }, null, 2)}\n`);
  }

  private writeKubeProxyConfig(kubeconfig: string): void {
    fs.writeFileSync(path.join(this.workDir, 'kube-proxy.yaml'), `${JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig },
      clusterCIDR: POD_NETWORK,
      hostnameOverride: this.name,
      bindAddress: this.address,
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      // 0 leaves the kernel's conntrack settings alone: nf_conntrack_max is machine-wide.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    }, null, 2)}\n`);
  }

  /**
   * The kubelet's cgroup root, in every hierarchy (it refuses a root missing from one): the
   * node's pods live under it, and cleanup.sh removes it. A new cpuset cgroup has no CPUs or
   * memory nodes until given its parent's.
   */
  private createCgroupRoot(): void {
    for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
      const parent = path.join('/sys/fs/cgroup', hierarchy);
      if (!fs.existsSync(path.join(parent, 'cgroup.procs'))) continue;
      const dir = path.join(parent, this.cgroupRoot);
      fs.mkdirSync(dir, { recursive: true });
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (fs.existsSync(path.join(parent, file))) fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(parent, file)));
      }
    }
  }

  /**
   * Pre-allocates 2 MiB hugepages machine-wide (the kubelet reports what is allocated when it
   * starts); cleanup.sh puts the old count back. Fails when the kernel cannot find them.
   */
  private allocateHugepages(pages: number): void {
    const before = Number(run('sysctl', ['-n', 'vm.nr_hugepages']).trim());
    run('sysctl', ['-q', '-w', `vm.nr_hugepages=${before + pages}`]);
    const now = Number(run('sysctl', ['-n', 'vm.nr_hugepages']).trim());
    if (now < before + pages) throw new Error(`only ${now - before} of ${pages} 2 MiB hugepages could be allocated (memory too fragmented?)`);
  }

  /** Records the settings the node will change; cleanup.sh puts them back. */
  private saveSysctls(): void {
    fs.writeFileSync(path.join(this.workDir, 'sysctls'), KUBELET_SYSCTLS.map((key) => `${key}=${run('sysctl', ['-n', key]).trim()}\n`).join(''));
  }
}

/**
 * Cleans up after nodes whose test process died before its watchdog could (the machine
 * rebooted, or the watchdog itself was killed): work directories whose sandbox is gone.
 */
function sweepAbandonedNodes(): void {
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (!entry.startsWith(WORK_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), entry);
    const pidFile = path.join(dir, 'unshare.pid');
    if (!fs.existsSync(pidFile)) {
      // Another process may be creating this node right now: only a directory left for long
      // without a sandbox is abandoned.
      if (Date.now() - fs.statSync(dir).mtimeMs > ABANDONED_AFTER_MS) spawnSync('bash', [CLEANUP_SCRIPT, dir], { stdio: 'inherit' });
      continue;
    }
    const unsharePid = Number(fs.readFileSync(pidFile, 'utf8'));
    const alive = unsharePid > 0 && fs.existsSync(`/proc/${unsharePid}`) && (() => {
      try { return fs.readlinkSync(`/proc/${unsharePid}/exe`).endsWith('/unshare'); } catch { return false; }
    })();
    if (!alive) spawnSync('bash', [CLEANUP_SCRIPT, dir], { stdio: 'inherit' });
  }
}

/** What kube-router's firewall controller reads (its upstream manifest's ClusterRole, reduced to the firewall). */
const NETWORK_POLICY_ENFORCER_RBAC = [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'nautilus-test:kube-router' },
    rules: [
      { apiGroups: [''], resources: ['namespaces', 'pods', 'services', 'nodes', 'endpoints'], verbs: ['list', 'get', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'get', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'get', 'watch'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'nautilus-test:kube-router' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'nautilus-test:kube-router' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'kube-router' }],
  },
];

/** CoreDNS as a Deployment in kube-system behind the kube-dns Service at the kubelet's cluster DNS address. */
async function installCoreDns(controlPlane: ControlPlane, image: string, node: RealNode): Promise<void> {
  const labels = { 'k8s-app': 'kube-dns' };
  const objects = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' },
      // cluster.local and reverse lookups only; no `forward`: no query leaves the machine.
      data: { Corefile: '.:53 {\n    errors\n    health :8080\n    ready :8181\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n    }\n    cache 5\n    loop\n}\n' },
    },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            tolerations: [{ operator: 'Exists' }],
            containers: [{
              name: 'coredns', image, imagePullPolicy: 'Never', args: ['-conf', '/etc/coredns/Corefile'],
              ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
              resources: { requests: { cpu: '50m', memory: '30Mi' }, limits: { memory: '100Mi' } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, readOnlyRootFilesystem: true },
              volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
            }],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        clusterIP: CLUSTER_DNS, selector: labels,
        ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }],
      },
    },
  ];
  await applyManifests(controlPlane.kubeConfig, objects, { fieldManager: 'nautilus-test-cluster' });
  const deadline = Date.now() + 60_000;
  for (;;) {
    // Asked from the node, at the Service address: kube-proxy, the bridge and CoreDNS all work.
    let answer: string;
    try {
      answer = node.exec(['python3', '-c', DNS_QUERY, CLUSTER_DNS, 'kubernetes.default.svc.cluster.local']).trim();
    } catch (error) {
      answer = error instanceof Error ? error.message : String(error);
    }
    if (answer === '10.0.0.1') return;
    if (Date.now() > deadline) throw new Error(`CoreDNS did not answer kubernetes.default.svc.cluster.local at ${CLUSTER_DNS} with 10.0.0.1 within 60 s (last: ${answer})`);
    await sleep(500);
  }
}

/** One A query over UDP, printing the first address: the machine's resolver is not the cluster's. */
const DNS_QUERY = `
import socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
query = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\\x00' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(query, (server, 53))
data = s.recv(512)
answers = struct.unpack('>H', data[6:8])[0]
if answers == 0: sys.exit(1)
print(socket.inet_ntoa(data[-4:]))
`;

/** The first slot whose link name is free on this machine. */
function freeSlot(): number {
  const links = run('ip', ['-o', 'link', 'show']);
  for (let slot = 0; slot < 64; slot++) {
    if (!new RegExp(`: nautilus-n${slot}[@:]`).test(links)) return slot;
  }
  throw new Error('no free node slot: 64 nautilus-n* links exist (left by another run?); delete them with ip link del');
}

function readChildren(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function runAsync(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}): ${(stderr || stdout || error.message).trim()}`));
      else resolve(stdout);
    });
  });
}

function run(command: string, args: readonly string[], env?: Record<string, string>): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: env ? { ...process.env, ...env } : process.env, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  }
  return result.stdout;
}

async function waitForValue<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try { value = check(); } catch { value = undefined; }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let exitHandlersInstalled = false;

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  killOnExit(() => {
    for (const sandbox of live) sandbox.killNow();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
