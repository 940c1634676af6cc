import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { ensureCachedBuild } from './binaries';
import { ControlPlane, freePorts } from './control-plane';
import { HostProcess, messageOf, statusOf } from './support/host-process';

/**
 * The edge's and the secret manager's real programs, run on this machine beside a test control
 * plane as host processes (as kube-controller-manager is): a Vault server in dev mode, the External
 * Secrets Operator's controller and cert-manager's controller, each built from the Go module proxy
 * by its script in scripts/edge/ and cached by version. Each resolves once it serves; on failure
 * everything it started is stopped and one error names the program, its version, the time it was
 * given, why, and the last error line of its log. Call `stop()` (e.g. in `afterAll`); exit and
 * signal handlers and a watchdog process also kill it if the test process dies first.
 */

/** The versions the scripts build (and cache under); bump both together. */
export const EDGE_VERSIONS = { vault: 'v1.21.2', externalSecrets: 'v0.16.2', certManager: 'v1.21.2', pebble: 'v2.10.3' } as const;

const SCRIPTS = path.resolve(__dirname, '..', '..', 'scripts', 'edge');
const DEFAULT_START_TIMEOUT_MS = 60_000;

/** The build of each program, run when its cache lacks it (with progress on stderr). */
const BUILDS = {
  vault: () => ensureCachedBuild(path.join(SCRIPTS, 'build-vault.sh'), `Vault ${EDGE_VERSIONS.vault}`),
  externalSecrets: () => ensureCachedBuild(path.join(SCRIPTS, 'build-external-secrets.sh'), `the External Secrets Operator ${EDGE_VERSIONS.externalSecrets}`),
  certManager: () => ensureCachedBuild(path.join(SCRIPTS, 'build-cert-manager.sh'), `cert-manager ${EDGE_VERSIONS.certManager}`),
} as const;
const buildPebble = () => ensureCachedBuild(path.join(SCRIPTS, 'build-pebble.sh'), `Pebble ${EDGE_VERSIONS.pebble}`);

/** Builds Pebble when the cache lacks it (for a build hook; {@link startAcmeServer} would otherwise). */
export async function ensureAcmeServer(): Promise<void> {
  await buildPebble();
}

/**
 * Where a program runs when not on the machine's own network: a real node's network namespace
 * (its loopback, its cluster DNS and Service addresses through kube-proxy), everything else of it
 * on the machine. `address` is how the machine reaches it there.
 */
export interface NetworkNamespace {
  /** The command run in that network namespace (`nsenter --net ... -- command`). */
  readonly wrap: (command: readonly string[]) => string[];
  readonly address: string;
}

/**
 * Builds every program of this file that the cache lacks, one after the other (each build uses both
 * cores): a test calls it in a hook of its own, so a cold cache's minutes of compiling do not count
 * against the programs' start-up bounds.
 */
export async function ensureEdgePrograms(): Promise<void> {
  for (const build of Object.values(BUILDS)) await build();
}

/** A running program: its log, and how to stop it. */
export interface RunningProgram {
  readonly logPath: string;
  log(): string;
  stop(): Promise<void>;
}

/** A Vault server in dev mode: in memory, unsealed, KV version 2 mounted at `secret/`, one root token. */
export interface VaultServer extends RunningProgram {
  /** `http://127.0.0.1:<port>`. */
  readonly address: string;
  /** Calls Vault's HTTP API as root: `request('POST', '/v1/sys/auth/jwt', { type: 'jwt' })`. Throws on a status of 400 or more. */
  request(method: string, apiPath: string, body?: unknown): Promise<unknown>;
}

/**
 * Starts `vault server -dev` on a free loopback port and resolves once it reports itself
 * initialized, unsealed and active (`/v1/sys/health` answers 200).
 */
export async function startVault(options: { readonly keepWorkDir?: boolean } = {}): Promise<VaultServer> {
  const binary = path.join(await BUILDS.vault(), 'bin', 'vault');
  const [port] = await freePorts(1);
  const address = `http://127.0.0.1:${port}`;
  const token = randomBytes(16).toString('hex');
  return startProgram('vault', `Vault ${EDGE_VERSIONS.vault}`, options.keepWorkDir ?? false, {}, async (program, deadline) => {
    program.start(binary, ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, `-dev-root-token-id=${token}`, '-dev-no-store-token']);
    await program.waitFor('/v1/sys/health to answer 200 (initialized, unsealed, active)', deadline, async () => (await statusOf(`${address}/v1/sys/health`)) === 200);
    const request = async (method: string, apiPath: string, body?: unknown): Promise<unknown> => {
      const response = await fetch(`${address}${apiPath}`, {
        method, headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status >= 400) throw new Error(`Vault ${method} ${apiPath} answered ${response.status}: ${text}`);
      return text === '' ? undefined : JSON.parse(text);
    };
    return { address, request };
  });
}

