import { ChildProcess, execFileSync, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { KubeConfig } from '@kubernetes/client-node';
import { killOnExit, startWatchdog } from './support/process-guard';
import { ControlPlaneBinaries, ensureControlPlaneBinaries } from './binaries';

/** Label key that puts a Node under kwok's control (kwok fakes its kubelet). */
export const KWOK_NODE_LABEL_KEY = 'type';
/** Label value that puts a Node under kwok's control. */
export const KWOK_NODE_LABEL_VALUE = 'kwok';
/** Label selector kwok is started with; every fake node must match it. */
export const KWOK_NODE_SELECTOR = `${KWOK_NODE_LABEL_KEY}=${KWOK_NODE_LABEL_VALUE}`;
/**
 * Taint conventionally put on kwok nodes so that only pods which tolerate it land
 * there. The harness does not require it; it is exported so fake-node builders
 * and tolerations agree when a test wants it.
 */
export const KWOK_NODE_TAINT = { key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' } as const;

/** First address of the service CIDR, i.e. the `kubernetes` Service's ClusterIP. */
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
/** Pod IPs kwok hands out to pods on fake nodes. */
const POD_CIDR = '10.244.0.0/16';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const DEFAULT_START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 40;

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * Upper bound for the whole start-up (binaries already built), in milliseconds.
   * On expiry everything started so far is stopped and the error carries each
   * component's log tail.
   * @default 120000
   */
  readonly startTimeoutMs?: number;
  /**
   * Keep the temporary directory (certificates, kubeconfigs, logs, etcd data)
   * after `stop()`. It is always kept when start-up fails.
   * @default false
   */
  readonly keepWorkDir?: boolean;
  /**
   * klog verbosity (`--v`) of the Kubernetes components.
   * @default 1
   */
  readonly verbosity?: number;
  /**
   * kube-controller-manager's `--horizontal-pod-autoscaler-sync-period`, in
   * seconds. An HPA first acts one period after it is created (that is when it
   * raises a Deployment to minReplicas), so tests that wait for HPA-managed
   * Deployments can shorten it.
   * @default 15 (the upstream default)
   */
  readonly horizontalPodAutoscalerSyncPeriodSeconds?: number;
  /**
   * Address the API server binds to and advertises, instead of loopback: a real node's kubelet
   * and its pods (in their own network namespaces) reach the API server there, and the
   * `kubernetes` Service gets it as its endpoint (the lease endpoint reconciler runs). The address
   * must already be assigned to an interface of this machine.
   * @default 127.0.0.1, with no `kubernetes` Service endpoint
   */
  readonly apiServerAddress?: string;
  /**
   * Port the API server serves on. A real node's pods reach it through the `kubernetes` Service,
   * and a policy enforcer sees the port after the Service's DNAT: give the one real clusters
   * use (6443) so that the generated policies are checked against it.
   * @default a free port
   */
  readonly apiServerPort?: number;
  /**
   * Serve the API aggregation layer to extension API servers such as metrics-server: a front-proxy
   * CA of its own (the extension servers' `--requestheader-client-ca-file`, published in
   * kube-system/extension-apiserver-authentication), the client certificate the API server proxies
   * with (`--proxy-client-cert-file`, CN `front-proxy-client`), the `--requestheader-*` headers
   * kubeadm configures, and `--enable-aggregator-routing`: an APIService's requests go to its
   * Service's endpoint addresses, which the API server reaches directly (it runs on the machine,
   * outside the node's Service rules). Serving certificates for the extension servers come from
   * {@link ControlPlane.issueServingCertificate}.
   * @default false
   */
  readonly aggregationLayer?: boolean;
}

/** One running component of the control plane. */
export interface ComponentProcess {
  /** Component name: etcd, kube-apiserver, kube-controller-manager, kube-scheduler or kwok. */
  readonly name: string;
  /** Process id; it is also the process-group id (each component leads its own group). */
  readonly pid: number;
  /** File that receives the component's stdout and stderr. */
  readonly logPath: string;
}

/** A running control plane, returned by {@link startControlPlane}. */
export interface ControlPlane {
  /** Admin (system:masters) client configuration for @kubernetes/client-node. */
  readonly kubeConfig: KubeConfig;
  /** Path of the admin kubeconfig file, e.g. for `kubectl --kubeconfig`. */
  readonly kubeconfigPath: string;
  /** kube-apiserver URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** Temporary directory holding certificates, kubeconfigs, logs and etcd data. */
  readonly workDir: string;
  /** The component processes, in start order. */
  readonly processes: readonly ComponentProcess[];
  /** Directory with kubectl and the other binaries of this control plane. */
  readonly binDir: string;
  /** The cluster CA's certificate file (what a kubelet's client CA and a kubeconfig trust). */
  readonly caFile: string;
  /**
   * How the API server signs service account tokens: the issuer (`iss`) it writes and the public
   * key that verifies them (PEM), e.g. for a JWT auth method trusting the cluster's tokens.
   */
  readonly serviceAccountTokens: { readonly issuer: string; readonly publicKeyFile: string };
  /**
   * Issues a client certificate from the cluster CA and writes a kubeconfig for it, e.g. for a
   * real kubelet (`system:node:<name>` in `system:nodes`) or kube-proxy (`system:kube-proxy`).
   * @returns the kubeconfig's path
   */
  issueKubeconfig(user: string, commonName: string, organization?: string): string;
  /**
   * Issues a serving certificate from the cluster CA, e.g. for an extension API server: the API
   * server's aggregator checks it against the APIService's `caBundle` (the cluster CA) and the
   * name `<service>.<namespace>.svc`.
   */
  issueServingCertificate(name: string, dnsNames: readonly string[]): CertificatePair;
  /** Stops every component (process groups, SIGTERM then SIGKILL) and removes the work directory. Idempotent. */
  stop(): Promise<void>;
}

interface Component extends ComponentProcess {
  readonly child: ChildProcess;
  exit?: string;
  readonly exited: Promise<void>;
}

interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Control planes whose processes must die with this process. */
const live = new Set<ControlPlaneProcesses>();

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
 * on free loopback ports in a fresh temporary directory and resolves once the
 * API server is ready, the controllers and scheduler report healthy and the
 * `default` ServiceAccount exists. Builds the binaries first if they are not
 * cached yet (that is not counted against `startTimeoutMs`).
 *
 * Always call `stop()` (e.g. in `afterAll`); process exit and SIGINT/SIGTERM
 * handlers plus a watchdog process also kill the components if the test
 * process dies first.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = await ensureControlPlaneBinaries();
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const verbosity = options.verbosity ?? 1;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-control-plane-'));
  const processes = new ControlPlaneProcesses(workDir, options.keepWorkDir ?? false);
  live.add(processes);
  installExitHandlers();

  const deadline = Date.now() + startTimeoutMs;
  try {
    return await boot(binaries, workDir, processes, deadline, verbosity, options.keepWorkDir ?? false,
      options.horizontalPodAutoscalerSyncPeriodSeconds ?? 15, options.apiServerAddress, options.apiServerPort, options.aggregationLayer ?? false);
  } catch (error) {
    // Tails first: stopping adds shutdown noise that hides the cause.
    const tails = processes.logTails();
    await processes.stopAll();
    live.delete(processes);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `control plane failed to start within ${startTimeoutMs} ms: ${reason}\n` +
        `work directory kept for inspection: ${workDir}\n${tails}`,
    );
  }
}

