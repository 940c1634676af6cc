import { execFileSync } from 'child_process';
import { randomBytes, X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEV, PROD } from '../../src/environments/platform-environments';
import { EnvironmentSpec, VaultSecrets } from '../../src/environments/environment';
import { planEnvironment } from '../../src/planning/environment-plan';
import { Cluster } from '../../src/deploy/cluster';
import { KubeObject } from '../../src/deploy/objects';
import { preflight } from '../../src/deploy/preflight';
import { SECRETS_READER } from '../../src/planning/secrets';
import { poll } from '../contract/processes';
import { platformInput, synthObjects } from '../support/platform';
import { kubeRequest, ManifestObject, waitForCrdKindsServed } from './apply';
import { ensureControlPlaneBinaries } from './binaries';
import { ControlPlane, startControlPlane } from './control-plane';
import { readCrds } from './dist-manifests';
import {
  RunningProgram, VaultServer, ensureEdgePrograms, startCertManager, startExternalSecrets, startVault, trustClusterTokens, writeVaultEntry,
} from './edge-controllers';
import { applyAll } from './environment-cluster';

/**
 * The generated certificates and external secrets, run by the real controllers: a Vault server,
 * the External Secrets Operator and cert-manager (scripts/edge/), against a test control plane.
 * prod's ExternalSecrets sync every Secret the workloads read (and the company CA's key pair) from
 * Vault through its JWT auth with the reader's service account tokens; cert-manager then issues
 * prod's certificate from that CA, and dev's from its private root.
 */

/** Objects of the rendered environment the controllers act on: the namespaces, the secret store, its reader, the ExternalSecrets, the issuers and certificates. */
const EDGE_KINDS = new Set(['Namespace', 'ClusterSecretStore', 'ExternalSecret', 'Issuer', 'Certificate']);
function edgeObjects(environment: EnvironmentSpec): ManifestObject[] {
  return synthObjects(environment)
    .filter((o) => EDGE_KINDS.has(o.kind) || (o.kind === 'ServiceAccount' && o.metadata.name === SECRETS_READER.name))
    .map(({ file: _file, ...object }) => object as ManifestObject);
}

interface Condition { readonly type: string; readonly status: string; readonly message?: string }
interface LiveObject { readonly metadata: { readonly name: string; readonly namespace?: string }; readonly status?: { readonly conditions?: readonly Condition[] }; readonly data?: Record<string, string>; readonly type?: string }

const SYNC_TIMEOUT_MS = 60_000;
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