/**
 * Configures `vault` to let the cluster's service account tokens log in, as the environment's
 * secret settings expect: a JWT auth method at `mountPath` trusting the API server's signing key
 * and issuer, a role bound to `subject` and `audience`, and a policy reading `<mount>/<pathPrefix>/*`.
 */
export async function trustClusterTokens(vault: VaultServer, controlPlane: ControlPlane, settings: {
  readonly mountPath: string; readonly role: string; readonly audience: string; readonly subject: string; readonly mount: string; readonly pathPrefix: string;
}): Promise<void> {
  await vault.request('POST', `/v1/sys/auth/${settings.mountPath}`, { type: 'jwt' });
  await vault.request('POST', `/v1/auth/${settings.mountPath}/config`, {
    jwt_validation_pubkeys: [fs.readFileSync(controlPlane.serviceAccountTokens.publicKeyFile, 'utf8')],
    bound_issuer: controlPlane.serviceAccountTokens.issuer,
  });
  const policy = `path "${settings.mount}/data/${settings.pathPrefix}/*" { capabilities = ["read"] }`;
  await vault.request('PUT', `/v1/sys/policies/acl/${settings.role}`, { policy });
  await vault.request('POST', `/v1/auth/${settings.mountPath}/role/${settings.role}`, {
    role_type: 'jwt', user_claim: 'sub', bound_subject: settings.subject, bound_audiences: [settings.audience], token_policies: [settings.role], token_ttl: '10m',
  });
}

/** Writes a KV version 2 entry: `<mount>/<key>` with `data` as its properties. */
export async function writeVaultEntry(vault: VaultServer, mount: string, key: string, data: Readonly<Record<string, string>>): Promise<void> {
  await vault.request('POST', `/v1/${mount}/data/${key}`, { data });
}

/**
 * Starts the External Secrets Operator's core controller (no webhook, no certificate controller:
 * the CRDs are installed without conversion webhooks) as the control plane's admin, and resolves
 * once its metrics endpoint answers and its controllers have started their workers.
 */
export async function startExternalSecrets(controlPlane: ControlPlane, options: { readonly keepWorkDir?: boolean } = {}): Promise<RunningProgram> {
  const dir = await BUILDS.externalSecrets();
  const [metricsPort] = await freePorts(1);
  // controller-runtime reads the cluster from KUBECONFIG.
  return startProgram('external-secrets', `the External Secrets Operator ${EDGE_VERSIONS.externalSecrets}`, options.keepWorkDir ?? false,
    { KUBECONFIG: controlPlane.kubeconfigPath }, async (program, deadline) => {
      program.start(path.join(dir, 'bin', 'external-secrets'), [
        `--metrics-addr=127.0.0.1:${metricsPort}`, '--enable-leader-election=false', '--concurrent=4', '--loglevel=info',
        // Refresh a store's status every few seconds rather than every 5 minutes, so a test sees it.
        '--store-requeue-interval=5s',
      ]);
      await program.waitFor('/metrics to answer 200', deadline, async () => (await statusOf(`http://127.0.0.1:${metricsPort}/metrics`)) === 200);
      await program.waitFor('its ExternalSecret controller to start its workers', deadline,
        async () => /Starting workers.*"controller":\s*"externalsecret"|"controller":"externalsecret".*Starting workers/.test(program.log()));
      return {};
    });
}

/** A lookup sending every hostname to `address` (for a client that must ask for a name the machine cannot resolve). */
export function resolveTo(address: string): https.RequestOptions['lookup'] {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => (options.all
    ? callback(null, [{ address, family: 4 }])
    : callback(null, address, 4))) as unknown as https.RequestOptions['lookup'];
}

/** How cert-manager's ACME issuers work where the test runs one: what their solver pods run, and whom they trust. */
export interface AcmeSettings {
  /** The image of the HTTP-01 solver pods (see {@link acmeSolverImage}). */
  readonly solverImage: string;
  /** The DNS servers (host:port) its HTTP-01 self-checks resolve the challenged names with. */
  readonly nameservers: readonly string[];
  /** A PEM file of the CA the ACME server's TLS certificate chains to (the machine trusts none of a test server's). */
  readonly trustedCaFile: string;
}

