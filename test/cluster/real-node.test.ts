/**
 * dev as real pods: every engine image built from src/engines with its committed Dockerfile, the
 * stores from local stand-ins, deployed with `nautilus deploy` to a control plane with a real
 * kubelet, containerd and runc, CNI bridge, kube-proxy and CoreDNS (see real-node.ts). Asserts
 * that every pod runs and is Ready under the generated security context with the generated probes
 * passing, that the engines reach their stores through the generated Service names and Secrets,
 * that the processes are real, that `nautilus status` is healthy, that the generated
 * NetworkPolicies, enforced on the node by kube-router, let through exactly the flows the catalog
 * declares (probed from inside the pods, see flow-matrix.ts), that dev's edge serves its routes
 * through Traefik (the controller dev names, a real pod: edge-proxy.ts) over HTTPS with the
 * certificate cert-manager gets from a real ACME server (Pebble, in the node's network) over
 * HTTP-01 through those routes, redirects HTTP, and holds a WebSocket to the websocket engine open
 * past the proxy's default timeouts, that a broken image fails the
 * deploy with the kubelet's reason and the container's last lines, and that the node leaves
 * nothing behind.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { PeerCertificate, TLSSocket, connect as tlsConnect } from 'tls';
import { X509Certificate } from 'crypto';
import { CoreV1Api, CustomObjectsApi, V1Pod } from '@kubernetes/client-node';
import { WebSocket } from 'ws';
import { PLATFORM_DATA_STORES } from '../../src/catalog/data-stores';
import { ENGINE_UID } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { runCli } from '../../src/deploy/cli';
import { imagesOf, KubeObject } from '../../src/deploy/objects';
import { planEnvironment } from '../../src/planning/environment-plan';
import { platformInput } from '../support/platform';
import { EnvironmentSpec } from '../../src/environments/environment';
import { poolLabels, poolTaints } from '../../src/environments/node-pool-policy';
import { applyManifests } from './apply';
import { ArgoRollouts, ensureArgoRollouts, startArgoRollouts } from './argo-rollouts';
import { AcmeServer, EDGE_VERSIONS, RunningProgram, ensureAcmeServer, resolveTo, startAcmeServer, startCertManager } from './edge-controllers';
import { TRAEFIK_CONTROLLER_NAME, TRAEFIK_VERSION, acmeSolverImage, traefikImage, traefikManifests } from './edge-proxy';
import { clusterProvidedStorageClasses, credentialSecrets, monitoringStackNamespace, readCrds } from './dist-manifests';
import { leftovers, machineState } from './machine-state';
import { expectedFlows, Flow, FlowSource, probeFromContainer, probeFromNode } from './flow-matrix';
import { RealNodeCluster, ensureRealNodeBinaries, startRealNodeCluster } from './real-node';
import { realNodeEnvironment } from './real-node-environment';
import { buildEngineImages, buildStoreStandIns, synthesizeEnvironment } from './real-node-setup';
import { parsePrometheusText } from '../contract/prometheus-text';
import { startVolumeBinder, VolumeBinder } from './volume-binder';

const ROOT = path.resolve(__dirname, '..', '..');
/** Where Pebble serves its ACME directory in the node's network (startAcmeServer). */
const ACME_DIRECTORY = 'https://localhost:14000/dir';
const CONTAINERS_CONF = path.join(ROOT, 'scripts', 'images', 'containers.conf');

// Cold: the images (about 3 minutes), the stand-ins (about 1 minute); the node and the deploy
// about 2 minutes more.
jest.setTimeout(20 * 60_000);

/**
 * dev fitted to this machine, its certificate issued through ACME (staging's and a public
 * environment's kind of issuer) by the ACME server the test runs in the node's network, Pebble:
 * through the environment API, so the edge renders the ACME Issuer, its HTTP-01 solver on the
 * Gateway and the solver's NetworkPolicy. dev's own private root is issued on the control plane
 * (edge-controllers.test.ts).
 */
const environment: EnvironmentSpec = (() => {
  const base = realNodeEnvironment();
  return { ...base, externalAccess: { ...base.externalAccess, issuer: { kind: 'acme', server: ACME_DIRECTORY, email: 'platform@nautilus.example.com' } } };
})();
const pool = environment.nodePools[0];
const NODE_NAME = `${pool.name}-${pool.zones[0]}-0`;
let workDir: string;
let distRoot: string;
let cluster: RealNodeCluster | undefined;
let binder: VolumeBinder | undefined;
/** dev's edge engines are blue/green Rollouts: the Argo Rollouts controller runs beside the node. */
let rollouts: ArgoRollouts | undefined;
/** dev's edge: Pebble and cert-manager issue its certificate, Traefik (a pod on the node) serves its routes. */
let certManager: RunningProgram | undefined;
let acmeServer: AcmeServer | undefined;
const edge = planEnvironment(platformInput(), environment).edge!;
let images: string[];
/** The machine before the node started: stopping it must leave it so. */
let machineBefore: ReturnType<typeof machineState>;