async function boot(
  binaries: ControlPlaneBinaries,
  workDir: string,
  processes: ControlPlaneProcesses,
  deadline: number,
  verbosity: number,
  keepWorkDir: boolean,
  hpaSyncPeriodSeconds: number,
  apiServerAddress: string | undefined,
  apiServerPort: number | undefined,
  aggregationLayer: boolean,
): Promise<ControlPlane> {
  const bin = (name: string) => path.join(binaries.binDir, name);
  const [etcdClientPort, etcdPeerPort, freeApiserverPort, controllerManagerPort, schedulerPort, kwokPort] = await freePorts(6);
  const apiserverPort = apiServerPort ?? freeApiserverPort;
  const pkiDir = path.join(workDir, 'pki');
  const certs = generateCertificates(pkiDir, apiServerAddress);
  const server = `https://${apiServerAddress ?? '127.0.0.1'}:${apiserverPort}`;
  const klog = [`--v=${verbosity}`];
  const waitFor = (what: string, check: () => Promise<boolean>) => processes.waitFor(what, check, deadline);

  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  processes.start('etcd', bin('etcd'), [
    '--name=nautilus-test',
    `--data-dir=${path.join(workDir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${etcdPeerUrl}`,
    `--initial-advertise-peer-urls=${etcdPeerUrl}`,
    `--initial-cluster=nautilus-test=${etcdPeerUrl}`,
    // Throw-away data: durability only costs time here.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', async () => (await get(`${etcdUrl}/health`)).body.includes('"health":"true"'));

  processes.start('kube-apiserver', bin('kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${apiServerAddress ?? '127.0.0.1'}`,
    `--advertise-address=${apiServerAddress ?? '127.0.0.1'}`,
    `--secure-port=${apiserverPort}`,
    `--cert-dir=${path.join(workDir, 'kube-apiserver')}`,
    `--tls-cert-file=${certs.apiserver.cert}`,
    `--tls-private-key-file=${certs.apiserver.key}`,
    `--client-ca-file=${certs.ca.cert}`,
    `--service-account-key-file=${certs.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${certs.serviceAccount.privateKey}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--authorization-mode=Node,RBAC',
    // The default admission plugin set (it includes PodSecurity) is what we
    // want; NodeRestriction is the one a real cluster adds on top.
    '--enable-admission-plugins=NodeRestriction',
    // Without a real node there is no kube-proxy or reachable endpoint to advertise; with one,
    // pods reach the API server through the `kubernetes` Service as in any cluster.
    `--endpoint-reconciler-type=${apiServerAddress ? 'lease' : 'none'}`,
    // Logs, exec and port-forward go through a real kubelet, which checks this certificate.
    `--kubelet-client-certificate=${certs.kubeletClient.cert}`,
    `--kubelet-client-key=${certs.kubeletClient.key}`,
    // A node's name does not resolve here; its InternalIP (the kubelet's --node-ip) does.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    // Like kubeadm: privileged pods are allowed and PodSecurity decides.
    '--allow-privileged=true',
    '--profiling=false',
    ...(aggregationLayer ? aggregationLayerFlags(pkiDir) : []),
    ...klog,
  ]);
  const adminTls: TlsFiles = { ca: certs.ca.cert, cert: certs.admin.cert, key: certs.admin.key };
  await waitFor('kube-apiserver /readyz', async () => (await get(`${server}/readyz`, adminTls)).status === 200);

  const kubeconfigPath = writeKubeconfig(workDir, 'admin', server, certs.ca.cert, certs.admin);
  const controllerManagerKubeconfig = writeKubeconfig(workDir, 'kube-controller-manager', server, certs.ca.cert, certs.controllerManager);
  const schedulerKubeconfig = writeKubeconfig(workDir, 'kube-scheduler', server, certs.ca.cert, certs.scheduler);
  const kwokKubeconfig = writeKubeconfig(workDir, 'kwok', server, certs.ca.cert, certs.kwok);

  processes.start('kube-controller-manager', bin('kube-controller-manager'), [
    `--kubeconfig=${controllerManagerKubeconfig}`,
    `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
    `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${controllerManagerPort}`,
    `--cert-dir=${path.join(workDir, 'kube-controller-manager')}`,
    // Token and root-CA publishing need these; without them ServiceAccounts
    // never get a usable token and pods cannot be admitted.
    `--service-account-private-key-file=${certs.serviceAccount.privateKey}`,
    `--root-ca-file=${certs.ca.cert}`,
    '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${certs.ca.cert}`,
    `--cluster-signing-key-file=${certs.ca.key}`,
    // Every default controller (deployment, replicaset, statefulset, daemonset,
    // job, cronjob, disruption, garbage collector, namespace, HPA, ...) minus
    // the ones that need a cloud provider.
    '--controllers=*,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--horizontal-pod-autoscaler-sync-period=${hpaSyncPeriodSeconds}s`,
    '--leader-elect=false',
    '--profiling=false',
    ...klog,
  ]);

  processes.start('kube-scheduler', bin('kube-scheduler'), [
    `--kubeconfig=${schedulerKubeconfig}`,
    `--authentication-kubeconfig=${schedulerKubeconfig}`,
    `--authorization-kubeconfig=${schedulerKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${schedulerPort}`,
    `--cert-dir=${path.join(workDir, 'kube-scheduler')}`,
    '--leader-elect=false',
    '--profiling=false',
    ...klog,
  ]);

  const stages = fs
    .readdirSync(binaries.stagesDir)
    .filter((file) => file.endsWith('.yaml') && file !== 'node-heartbeat.yaml')
    .sort();
  processes.start('kwok', bin('kwok'), [
    `--kubeconfig=${kwokKubeconfig}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-label-selector=${KWOK_NODE_SELECTOR}`,
    `--server-address=127.0.0.1:${kwokPort}`,
    `--cidr=${POD_CIDR}`,
    '--node-ip=10.240.0.1',
    // Leases (renewed by kwok) keep nodes Ready, as node-heartbeat-with-lease expects.
    '--node-lease-duration-seconds=40',
    ...stages.map((file) => `--config=${path.join(binaries.stagesDir, file)}`),
    ...klog,
  ]);

  const insecure = { insecure: true } as const;
  await waitFor('kube-controller-manager /healthz', async () => (await get(`https://127.0.0.1:${controllerManagerPort}/healthz`, insecure)).status === 200);
  await waitFor('kube-scheduler /healthz', async () => (await get(`https://127.0.0.1:${schedulerPort}/healthz`, insecure)).status === 200);
  await waitFor('kwok /healthz', async () => (await get(`http://127.0.0.1:${kwokPort}/healthz`)).status === 200);
  await waitFor(
    'ServiceAccount default/default (created by kube-controller-manager)',
    async () => (await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminTls)).status === 200,
  );

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    kubeConfig,
    kubeconfigPath,
    server,
    workDir,
    binDir: binaries.binDir,
    processes: processes.list(),
    caFile: certs.ca.cert,
    serviceAccountTokens: { issuer: SERVICE_ACCOUNT_ISSUER, publicKeyFile: certs.serviceAccount.publicKey },
    issueKubeconfig: (user, commonName, organization) => writeKubeconfig(workDir, user, server, certs.ca.cert,
      issueCertificate(pkiDir, user, `${organization ? `/O=${organization}` : ''}/CN=${commonName}`, CLIENT_EXTENSIONS)),
    issueServingCertificate: (name, dnsNames) => issueCertificate(pkiDir, name, `/CN=${dnsNames[0] ?? name}`, [
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}`,
    ]),
    stop: async () => {
      await processes.stopAll();
      live.delete(processes);
      if (!keepWorkDir) {
        fs.rmSync(workDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The processes of one control plane. Each component leads its own process
 * group, so a signal to the group also reaches anything it forked; a detached
 * watchdog shell kills the groups if this (node) process disappears without
 * running its exit handlers, e.g. on SIGKILL.
 */
class ControlPlaneProcesses {
  private readonly components: Component[] = [];
  private readonly groupsFile: string;
  private readonly watchdog: ChildProcess;
  private stopping?: Promise<void>;

  constructor(
    private readonly workDir: string,
    private readonly keepWorkDir: boolean,
  ) {
    this.groupsFile = path.join(workDir, 'process-groups');
    fs.writeFileSync(this.groupsFile, '');
    this.watchdog = startWatchdog('control-plane-watchdog', this.groupsFile, keepWorkDir ? '' : workDir);
  }

  start(name: string, binary: string, args: readonly string[]): void {
    const logPath = path.join(this.workDir, `${name}.log`);
    const logFd = fs.openSync(logPath, 'a');
    fs.writeSync(logFd, `$ ${binary} ${args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(binary, args, { cwd: this.workDir, detached: true, stdio: ['ignore', logFd, logFd] });
    } finally {
      fs.closeSync(logFd);
    }
    if (child.pid === undefined) {
      throw new Error(`could not start ${name} (${binary}); is the binary cache intact?`);
    }
    const component: Component = {
      name,
      pid: child.pid,
      logPath,
      child,
      exited: new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          component.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
          resolve();
        });
      }),
    };
    child.on('error', (error) => {
      component.exit ??= `failed to spawn: ${error.message}`;
    });
    this.components.push(component);
    fs.appendFileSync(this.groupsFile, `${child.pid}\n`);
  }

  list(): ComponentProcess[] {
    return this.components.map(({ name, pid, logPath }) => ({ name, pid, logPath }));
  }

  /** Polls `check` until it is true; fails early if a component dies, or at the deadline. */
  async waitFor(what: string, check: () => Promise<boolean>, deadline: number): Promise<void> {
    let lastError = '';
    for (;;) {
      const dead = this.components.find((component) => component.exit !== undefined);
      if (dead) {
        throw new Error(`${dead.name} ${dead.exit} while waiting for ${what}`);
      }
      try {
        if (await check()) {
          return;
        }
        lastError = '';
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
      }
      await sleep(200);
    }
  }

  /** Stops the components in reverse start order, etcd last, escalating to SIGKILL. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      const [etcd, ...rest] = this.components;
      await Promise.all(rest.map((component) => terminate(component)));
      if (etcd) {
        await terminate(etcd);
      }
      fs.rmSync(this.groupsFile, { force: true });
      signalGroup(this.watchdog.pid, 'SIGKILL');
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process exit: SIGKILL every group, drop the work directory. */
  killAllNow(): void {
    for (const component of this.components) {
      signalGroup(component.pid, 'SIGKILL');
    }
    signalGroup(this.watchdog.pid, 'SIGKILL');
    if (!this.keepWorkDir) {
      fs.rmSync(this.workDir, { recursive: true, force: true });
    }
  }

  logTails(): string {
    return this.components
      .map((component) => {
        const status = component.exit ?? 'still running';
        return `--- ${component.name} (${status}; log ${component.logPath}), last ${LOG_TAIL_LINES} lines ---\n${tail(component.logPath, LOG_TAIL_LINES)}`;
      })
      .join('\n');
  }
}