/**
 * Starts cert-manager's controller (every default controller but Venafi's, scripts/edge/go/cert-manager)
 * as the control plane's admin, and resolves once its metrics endpoint answers. With `network` it
 * runs in that network namespace; with `acme` its ACME issuers' HTTP-01 solvers work there;
 * `gatewayApi` lets HTTP-01 solvers be HTTPRoutes on a Gateway.
 */
export async function startCertManager(controlPlane: ControlPlane, options: {
  readonly keepWorkDir?: boolean; readonly network?: NetworkNamespace; readonly acme?: AcmeSettings; readonly gatewayApi?: boolean;
} = {}): Promise<RunningProgram & { readonly metricsUrl: string }> {
  const dir = await BUILDS.certManager();
  const [metricsPort] = await freePorts(1);
  const address = options.network?.address ?? '127.0.0.1';
  const metricsUrl = `http://${address}:${metricsPort}/metrics`;
  const { acme } = options;
  // Go reads SSL_CERT_FILE for the trusted roots: the ACME server's CA, and nothing else.
  const env: Record<string, string> = acme ? { SSL_CERT_FILE: acme.trustedCaFile } : {};
  return startProgram('cert-manager-controller', `cert-manager ${EDGE_VERSIONS.certManager}`, options.keepWorkDir ?? false, env, async (program, deadline) => {
    const [binary, ...args] = (options.network?.wrap ?? ((command) => [...command]))([
      path.join(dir, 'bin', 'cert-manager-controller'),
      `--kubeconfig=${controlPlane.kubeconfigPath}`, '--leader-elect=false', `--metrics-listen-address=${address}:${metricsPort}`, '--cluster-resource-namespace=kube-system',
      ...(options.gatewayApi ? ['--enable-gateway-api'] : []),
      ...(acme ? [`--acme-http01-solver-image=${acme.solverImage}`, `--acme-http01-solver-nameservers=${acme.nameservers.join(',')}`] : []),
    ]);
    program.start(binary, args);
    await program.waitFor('/metrics to answer 200', deadline, async () => (await statusOf(metricsUrl)) === 200);
    return { metricsUrl };
  });
}

/** cert-manager's HTTP-01 solver binary (built with the controller): for an image of the solver pods. */
export async function acmeSolverBinary(): Promise<string> {
  return path.join(await BUILDS.certManager(), 'bin', 'acmesolver');
}

/** An ACME server (Pebble, Let's Encrypt's test server) and the DNS server it and cert-manager resolve challenged names with. */
export interface AcmeServer extends RunningProgram {
  /** The ACME directory URL, as the issuer names it: `https://localhost:<port>/dir` in the network it runs in. */
  readonly directoryUrl: string;
  /** `host:port` of the test DNS server, which answers every A query with `answer`. */
  readonly nameserver: string;
  /** The ACME server's TLS certificate (for localhost and 127.0.0.1, its own CA, made at start), a PEM file to trust. */
  readonly trustedCaFile: string;
  /** The PEM of the root Pebble signs certificates under (new at each start). */
  issuingRoot(): Promise<string>;
}

/** Fixed ports: each runs alone in the network namespace it is given. */
const PEBBLE_PORTS = { acme: 14000, management: 15000, dns: 8053, dnsManagement: 8055 } as const;

/**
 * Starts Pebble v2 with its test DNS server (pebble-challtestsrv) in `network`: every name resolves
 * to `answer` (where the challenged hosts' traffic is to go, e.g. the edge controller's Service),
 * HTTP-01 is validated on port 80, as an ACME authority validates it, without Pebble's random
 * delays and refused nonces. Resolves once the directory answers.
 */