function cliIo() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (text: string) => { out.stdout += text; },
      stderr: (text: string) => { out.stderr += text; },
      env: { ...process.env, KUBECONFIG: cluster!.controlPlane.kubeconfigPath },
    },
  };
}

async function platformPods(): Promise<V1Pod[]> {
  const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const namespaces = ['nautilus-latency', 'nautilus-engines', 'nautilus-data'];
  return (await Promise.all(namespaces.map(async (namespace) => (await core.listNamespacedPod({ namespace })).items))).flat();
}

/** How long the programs this file runs may take to build on a cold cache, beside the other lanes. */
const COLD_BUILDS_TIMEOUT_MS = 60 * 60_000;

// Cold, the programs the node needs are built first, in a hook of their own: the control plane's,
// the node's and the enforcer (about 20 minutes on 2 cores beside the other lanes) and the Argo
// Rollouts controller. The edge's (Traefik, cert-manager and its solver, Pebble), which npm test
// builds in the background at the lowest priority, are waited for by the edge's tests, with the
// same bound: by then most are built, and waiting raises the rest to the waiter's priority.
beforeAll(async () => {
  await Promise.all([ensureRealNodeBinaries({ enforceNetworkPolicies: true }), ensureArgoRollouts()]);
}, COLD_BUILDS_TIMEOUT_MS);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-real-node-test-'));
  // Ctrl-C skips afterAll: the node cleans itself up, and so does this directory.
  process.once('exit', () => fs.rmSync(workDir, { recursive: true, force: true }));
  distRoot = path.join(workDir, 'synth');

  // 1. The images: every engine of the catalog, and the stores' stand-ins.
  await buildEngineImages(environment);
  buildStoreStandIns();

  // 2. dev, fitted to this machine through the environment API, synthesized as `npm run synth` does.
  const objects = synthesizeEnvironment(path.join(distRoot, 'dist'), environment);
  images = imagesOf(objects as KubeObject[]);

  // 3. The cluster: one real node with the pool's labels and taints, a provisioner stand-in
  //    whose volumes are directories on the node, and what the platform expects installed.
  machineBefore = machineState();
  cluster = await startRealNodeCluster({
    name: NODE_NAME,
    labels: { ...poolLabels(pool), 'topology.kubernetes.io/zone': pool.zones[0] },
    taints: poolTaints(pool),
    images,
    enforceNetworkPolicies: true,
  });
  const kc = cluster.controlPlane.kubeConfig;
  binder = startVolumeBinder(kc, 500, path.join(cluster.node.workDir, 'volumes'));
  rollouts = await startArgoRollouts(cluster.controlPlane);
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  const prerequisites = [...readCrds(), ...monitoringStackNamespace(environment), ...clusterProvidedStorageClasses(environment), ...namespaces,
    ...credentialSecrets(namespaces.map((n) => n.metadata?.name ?? '').filter((n) => n.startsWith('nautilus-')))];
  await applyManifests(kc, prerequisites, { fieldManager: 'nautilus-test-cluster' });
});

afterAll(async () => {
  heldSocket?.terminate();
  await certManager?.stop();
  await acmeServer?.stop();
  await rollouts?.stop();
  await binder?.stop();
  await cluster?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

interface EdgeAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string; certificate?: PeerCertificate }

/** GETs `url` (its host one of the edge's names) from Traefik's pod at `address`, trusting only `ca`. */
function edgeGet(url: string, address: string, ca?: string): Promise<EdgeAnswer> {
  return new Promise((resolve, reject) => {
    const options = { lookup: resolveTo(address), agent: false, timeout: 5000 };
    const onResponse = (response: http.IncomingMessage) => {
      const certificate = response.socket instanceof TLSSocket ? response.socket.getPeerCertificate() : undefined;
      let body = '';
      response.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, certificate }));
    };
    const request = url.startsWith('https:') ? https.get(url, { ...options, ca }, onResponse) : http.get(url, options, onResponse);
    request.on('timeout', () => request.destroy(new Error(`GET ${url} at ${address}: no answer within 5 s`)));
    request.on('error', reject);
  });
}

/** The sum over an engine's running pods of a series of its /metrics, read from the node. */
async function engineMetric(engine: string, namespace: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/name=${engine}` })).items
    .filter((pod) => pod.status?.phase === 'Running' && pod.status.podIP);
  let total = 0;
  for (const pod of pods) {
    const port = pod.spec!.containers[0].ports![0].containerPort;
    const families = parsePrometheusText(cluster!.node.httpGet(`http://${pod.status!.podIP}:${port}/metrics`).body);
    for (const sample of families.get(name)?.samples ?? []) {
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
    }
  }
  return total;
}