async function terminate(component: Component): Promise<void> {
  if (component.exit === undefined) {
    signalGroup(component.pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
    if ((await Promise.race([component.exited, timer])) === 'timeout') {
      signalGroup(component.pid, 'SIGKILL');
      await component.exited;
    }
  }
  // Whatever the component forked shares its group and must not outlive it.
  signalGroup(component.pid, 'SIGKILL');
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

let exitHandlersInstalled = false;

function installExitHandlers(): void {
  if (exitHandlersInstalled) {
    return;
  }
  exitHandlersInstalled = true;
  killOnExit(() => {
    for (const processes of live) {
      processes.killAllNow();
    }
    live.clear();
  });
}

/** A certificate and its private key, as files. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

interface Certificates {
  readonly ca: CertificatePair;
  readonly apiserver: CertificatePair;
  readonly admin: CertificatePair;
  readonly controllerManager: CertificatePair;
  readonly scheduler: CertificatePair;
  readonly kwok: CertificatePair;
  readonly kubeletClient: CertificatePair;
  readonly serviceAccount: { readonly privateKey: string; readonly publicKey: string };
}

function openssl(dir: string, ...args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const VALIDITY = ['-days', '2'];
const CLIENT_EXTENSIONS = ['keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'];

/** Issues a certificate signed by the CA in `dir` (ca.crt, ca.key). */
function issueCertificate(dir: string, name: string, subject: string, extensions: readonly string[]): CertificatePair {
  fs.writeFileSync(path.join(dir, `${name}.ext`), ['basicConstraints=critical,CA:FALSE', ...extensions].join('\n') + '\n');
  openssl(dir, 'req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  openssl(
    dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, ...VALIDITY, '-out', `${name}.crt`, '-extfile', `${name}.ext`,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/** A throw-away PKI: one CA, the serving certificate and a client certificate per component. */
function generateCertificates(dir: string, apiServerAddress: string | undefined): Certificates {
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, 'req', '-x509', ...EC_KEY, ...VALIDITY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=nautilus-test-ca');
  const client = (name: string, subject: string) => issueCertificate(dir, name, subject, CLIENT_EXTENSIONS);

  const apiserver = issueCertificate(dir, 'kube-apiserver', '/CN=kube-apiserver', [
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:127.0.0.1,IP:10.0.0.1,${apiServerAddress ? `IP:${apiServerAddress},` : ''}DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,` +
      'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
  ]);
  openssl(dir, 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'service-account.key');
  openssl(dir, 'pkey', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub');
  return {
    ca: { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') },
    apiserver,
    admin: client('admin', '/O=system:masters/CN=nautilus-test-admin'),
    controllerManager: client('kube-controller-manager', '/CN=system:kube-controller-manager'),
    scheduler: client('kube-scheduler', '/CN=system:kube-scheduler'),
    // kwok writes node and pod status for arbitrary nodes; the Node authorizer
    // would confine a real kubelet to its own node, so kwok runs as an admin.
    kwok: client('kwok', '/O=system:masters/CN=kwok'),
    // What the API server presents to kubelets (logs, exec); kubeadm's kube-apiserver-kubelet-client.
    kubeletClient: client('kube-apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client'),
    serviceAccount: {
      privateKey: path.join(dir, 'service-account.key'),
      publicKey: path.join(dir, 'service-account.pub'),
    },
  };
}

/** Name of the front-proxy client certificate, the one name extension API servers accept proxied requests from. */
const FRONT_PROXY_CLIENT = 'front-proxy-client';

/**
 * The API server's side of the aggregation layer, as kubeadm sets it up: a front-proxy CA separate
 * from the cluster CA (a certificate the cluster CA signed for a user must not pass as the proxy),
 * the proxy's client certificate, and the request headers that carry the authenticated user.
 */
function aggregationLayerFlags(pkiDir: string): string[] {
  const dir = path.join(pkiDir, 'front-proxy');
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, 'req', '-x509', ...EC_KEY, ...VALIDITY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=nautilus-test-front-proxy-ca');
  const client = issueCertificate(dir, FRONT_PROXY_CLIENT, `/CN=${FRONT_PROXY_CLIENT}`, CLIENT_EXTENSIONS);
  return [
    `--requestheader-client-ca-file=${path.join(dir, 'ca.crt')}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${client.cert}`,
    `--proxy-client-key-file=${client.key}`,
    '--enable-aggregator-routing=true',
  ];
}

/** Writes a kubeconfig with the credentials embedded, so it stays valid if copied. */
function writeKubeconfig(workDir: string, user: string, server: string, caFile: string, credentials: CertificatePair): string {
  const base64 = (file: string) => fs.readFileSync(file).toString('base64');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'nautilus-test', cluster: { server, 'certificate-authority-data': base64(caFile) } }],
    users: [{ name: user, user: { 'client-certificate-data': base64(credentials.cert), 'client-key-data': base64(credentials.key) } }],
    contexts: [{ name: user, context: { cluster: 'nautilus-test', user, namespace: 'default' } }],
    'current-context': user,
  };
  const file = path.join(workDir, `${user}.kubeconfig`);
  // JSON is YAML, and both kubectl and client-node read it.
  fs.writeFileSync(file, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
  return file;
}

/**
 * Distinct free ports on `host` (loopback by default; `'0.0.0.0'` for a process that binds every
 * interface); all are held open together so none repeats.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, host, () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

interface HttpResult {
  readonly status: number;
  readonly body: string;
}

/** GET with a short timeout; `tls` is a client certificate or `insecure` for self-signed health endpoints. */
function get(url: string, tls?: TlsFiles | { readonly insecure: true }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = { method: 'GET', timeout: 2_000 };
    if (tls && 'insecure' in tls) {
      options.rejectUnauthorized = false;
    } else if (tls) {
      options.ca = fs.readFileSync(tls.ca);
      options.cert = fs.readFileSync(tls.cert);
      options.key = fs.readFileSync(tls.key);
    }
    const send = url.startsWith('https:') ? https.request : http.request;
    const request = send(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