export async function startAcmeServer(network: NetworkNamespace, answer: string, options: { readonly keepWorkDir?: boolean } = {}): Promise<AcmeServer> {
  const dir = await buildPebble();
  const dns = await startProgram('pebble-challtestsrv', `pebble-challtestsrv ${EDGE_VERSIONS.pebble}`, options.keepWorkDir ?? false, {}, async (program, deadline) => {
    const [binary, ...args] = network.wrap([path.join(dir, 'bin', 'pebble-challtestsrv'),
      '-dnsserver', `:${PEBBLE_PORTS.dns}`, '-management', `${network.address}:${PEBBLE_PORTS.dnsManagement}`, '-defaultIPv4', answer, '-defaultIPv6', '',
      '-http01', '', '-https01', '', '-doh', '', '-tlsalpn01', '']);
    program.start(binary, args);
    // Its management API starts after its DNS server: any answer there means both serve.
    await program.waitFor('its management API to answer', deadline, async () => (await statusOf(`http://${network.address}:${PEBBLE_PORTS.dnsManagement}/`)) > 0);
    return {};
  });
  try {
    const pebble = await startProgram('pebble', `Pebble ${EDGE_VERSIONS.pebble}`, options.keepWorkDir ?? false,
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' }, async (program, deadline) => {
        // Its API's TLS certificate, made for this run (a day, for localhost and 127.0.0.1, its own
        // CA): what the issuer's clients are given to trust.
        const certificate = path.join(program.workDir, 'api-cert.pem');
        const privateKey = path.join(program.workDir, 'api-key.pem');
        const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
          '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE',
          '-keyout', privateKey, '-out', certificate], { encoding: 'utf8' });
        if (made.status !== 0) throw new Error(`openssl could not make the ACME API's certificate: ${made.stderr}`);
        const config = path.join(program.workDir, 'pebble-config.json');
        fs.writeFileSync(config, JSON.stringify({
          pebble: {
            listenAddress: `0.0.0.0:${PEBBLE_PORTS.acme}`, managementListenAddress: `0.0.0.0:${PEBBLE_PORTS.management}`,
            certificate, privateKey,
            httpPort: 80, tlsPort: 443, ocspResponderURL: '', externalAccountBindingRequired: false,
          },
        }));
        const [binary, ...args] = network.wrap([path.join(dir, 'bin', 'pebble'), '-config', config, '-dnsserver', `127.0.0.1:${PEBBLE_PORTS.dns}`, '-strict']);
        program.start(binary, args);
        await program.waitFor('it to listen', deadline, async () => program.log().includes(`Listening on: 0.0.0.0:${PEBBLE_PORTS.acme}`));
        return { trustedCaFile: certificate };
      });
    const { trustedCaFile } = pebble;
    const ca = fs.readFileSync(trustedCaFile, 'utf8');
    return {
      directoryUrl: `https://localhost:${PEBBLE_PORTS.acme}/dir`,
      nameserver: `127.0.0.1:${PEBBLE_PORTS.dns}`,
      trustedCaFile,
      logPath: pebble.logPath,
      log: () => `${pebble.log()}\n${dns.log()}`,
      stop: async () => { await Promise.all([pebble.stop(), dns.stop()]); },
      issuingRoot: () => new Promise((resolve, reject) => {
        // The management API serves with the same localhost certificate: asked for by that name, at the namespace's address.
        const request = https.get(`https://localhost:${PEBBLE_PORTS.management}/roots/0`, {
          ca, agent: false, lookup: resolveTo(network.address),
        }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => { body += chunk.toString(); });
          response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`Pebble's /roots/0 answered ${response.statusCode}: ${body}`))));
        });
        request.on('error', reject);
      }),
    };
  } catch (error) {
    await dns.stop();
    throw error;
  }
}

/**
 * Starts one program in a directory of its own: `run` starts it and waits until it serves. A
 * failure stops it and names it, the time it was given, why, and the last error line of its log.
 */
async function startProgram<T extends object>(
  name: string, what: string, keepWorkDir: boolean, env: Readonly<Record<string, string>>,
  run: (program: HostProcess, deadline: number) => Promise<T>,
): Promise<RunningProgram & T> {
  const started = Date.now();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `nautilus-${name}-`));
  const program = new HostProcess(name, workDir, keepWorkDir, env);
  try {
    const extra = await run(program, started + DEFAULT_START_TIMEOUT_MS);
    return { ...extra, logPath: program.logPath, log: () => program.log(), stop: () => program.stop() };
  } catch (error) {
    const log = program.pid ? program.log() : undefined;
    await program.stop();
    throw new Error(`${what} (${name}) did not start within ${Math.ceil((Date.now() - started) / 1000)} s: ${messageOf(error)}; `
      + `its log ${keepWorkDir ? `(${program.logPath}) ` : ''}ends: ${log === undefined ? '(not started)' : lastErrorLine(log)}`);
  }
}

/** The line of a log that says why a program stopped: its last error line, or its last line. */
export function lastErrorLine(log: string): string {
  const lines = log.trim().split('\n');
  const errors = lines.filter((line) => /\b(error|fatal|panic)\b|"level":"error"|^E\d{4} /i.test(line));
  return (errors.pop() ?? lines.pop() ?? '').slice(0, 500);
}