describe('certificates and secrets issued and synced by the real controllers', () => {
  let controlPlane: ControlPlane;
  let vault: VaultServer;
  let externalSecrets: RunningProgram;
  let certManager: RunningProgram;
  let workDir: string;
  // prod, with Vault where this test runs it.
  let prod: EnvironmentSpec;
  const values = new Map<string, Record<string, string>>();
  const companyCa: { cert?: string; key?: string } = {};

  const get = async (apiPath: string): Promise<LiveObject | undefined> => {
    const response = await kubeRequest(controlPlane.kubeConfig, apiPath);
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new Error(`GET ${apiPath}: ${response.status} ${response.body}`);
    return JSON.parse(response.body) as LiveObject;
  };
  const ready = (object: LiveObject | undefined) => object?.status?.conditions?.find((c) => c.type === 'Ready');
  const decoded = (secret: LiveObject) => Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

  beforeAll(async () => {
    // A cold cache compiles Kubernetes, Vault, the operator and cert-manager (about 17 minutes on
    // 2 cores): that must not count against any start-up bound below.
    await ensureControlPlaneBinaries();
    await ensureEdgePrograms();
  }, BUILD_TIMEOUT_MS);

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-edge-test-'));
    controlPlane = await startControlPlane();
    const crds = readCrds().filter((crd) => /cert-manager\.io|external-secrets\.io/.test(String((crd.spec as { group?: string }).group)));
    const report = await applyAll(controlPlane.kubeConfig, crds);
    expect(report.errors).toEqual([]);
    await waitForCrdKindsServed(controlPlane.kubeConfig, crds);
    vault = await startVault();
    prod = { ...PROD, secrets: { ...(PROD.secrets as VaultSecrets), server: vault.address } };
  }, 300_000);

  afterAll(async () => {
    await Promise.all([certManager?.stop(), externalSecrets?.stop(), vault?.stop()]);
    await controlPlane?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('every Secret prod\'s workloads read is synced from Vault into each namespace that reads it, with Vault\'s values', async () => {
    const source = prod.secrets as VaultSecrets;
    await trustClusterTokens(vault, controlPlane, {
      mountPath: source.auth.mountPath, role: source.auth.role, audience: source.auth.audience,
      subject: `system:serviceaccount:${SECRETS_READER.namespace}:${SECRETS_READER.name}`, mount: source.mount, pathPrefix: source.pathPrefix,
    });
    // The company CA: what the security team would keep in Vault.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '365',
      '-subj', '/CN=Nautilus test company CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', path.join(workDir, 'ca.key'), '-out', path.join(workDir, 'ca.crt')], { stdio: 'pipe' });
    companyCa.cert = fs.readFileSync(path.join(workDir, 'ca.crt'), 'utf8');
    companyCa.key = fs.readFileSync(path.join(workDir, 'ca.key'), 'utf8');
    // Every entry the summary tells an operator to provision, from the same plan.
    const plan = planEnvironment(platformInput(), prod);
    for (const secret of plan.secrets) {
      const data = secret.type === 'kubernetes.io/tls'
        ? { 'tls.crt': companyCa.cert, 'tls.key': companyCa.key }
        : Object.fromEntries(secret.keys.map((key) => [key, `${key}-${randomBytes(8).toString('hex')}`]));
      values.set(secret.name, data);
      await writeVaultEntry(vault, source.mount, `${source.pathPrefix}/${secret.path}`, data);
    }

    const objects = edgeObjects(prod);
    const applied = await applyAll(controlPlane.kubeConfig, objects.filter((o) => o.kind !== 'Issuer' && o.kind !== 'Certificate'));
    expect(applied.errors).toEqual([]);
    const started = Date.now();
    externalSecrets = await startExternalSecrets(controlPlane);

    const externalSecretObjects = objects.filter((o) => o.kind === 'ExternalSecret');
    expect(externalSecretObjects.length).toBe(plan.secrets.reduce((n, s) => n + s.namespaces.length, 0));
    const store = await poll(async () => {
      const live = await get(`/apis/external-secrets.io/v1/clustersecretstores/nautilus-prod`);
      return ready(live)?.status === 'True' ? live : undefined;
    }, Date.now() + SYNC_TIMEOUT_MS, 250);
    expect(store instanceof Error ? `${store.message}; the store says ${JSON.stringify(ready(await get('/apis/external-secrets.io/v1/clustersecretstores/nautilus-prod')))}` : 'Ready').toBe('Ready');

    for (const object of externalSecretObjects) {
      const { name, namespace } = object.metadata as { name: string; namespace: string };
      const secret = await poll(() => get(`/api/v1/namespaces/${namespace}/secrets/${name}`), Date.now() + SYNC_TIMEOUT_MS, 250);
      const status = ready(await get(`/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets/${name}`));
      expect({ secret: `${namespace}/${name}`, synced: secret instanceof Error ? `${secret.message}: ${status?.message}` : 'yes' }).toEqual({ secret: `${namespace}/${name}`, synced: 'yes' });
      expect(decoded(secret as LiveObject)).toEqual(values.get(name));
      if (name === (PROD.externalAccess.issuer as { secretName: string }).secretName) expect((secret as LiveObject).type).toBe('kubernetes.io/tls');
    }
    console.log(`external secrets: ${externalSecretObjects.length} Secrets synced from Vault ${((Date.now() - started) / 1000).toFixed(1)} s after the operator started`);
  }, 180_000);

  test('a value rotated in Vault reaches every namespace\'s Secret at the next sync', async () => {
    const source = prod.secrets as VaultSecrets;
    const rotated = { password: `password-${randomBytes(8).toString('hex')}` };
    await writeVaultEntry(vault, source.mount, `${source.pathPrefix}/redis-credentials`, rotated);
    const readers = edgeObjects(prod).filter((o) => o.kind === 'ExternalSecret' && o.metadata?.name === 'redis-credentials');
    expect(readers.length).toBe(3);
    for (const object of readers) {
      const namespace = object.metadata?.namespace as string;
      // The operator's own "sync now" (its refresh interval, an hour, is what a real rotation waits).
      const annotate = await kubeRequest(controlPlane.kubeConfig, `/apis/external-secrets.io/v1/namespaces/${namespace}/externalsecrets/redis-credentials`, {
        method: 'PATCH', contentType: 'application/merge-patch+json', body: JSON.stringify({ metadata: { annotations: { 'force-sync': String(Date.now()) } } }),
      });
      expect(annotate.status).toBe(200);
      const updated = await poll(async () => {
        const secret = await get(`/api/v1/namespaces/${namespace}/secrets/redis-credentials`);
        return secret && decoded(secret).password === rotated.password ? secret : undefined;
      }, Date.now() + SYNC_TIMEOUT_MS, 250);
      expect(updated instanceof Error ? `${namespace}: ${updated.message}` : 'rotated').toBe('rotated');
    }
  }, 120_000);

  test('an entry missing from Vault: its ExternalSecret reports it, and nautilus preflight names the entry to provision', async () => {
    const source = prod.secrets as VaultSecrets;
    const name = 'fix-gateway-credentials';
    const externalSecret: ManifestObject = {
      apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name, namespace: 'nautilus-engines' },
      spec: {
        refreshInterval: '1h', secretStoreRef: { kind: 'ClusterSecretStore', name: 'nautilus-prod' }, target: { name },
        data: [{ secretKey: 'password', remoteRef: { key: `${source.pathPrefix}/${name}`, property: 'password' } }],
      },
    };
    const reader: ManifestObject = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'fix-gateway', namespace: 'nautilus-engines' },
      spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name, key: 'password' } } }] }] } } },
    };
    const cluster = new Cluster(controlPlane.kubeConfig);
    // Before the ExternalSecret is applied (a first deploy) the missing Secret is not a problem:
    // the operator syncs it once deploy applies the ExternalSecret.
    expect((await preflight(cluster, [externalSecret, reader] as KubeObject[])).filter((p) => p.includes(name))).toEqual([]);
    expect((await applyAll(controlPlane.kubeConfig, [externalSecret])).errors).toEqual([]);
    const failed = await poll(async () => {
      const condition = ready(await get(`/apis/external-secrets.io/v1/namespaces/nautilus-engines/externalsecrets/${name}`));
      return condition?.status === 'False' ? condition : undefined;
    }, Date.now() + SYNC_TIMEOUT_MS, 250);
    expect(failed).not.toBeInstanceOf(Error);
    const problems = (await preflight(cluster, [externalSecret, reader] as KubeObject[])).filter((p) => p.includes(name));
    expect(problems).toEqual([expect.stringMatching(new RegExp(
      `^Secret nautilus-engines/${name} is not synced from the secret manager: ExternalSecret nautilus-engines/${name} says ".+"\\. ` +
      `Fix: provision nautilus-prod: ${source.pathPrefix}/${name} \\[password\\] in the secret manager`))]);
  }, 120_000);

  /** The certificate cert-manager wrote to `secretName`, once its Certificate is Ready. */
  async function issued(namespace: string, name: string, secretName: string, notBefore: number): Promise<{ leaf: X509Certificate; data: Record<string, string> }> {
    const done = await poll(async () => {
      const certificate = await get(`/apis/cert-manager.io/v1/namespaces/${namespace}/certificates/${name}`);
      const secret = ready(certificate)?.status === 'True' ? await get(`/api/v1/namespaces/${namespace}/secrets/${secretName}`) : undefined;
      if (!secret) return undefined;
      const data = decoded(secret);
      const leaf = new X509Certificate(data['tls.crt']);
      return new Date(leaf.validFrom).getTime() >= notBefore - 60_000 ? { leaf, data } : undefined;
    }, Date.now() + SYNC_TIMEOUT_MS, 250);
    if (done instanceof Error) {
      const certificate = await get(`/apis/cert-manager.io/v1/namespaces/${namespace}/certificates/${name}`);
      throw new Error(`Certificate ${namespace}/${name} was not issued: ${done.message}; it says ${JSON.stringify(ready(certificate))}`);
    }
    return done;
  }

  /** The DNS names of a certificate's subjectAltName, sorted. */
  const dnsNames = (certificate: X509Certificate) => (certificate.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)).sort();

  test('cert-manager issues prod\'s certificate for exactly its hostnames, signed by the company CA synced from Vault', async () => {
    const objects = edgeObjects(prod).filter((o) => o.kind === 'Issuer' || o.kind === 'Certificate');
    const applied = await applyAll(controlPlane.kubeConfig, objects);
    expect(applied.errors).toEqual([]);
    const started = Date.now();
    certManager = await startCertManager(controlPlane);
    const edge = planEnvironment(platformInput(), prod).edge!;
    const { leaf, data } = await issued(edge.namespace, edge.certificate.name, edge.certificate.secretName, started);
    console.log(`cert-manager: prod's certificate issued ${((Date.now() - started) / 1000).toFixed(1)} s after the controller started`);
    expect(dnsNames(leaf)).toEqual([...edge.hosts].sort());
    const ca = new X509Certificate(companyCa.cert!);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(data['ca.crt']).toBe(companyCa.cert);
    // The plan's lifetime (90 days), to the minute.
    const lifetime = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 1000;
    expect(Math.abs(lifetime - edge.certificate.duration.toSeconds())).toBeLessThan(120);
  }, 180_000);

  test('dev\'s private root: cert-manager creates the self-signed root, and the edge certificate is reissued from it for dev\'s hostnames', async () => {
    const started = Date.now();
    const objects = edgeObjects(DEV).filter((o) => o.kind === 'Issuer' || o.kind === 'Certificate');
    const applied = await applyAll(controlPlane.kubeConfig, objects);
    expect(applied.errors).toEqual([]);
    const edge = planEnvironment(platformInput(), DEV).edge!;
    const root = await issued(edge.namespace, edge.privateRoot!.name, edge.privateRoot!.name, started);
    expect(root.leaf.ca).toBe(true);
    expect(root.leaf.checkIssued(root.leaf)).toBe(true);
    const { leaf, data } = await issued(edge.namespace, edge.certificate.name, edge.certificate.secretName, started);
    expect(dnsNames(leaf)).toEqual([...edge.hosts].sort());
    expect(leaf.checkIssued(root.leaf)).toBe(true);
    expect(leaf.verify(root.leaf.publicKey)).toBe(true);
    expect(new X509Certificate(data['ca.crt']).fingerprint256).toBe(root.leaf.fingerprint256);
  }, 180_000);
});