/** Polls `read` every 250 ms until it returns a value other than undefined; throws `what` at the deadline with the last state. */
async function waitUntil<T>(what: string, timeoutMs: number, read: () => Promise<T | undefined>, state: () => Promise<string> = async () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s; ${await state()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The WebSocket opened through Traefik, held open without traffic until a later test checks it. */
let heldSocket: WebSocket | undefined;
let heldSince = 0;
/** How long the held WebSocket must stay open: past Traefik's 60-second default read timeout. */
const HOLD_MS = 65_000;

describe('dev on a real node', () => {
  test('nautilus deploy rolls every engine and store out as real pods', async () => {
    const { io, out } = cliIo();
    const code = await runCli(['deploy', 'dev', '--dist', path.join(distRoot, 'dist'), '--timeout', '420', '--yes'], io);
    if (code !== 0) process.stderr.write(`${out.stdout}\n${out.stderr}\n${cluster!.node.logTails(15)}\n`);
    expect(out.stderr).not.toMatch(/did not become ready|failed/);
    expect(code).toBe(0);
    expect(out.stdout).toMatch(/deploy dev: done, 20 workloads rolled out/);
  });

  test('the node is a real kubelet of the control plane\'s release on containerd', async () => {
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const info = (await core.readNode({ name: NODE_NAME })).status?.nodeInfo;
    expect(info?.kubeletVersion).toBe('v1.36.3');
    expect(info?.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
  });

  test('every pod is Running and Ready, each container under the generated security context', async () => {
    const pods = await platformPods();
    const engines = PLATFORM_ENGINES.filter((e) => !environment.disabledEngines.some((d) => d.name === e.name));
    expect(pods.length).toBe(engines.length + 2);
    const problems = pods.flatMap((pod) => {
      const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      const issues: string[] = [];
      if (pod.status?.phase !== 'Running') issues.push(`${name}: phase ${pod.status?.phase}`);
      for (const status of pod.status?.containerStatuses ?? []) {
        if (!status.ready || !status.started) issues.push(`${name}/${status.name}: not ready (${JSON.stringify(status.state)})`);
      }
      for (const container of pod.spec?.containers ?? []) {
        const security = container.securityContext;
        if (security?.readOnlyRootFilesystem !== true) issues.push(`${name}/${container.name}: root filesystem writable`);
        if (security?.allowPrivilegeEscalation !== false) issues.push(`${name}/${container.name}: privilege escalation allowed`);
        if (!security?.capabilities?.drop?.includes('ALL')) issues.push(`${name}/${container.name}: capabilities not dropped`);
        if (!container.readinessProbe || !container.livenessProbe) issues.push(`${name}/${container.name}: probes missing`);
      }
      if (pod.spec?.securityContext?.seccompProfile?.type !== 'RuntimeDefault') issues.push(`${name}: seccomp not RuntimeDefault`);
      if (pod.spec?.nodeName !== NODE_NAME) issues.push(`${name}: on ${pod.spec?.nodeName}`);
      return issues;
    });
    expect(problems).toEqual([]);
    // The engines' pods run as the image's user.
    const enginePods = pods.filter((pod) => pod.metadata?.namespace !== 'nautilus-data');
    expect(enginePods.map((pod) => pod.spec?.securityContext?.runAsUser)).toEqual(enginePods.map(() => ENGINE_UID));
  });

  test('the containers are real: containerd runs them and their processes have the image\'s uid', () => {
    const containers = cluster!.node.listContainers();
    for (const image of images.filter((i) => i.includes('/nautilus/'))) expect(containers).toContain(image);
    // `node /app/<engine>/main.js` processes on the node, each with the engines' uid.
    const processes = cluster!.node.exec(['ps', '-eo', 'uid=,args=']).split('\n');
    const engineProcesses = processes.filter((line) => /node \/app\/[a-z-]+\/main\.js/.test(line));
    const engines = PLATFORM_ENGINES.filter((e) => e.workload.kind === 'service' && !environment.disabledEngines.some((d) => d.name === e.name));
    expect(engineProcesses).toHaveLength(engines.length);
    expect(engineProcesses.filter((line) => Number(line.trim().split(/\s+/)[0]) !== ENGINE_UID)).toEqual([]);
    expect(processes.some((line) => /^\s*999\s+redis-server/.test(line))).toBe(true);
    expect(processes.some((line) => /^\s*1000\s+.*patroni/.test(line))).toBe(true);
    expect(processes.some((line) => /^\s*1000\s+\/usr\/lib\/postgresql\/16\/bin\/postgres/.test(line))).toBe(true);
  });

  test('engines are Ready because their stores answer through the generated Service names and Secrets', async () => {
    const pods = await platformPods();
    const strategy = pods.find((pod) => pod.metadata?.labels?.['app.kubernetes.io/name'] === 'strategy');
    expect(strategy?.status?.podIP).toMatch(/^10\.202\./);
    const port = strategy!.spec!.containers[0].ports![0].containerPort;
    const ready = cluster!.node.httpGet(`http://${strategy!.status!.podIP}:${port}/health/ready`);
    // The runtime is ready only when each dependency it checks answers: Redis through the
    // `redis` Service's DNS name with the password from redis-credentials, TimescaleDB through
    // the `timescaledb` Service's with timescaledb-credentials (what the manifests reference).
    expect({ status: ready.status, body: JSON.parse(ready.body) }).toEqual({
      status: 200,
      body: { status: 'ready', warmedUp: true, shuttingDown: false, dependencies: { redis: { up: true }, timescaledb: { up: true } } },
    });
  });

  test('nautilus status reports the environment healthy', async () => {
    const { io, out } = cliIo();
    const code = await runCli(['status', 'dev', '--dist', path.join(distRoot, 'dist')], io);
    expect(out.stdout).not.toMatch(/PENDING|FAILED|UNHEALTHY/);
    expect(code).toBe(0);
  });

  describe(`dev's edge: Traefik ${TRAEFIK_VERSION} serves the generated routes over HTTPS with the certificate cert-manager ${EDGE_VERSIONS.certManager} gets through ACME`, () => {
    const access = environment.externalAccess;
    const ports = access.controller.listenerPorts!;
    const appHost = edge.routes.find((route) => route.engine === 'frontend')!.host;
    const streamRoute = edge.routes.find((route) => route.websocket)!;
    /** The root Pebble issued dev's certificate under: the only one the clients below trust. */
    let rootCa: string;
    /** The issued certificate's SHA-256 fingerprint, as Node prints it. */
    let issuedFingerprint: string;
    let traefikAddress: string;
    const custom = () => cluster!.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    type Condition = { type: string; status: string; reason?: string; message?: string };
    const holds = (conditions: Condition[] | undefined, type: string) => conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
    const gatewayObject = (plural: string, name: string) => custom().getNamespacedCustomObject({
      group: 'gateway.networking.k8s.io', version: 'v1', namespace: edge.namespace, plural, name,
    }) as Promise<{ status?: { conditions?: Condition[]; parents?: Array<{ controllerName: string; conditions: Condition[] }> } }>;

    test(`Traefik, a pod in the controller's namespace ${access.controller.namespace}, serves the generated Gateway's HTTP listener: HTTP is redirected to HTTPS with 301, path kept`, async () => {
      // Loaded into the node here: on a cold cache its build runs beside the node's start.
      const traefik = await traefikImage();
      await cluster!.node.importImages([traefik]);
      await applyManifests(cluster!.controlPlane.kubeConfig, traefikManifests({
        namespace: access.controller.namespace, className: access.controller.className, ports, image: traefik,
      }), { fieldManager: 'nautilus-test-cluster' });
      const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
      const pod = () => core.readNamespacedPod({ name: 'traefik', namespace: access.controller.namespace });
      traefikAddress = await waitUntil('the Traefik pod did not become Ready', 60_000,
        async () => { const p = await pod(); return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p.status.podIP : undefined; },
        async () => `its status: ${JSON.stringify((await pod()).status?.containerStatuses)}`);
      await waitUntil('Traefik did not accept the HTTPRoute https-redirect', 30_000,
        async () => ((await gatewayObject('httproutes', 'https-redirect')).status?.parents?.some((p) => holds(p.conditions, 'Accepted')) ? true : undefined));
      for (const host of edge.hosts) {
        const answer = await waitUntil(`HTTP on ${host} was not redirected`, 10_000, async () => {
          const got = await edgeGet(`http://${host}:${ports.http}/health/ready?from=test`, traefikAddress);
          return got.status === 301 ? got : undefined;
        });
        expect({ host, location: answer.headers.location }).toEqual({ host, location: `https://${host}/health/ready?from=test` });
      }
    }, COLD_BUILDS_TIMEOUT_MS);

    test('cert-manager gets dev\'s certificate from a real ACME server (Pebble) over HTTP-01, its solver pods answering through Traefik, for exactly the routes\' hosts', async () => {
      // Cold, the programs may still be building (see the first hook).
      const [solverImage] = await Promise.all([acmeSolverImage(), ensureAcmeServer()]);
      const started = Date.now();
      const network = { wrap: (command: readonly string[]) => cluster!.node.inNetwork(command), address: cluster!.node.address };
      const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
      // The names resolve to Traefik's Service, as public DNS resolves them to its load balancer.
      const service = await core.readNamespacedService({ name: 'traefik', namespace: access.controller.namespace });
      acmeServer = await startAcmeServer(network, service.spec!.clusterIP!);
      await cluster!.node.importImages([solverImage]);
      certManager = await startCertManager(cluster!.controlPlane, {
        network, gatewayApi: true, acme: { solverImage, nameservers: [acmeServer.nameserver], trustedCaFile: acmeServer.trustedCaFile },
      });
      const certificate = () => custom().getNamespacedCustomObject({
        group: 'cert-manager.io', version: 'v1', namespace: edge.namespace, plural: 'certificates', name: edge.certificate.name,
      }) as Promise<{ status?: { conditions?: Condition[] } }>;
      // Each challenge's solver: a pod cert-manager starts and an HTTPRoute on the Gateway's HTTP listener.
      const solversSeen = new Set<string>();
      await waitUntil(`Certificate ${edge.namespace}/${edge.certificate.name} did not become Ready`, 120_000, async () => {
        const pods = (await core.listNamespacedPod({ namespace: edge.namespace, labelSelector: 'acme.cert-manager.io/http01-solver=true' })).items;
        for (const solver of pods) if (solver.status?.phase === 'Running') solversSeen.add(solver.metadata!.name!);
        return holds((await certificate()).status?.conditions, 'Ready') ? true : undefined;
      }, async () => {
        const challenges = await custom().listNamespacedCustomObject({ group: 'acme.cert-manager.io', version: 'v1', namespace: edge.namespace, plural: 'challenges' }) as { items: Array<{ spec: { dnsName: string }; status?: unknown }> };
        return `its status: ${JSON.stringify((await certificate()).status)}; challenges: ${JSON.stringify(challenges.items.map((c) => ({ name: c.spec.dnsName, status: c.status })))}; `
          + `cert-manager's log ends: ${certManager!.log().trim().split('\n').slice(-4).join(' | ')}; Pebble's: ${acmeServer!.log().trim().split('\n').slice(-4).join(' | ')}`;
      });
      const seconds = (Date.now() - started) / 1000;
      expect(solversSeen.size).toBeGreaterThanOrEqual(1);
      const secret = await core.readNamespacedSecret({ name: edge.certificate.secretName, namespace: edge.namespace });
      const chain = Buffer.from(secret.data!['tls.crt'], 'base64').toString().split(/(?<=-----END CERTIFICATE-----)\s*/).filter((pem) => pem.trim() !== '');
      const [leaf, ...intermediates] = chain.map((pem) => new X509Certificate(pem));
      issuedFingerprint = leaf.fingerprint256;
      rootCa = await acmeServer.issuingRoot();
      const root = new X509Certificate(rootCa);
      expect(leaf.subjectAltName?.split(', ').sort()).toEqual(edge.hosts.map((host) => `DNS:${host}`));
      // The leaf chains to Pebble's root of this run through the intermediates it sent.
      expect([leaf, ...intermediates].every((cert, i, all) => cert.checkIssued(all[i + 1] ?? root))).toBe(true);
      // The solvers are gone once the certificate is issued.
      await waitUntil('the HTTP-01 solver pods were not removed', 30_000, async () => ((await core.listNamespacedPod({
        namespace: edge.namespace, labelSelector: 'acme.cert-manager.io/http01-solver=true',
      })).items.length === 0 ? true : undefined));
      process.stderr.write(`dev's edge: certificate for ${edge.hosts.join(', ')} issued through ACME HTTP-01 (Pebble ${EDGE_VERSIONS.pebble}, ${solversSeen.size} solver pod(s) through Traefik) `
        + `${seconds.toFixed(1)} s after the ACME server started\n`);
    }, COLD_BUILDS_TIMEOUT_MS);

    test('Traefik programs the Gateway\'s HTTPS listeners with the issued certificate and accepts every generated HTTPRoute', async () => {
      // Traefik answers with a default certificate of its own until it has read the Secret.
      const served = (host: string) => new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: traefikAddress, port: ports.https, servername: host, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        });
        socket.on('error', reject);
      });
      for (const host of edge.hosts) {
        await waitUntil(`Traefik did not serve the issued certificate for ${host}`, 30_000,
          async () => ((await served(host)) === issuedFingerprint ? true : undefined), async () => `it serves ${await served(host)}, issued ${issuedFingerprint}`);
      }
      await waitUntil(`Gateway ${edge.namespace}/${edge.gatewayName} was not Programmed by Traefik`, 30_000,
        async () => (holds((await gatewayObject('gateways', edge.gatewayName)).status?.conditions, 'Programmed') ? true : undefined),
        async () => `its status: ${JSON.stringify((await gatewayObject('gateways', edge.gatewayName)).status)}`);
      const routes = ['https-redirect', ...edge.routes.map((route) => route.engine)];
      const parents = await Promise.all(routes.map(async (name) => ({ name, parents: await waitUntil(`HTTPRoute ${name} has no status from Traefik`, 30_000,
        async () => (await gatewayObject('httproutes', name)).status?.parents?.filter((parent) => parent.controllerName === TRAEFIK_CONTROLLER_NAME).length
          ? (await gatewayObject('httproutes', name)).status!.parents! : undefined) })));
      expect(parents.map(({ name, parents: [parent] }) => ({ name, accepted: holds(parent.conditions, 'Accepted'), resolvedRefs: holds(parent.conditions, 'ResolvedRefs') })))
        .toEqual(routes.map((name) => ({ name, accepted: true, resolvedRefs: true })));
    });

    test('HTTPS reaches each public engine under its path with the issued certificate: the frontend under /, the backend under /api', async () => {
      const unmatched = (engine: string) => engineMetric(engine, edge.namespace, 'nautilus_http_requests_total', { path: 'unmatched', status: '404' });
      const before = { frontend: await unmatched('frontend'), backend: await unmatched('backend') };
      // A probe path is served by the frontend (the / route): the engine's own answer, through Traefik.
      const ready = await edgeGet(`https://${appHost}:${ports.https}/health/ready`, traefikAddress, rootCa);
      expect({ status: ready.status, body: JSON.parse(ready.body).status }).toEqual({ status: 200, body: 'ready' });
      expect(ready.certificate?.subjectaltname?.split(', ').sort()).toEqual(edge.hosts.map((host) => `DNS:${host}`));
      // Paths no engine serves are answered 404 by the runtime (JSON), not by Traefik (text): each
      // engine counts what it got, so the routing is read on the engines' side.
      for (const url of [`https://${appHost}:${ports.https}/portfolio`, `https://${appHost}:${ports.https}/api/orders`, `https://${appHost}:${ports.https}/api/orders/17`]) {
        const answer = await edgeGet(url, traefikAddress, rootCa);
        expect({ url, status: answer.status, body: answer.body }).toEqual({ url, status: 404, body: JSON.stringify({ error: 'not found' }) });
      }
      await waitUntil('the engines did not count the requests routed to them', 10_000, async () => {
        const after = { frontend: await unmatched('frontend'), backend: await unmatched('backend') };
        return after.frontend - before.frontend === 1 && after.backend - before.backend === 2 ? true : undefined;
      }, async () => `frontend ${await unmatched('frontend') - before.frontend}, backend ${await unmatched('backend') - before.backend} (expected 1 and 2)`);
      // Only the issued certificate's root is trusted: a client without it refuses the edge.
      await expect(edgeGet(`https://${appHost}:${ports.https}/health/ready`, traefikAddress)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/);
    });

    test(`a WebSocket to ${streamRoute.host} upgrades through Traefik to the websocket engine, which sees Traefik's pod as its peer`, async () => {
      const opened = (await engineMetric('websocket', edge.namespace, 'nautilus_websocket_connections'));
      heldSocket = await new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(`wss://${streamRoute.host}:${ports.https}${streamRoute.pathPrefix}`, { ca: rootCa, lookup: resolveTo(traefikAddress), handshakeTimeout: 5000 } as never);
        socket.once('open', () => resolve(socket));
        socket.once('unexpected-response', (_request, response) => reject(new Error(`the upgrade was answered ${response.statusCode}`)));
        socket.once('error', reject);
      });
      heldSince = Date.now();
      const pong = new Promise<string>((resolve) => heldSocket!.once('pong', (data) => resolve(data.toString())));
      heldSocket.ping('through-traefik');
      expect(await pong).toBe('through-traefik');
      expect(await engineMetric('websocket', edge.namespace, 'nautilus_websocket_connections')).toBe(opened + 1);
      const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
      const [pod] = (await core.listNamespacedPod({ namespace: edge.namespace, labelSelector: 'app.kubernetes.io/name=websocket' })).items.filter((p) => p.status?.phase === 'Running');
      const log = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: edge.namespace, container: pod.spec!.containers[0].name });
      const peers = log.split('\n').flatMap((line) => { try { const entry = JSON.parse(line); return entry.msg === 'websocket opened' ? [String(entry.peer).replace(/^::ffff:/, '')] : []; } catch { return []; } });
      expect(peers).toContain(traefikAddress);
    });
  });

  test('NetworkPolicies are enforced: every flow the catalog declares connects, every other flow is refused', async () => {
    const started = Date.now();
    const core = cluster!.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    // A probe pod in each namespace that is not the platform's: the monitoring and ingress
    // namespaces the environment names, and one the platform knows nothing of.
    const probeImage = images.find((i) => i.includes('/nautilus/'))!;
    const roles = { monitoring: environment.monitoringNamespace, ingress: environment.externalAccess.controller.namespace, unrelated: 'nautilus-unrelated' } as const;
    await applyManifests(cluster!.controlPlane.kubeConfig, Object.values(roles).flatMap((namespace) => [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'flow-probe', namespace },
        spec: {
          tolerations: [{ operator: 'Exists' }],
          securityContext: { runAsNonRoot: true, runAsUser: ENGINE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'probe', image: probeImage, imagePullPolicy: 'Never', command: ['sleep', 'infinity'],
            resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
          }],
        },
      },
    ]), { fieldManager: 'nautilus-test-cluster' });
    const probePods = await Promise.all(Object.entries(roles).map(async ([role, namespace]) => {
      for (let attempt = 0; ; attempt++) {
        const pod = await core.readNamespacedPod({ name: 'flow-probe', namespace });
        if (pod.status?.containerStatuses?.[0]?.state?.running) return { role: role as keyof typeof roles, pod };
        if (attempt > 120) throw new Error(`probe pod in ${namespace} did not start: ${JSON.stringify(pod.status)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }));

    const stores = Object.values(PLATFORM_DATA_STORES);
    const sources: FlowSource[] = [
      ...(await platformPods()).map((pod): FlowSource => {
        const name = pod.metadata!.labels!['app.kubernetes.io/name'];
        const engine = PLATFORM_ENGINES.find((e) => e.name === name);
        const store = stores.find((s) => s.name === name);
        if (!engine && !store) throw new Error(`pod ${pod.metadata?.namespace}/${pod.metadata?.name} runs neither an engine nor a store`);
        return { name, pod, workload: engine ? { kind: 'engine', spec: engine } : { kind: 'store', spec: store! } };
      }),
      ...probePods.map(({ role, pod }): FlowSource => ({ name: `${pod.metadata!.namespace}/*`, pod, role })),
    ];
    const { flows, skipped } = expectedFlows(environment, stores, sources, {
      dns: { address: '10.0.0.10', port: 53 }, apiServer: { address: '10.0.0.1', port: 443 },
    });
    const target = (flow: Flow) => (flow.destination.name === 'kube-dns' ? 'dns' : `${flow.destination.address}:${flow.destination.port}`);

    // Every destination listens: from the node itself (admitted by policy) each pod port answers,
    // so a refusal below is the policy's, not a closed port.
    const podTargets = [...new Set(flows.filter((f) => !['kube-dns', 'kube-apiserver'].includes(f.destination.name)).map(target))];
    const listening = probeFromNode((command) => cluster!.node.exec(command), podTargets, 3);
    expect(podTargets.filter((t) => !listening.has(t))).toEqual([]);

    const containerOf = (source: FlowSource) => {
      const main = source.pod.spec!.containers[0].name;
      const id = source.pod.status?.containerStatuses?.find((c) => c.name === main)?.containerID ?? '';
      return id.replace(/^containerd:\/\//, '');
    };
    const probe = async (batch: readonly Flow[], timeoutSeconds: number): Promise<Flow[]> => {
      const bySource = new Map<FlowSource, Flow[]>();
      for (const flow of batch) bySource.set(flow.source, [...(bySource.get(flow.source) ?? []), flow]);
      const wrong: Flow[] = [];
      const entries = [...bySource.entries()];
      // Four pods at a time: each probes all its destinations at once.
      for (let i = 0; i < entries.length; i += 4) {
        await Promise.all(entries.slice(i, i + 4).map(async ([source, sourceFlows]) => {
          const connected = await probeFromContainer(cluster!.node, containerOf(source), [...new Set(sourceFlows.map(target))], timeoutSeconds);
          wrong.push(...sourceFlows.filter((flow) => connected.has(target(flow)) !== flow.allowed));
        }));
      }
      return wrong;
    };
    // The enforcer renders a new pod's rules when it sees the pod: a mismatch is probed again
    // before it counts, with a longer wait for a connection.
    let mismatches = await probe(flows, 2);
    for (let retry = 0; retry < 2 && mismatches.length > 0; retry++) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      mismatches = await probe(mismatches, 5);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const allowed = flows.filter((f) => f.allowed).length;
    process.stderr.write(`NetworkPolicy flow matrix of dev: ${flows.length} flows from ${new Set(flows.map((f) => f.source.name)).size} sources probed in ${seconds} s `
      + `(${allowed} declared, connected; ${flows.length - allowed} undeclared, refused); ${skipped.length} host-network flows not claimed\n`);
    expect(mismatches.map((f) => `${f.source.name} -> ${f.destination.name} ${f.destination.address}:${f.destination.port}: `
      + `expected ${f.allowed ? 'to connect' : 'to be refused'} (${f.because}), was ${f.allowed ? 'refused' : 'connected'}`)).toEqual([]);
    // The matrix covers what the issue names: stores to engines, the data namespace, unrelated namespaces, engines to undeclared stores.
    const refused = flows.filter((f) => !f.allowed);
    expect(refused.some((f) => f.source.workload?.kind === 'store' && f.destination.name !== 'kube-apiserver')).toBe(true);
    expect(refused.some((f) => f.source.role === 'unrelated')).toBe(true);
    expect(refused.some((f) => f.source.workload?.kind === 'engine' && stores.some((s) => s.name === f.destination.name))).toBe(true);
    expect(flows.some((f) => f.allowed && f.source.role === 'monitoring')).toBe(true);
    expect(flows.some((f) => f.allowed && f.source.role === 'ingress')).toBe(true);
  });

  test('a broken engine image fails the deploy with the kubelet\'s reason and the container\'s last lines, naming the engine', async () => {
    // A copy of risk-engine's image whose entrypoint names a file that is not there.
    const good = images.find((i) => i.includes('/nautilus/risk-engine:'))!;
    const broken = good.replace(/:sha-[0-9a-f]+$/, ':sha-0000000000000bad');
    const container = spawnSync('buildah', ['from', '--pull=never', good], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF } }).stdout.trim();
    spawnSync('buildah', ['config', '--entrypoint', '["node", "/app/risk-engine/missing.js"]', container], { env: { ...process.env, CONTAINERS_CONF } });
    expect(spawnSync('buildah', ['commit', '--rm', container, broken], { env: { ...process.env, CONTAINERS_CONF } }).status).toBe(0);
    await cluster!.node.importImages([broken]);
    // The environment's engines file with risk-engine's image swapped, as a bad build would leave it.
    const enginesFile = path.join(distRoot, 'dist', 'dev', '0004-engines.yaml');
    fs.writeFileSync(enginesFile, fs.readFileSync(enginesFile, 'utf8').split(good).join(broken));

    const { io, out } = cliIo();
    const code = await runCli(['deploy', 'dev', '--dist', path.join(distRoot, 'dist'), '--timeout', '30', '--yes'], io);
    expect(code).toBe(1);
    expect(out.stderr).toMatch(/Deployment nautilus-latency\/risk-engine/);
    // The kubelet's reason: the back-off, and how the container's last run ended.
    expect(out.stderr).toMatch(/Back-off restarting failed container risk-engine/);
    expect(out.stderr).toMatch(/container risk-engine: (waiting: CrashLoopBackOff \(back-off [^\n]*\)|terminated: Error), \d+ restart\(s\); last run ended Error with exit code 1/);
    expect(out.stderr).toMatch(/Cannot find module '\/app\/risk-engine\/missing\.js'/);
    spawnSync('buildah', ['rmi', broken], { env: { ...process.env, CONTAINERS_CONF } });
  });

  test('the WebSocket through Traefik stayed open for over a minute without traffic, and still carries frames', async () => {
    if (!heldSocket) throw new Error('no WebSocket was opened through Traefik (see the test above)');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, heldSince + HOLD_MS - Date.now())));
    expect({ state: heldSocket.readyState, heldSeconds: Math.round((Date.now() - heldSince) / 1000) >= HOLD_MS / 1000 }).toEqual({ state: WebSocket.OPEN, heldSeconds: true });
    const pong = new Promise<string>((resolve) => heldSocket!.once('pong', (data) => resolve(data.toString())));
    heldSocket.ping('still-open');
    expect(await pong).toBe('still-open');
    const closed = new Promise<number>((resolve) => heldSocket!.once('close', (code) => resolve(code)));
    heldSocket.close(1000, 'done');
    expect(await closed).toBe(1000);
    expect(await engineMetric('websocket', edge.namespace, 'nautilus_websocket_closed_total', { reason: 'idle' })).toBe(0);
  });

  test('stopping the node leaves nothing behind: processes, mounts, interfaces, rules, ipsets, cgroups, kernel settings', async () => {
    const { workDir, cgroupRoot } = cluster!.node;
    // While it runs, its link and cgroups exist: the checks below can see them.
    expect(machineState().links).toContain(`nautilus-n${fs.readFileSync(path.join(workDir, 'slot'), 'utf8').trim()}`);
    expect(leftovers(workDir, cgroupRoot).some((line) => line.startsWith('cgroup'))).toBe(true);
    await certManager?.stop();
    await acmeServer?.stop();
    await rollouts?.stop();
    await binder?.stop();
    await cluster!.stop();
    expect(leftovers(workDir, cgroupRoot)).toEqual([]);
    expect(machineState()).toEqual(machineBefore);
  });
});
