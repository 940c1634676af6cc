import { DEV, PROD, STAGING } from '../../src/environments/platform-environments';
import { VaultSecrets } from '../../src/environments/environment';
import { ManifestObject } from '../../src/model/secret-references';
import { secretCoverageProblems } from '../../src/synth/secret-coverage';
import { PLATFORM_ENGINES, K8sObject, find, synthObjects } from '../support/platform';

const publicEngines = PLATFORM_ENGINES.filter((e) => e.publicRoute);
const ofKind = (objects: readonly K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

describe('the edge through the Gateway API (dev)', () => {
  const objects = synthObjects(DEV);
  const access = DEV.externalAccess;

  test('one Gateway of the controller\'s class: an HTTP listener, and an HTTPS listener per host serving the certificate', () => {
    const gateway = find(objects, 'Gateway', 'nautilus-edge');
    expect(gateway.spec.gatewayClassName).toBe(access.controller.className);
    const hosts = [...new Set(publicEngines.map((e) => `${e.publicRoute!.host}.${access.domain}`))].sort();
    expect(gateway.spec.listeners.map((l: { name: string; port: number; hostname?: string }) => [l.name, l.port, l.hostname])).toEqual([
      ['http', access.controller.listenerPorts!.http, undefined],
      ...hosts.map((host) => [`https-${host.split('.')[0]}`, access.controller.listenerPorts!.https, host]),
    ]);
    for (const listener of gateway.spec.listeners.slice(1)) {
      expect(listener.tls).toEqual({ mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: 'nautilus-edge-tls' }] });
    }
  });

  test('HTTP answers with a redirect to HTTPS for every host, and nothing else', () => {
    const redirect = find(objects, 'HTTPRoute', 'https-redirect');
    expect(redirect.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'nautilus-edge', sectionName: 'http' }]);
    expect(redirect.spec.rules).toEqual([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }]);
    expect(ofKind(objects, 'HTTPRoute').filter((r) => r.spec.parentRefs.some((p: { sectionName: string }) => p.sectionName === 'http'))).toHaveLength(1);
  });

  test('each public engine\'s route takes its host, path prefix, Service and port from the catalog', () => {
    for (const engine of publicEngines) {
      const route = find(objects, 'HTTPRoute', engine.name);
      const host = `${engine.publicRoute!.host}.${access.domain}`;
      expect(route.spec.hostnames).toEqual([host]);
      expect(route.spec.parentRefs[0].sectionName).toBe(`https-${engine.publicRoute!.host}`);
      const [rule] = route.spec.rules;
      expect(rule.matches).toEqual([{ path: { type: 'PathPrefix', value: engine.publicRoute!.pathPrefix } }]);
      expect(rule.backendRefs).toEqual([{ group: '', kind: 'Service', name: engine.name, port: (engine.workload as { port: number }).port, weight: 1 }]);
      // A WebSocket lives as long as it is used: no request deadline on it.
      expect(rule.timeouts).toEqual(engine.publicRoute!.websocket ? { request: '0s' } : undefined);
    }
  });

  test('a private CA: a self-signed root that a CA Issuer signs the certificate with, renewed a month early', () => {
    const root = find(objects, 'Certificate', 'dev-root-ca');
    expect(root.spec).toMatchObject({ isCA: true, secretName: 'dev-root-ca', issuerRef: { kind: 'Issuer', name: 'dev-root-ca-self-signed' } });
    expect(find(objects, 'Issuer', 'dev-root-ca-self-signed').spec).toEqual({ selfSigned: {} });
    expect(find(objects, 'Issuer', 'nautilus-edge').spec).toEqual({ ca: { secretName: 'dev-root-ca' } });
    const certificate = find(objects, 'Certificate', 'nautilus-edge');
    expect(certificate.spec).toMatchObject({
      secretName: 'nautilus-edge-tls', dnsNames: ['app.dev.nautilus.internal', 'stream.dev.nautilus.internal'],
      duration: '2160h', renewBefore: '720h', issuerRef: { kind: 'Issuer', name: 'nautilus-edge' },
    });
  });

  test('no secret manager: no store and no ExternalSecret', () => {
    expect(ofKind(objects, 'ExternalSecret')).toEqual([]);
    expect(ofKind(objects, 'ClusterSecretStore')).toEqual([]);
  });
});

test('an environment that deploys no public engine renders no edge: no Gateway, route, issuer or certificate', () => {
  const internal = { ...DEV, disabledEngines: [...DEV.disabledEngines, ...publicEngines.map((e) => ({ name: e.name, reason: 'a test' }))] };
  const kinds = new Set(synthObjects(internal).map((o) => o.kind));
  expect(['Gateway', 'HTTPRoute', 'Ingress', 'Issuer', 'Certificate'].filter((kind) => kinds.has(kind))).toEqual([]);
});

describe('the edge through Ingresses (staging: ingress-nginx, ACME)', () => {
  const objects = synthObjects(STAGING);

  test('an Ingress per public engine with its host, prefix, port and certificate; HTTP redirected; WebSockets idle an hour', () => {
    for (const engine of publicEngines) {
      const ingress = find(objects, 'Ingress', engine.name) as K8sObject & { metadata: { annotations: Record<string, string> } };
      const host = `${engine.publicRoute!.host}.${STAGING.externalAccess.domain}`;
      expect(ingress.spec.ingressClassName).toBe('nginx');
      expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: 'nautilus-edge-tls' }]);
      expect(ingress.spec.rules).toEqual([{ host, http: { paths: [{ path: engine.publicRoute!.pathPrefix, pathType: 'Prefix', backend: { service: { name: engine.name, port: { number: (engine.workload as { port: number }).port } } } }] } }]);
      expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/force-ssl-redirect']).toBe('true');
      const idle = engine.publicRoute!.websocket ? String(engine.publicRoute!.websocket.idleTimeout.toSeconds()) : undefined;
      expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe(idle);
    }
    expect(ofKind(objects, 'Gateway')).toEqual([]);
  });

  test('an ACME issuer answering HTTP-01 through the controller, whose solver pods the controller may reach', () => {
    const issuer = find(objects, 'Issuer', 'nautilus-edge');
    expect(issuer.spec.acme).toMatchObject({ server: 'https://acme-staging-v02.api.letsencrypt.org/directory', solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }] });
    const policy = find(objects, 'NetworkPolicy', 'acme-http01-solver-ingress');
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'acme.cert-manager.io/http01-solver': 'true' });
    expect(policy.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: {} }], ports: [{ port: 8089, protocol: 'TCP' }] }]);
    expect(synthObjects(DEV).some((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'acme-http01-solver-ingress')).toBe(false);
  });
});

describe('secrets from Vault (staging, prod)', () => {
  const objects = synthObjects(PROD);
  const vault = PROD.secrets as VaultSecrets;

  test('one ClusterSecretStore: Vault\'s KV v2 through its JWT auth with the reader\'s service account tokens, usable from the namespaces that read Secrets only', () => {
    const store = find(objects, 'ClusterSecretStore', 'nautilus-prod');
    expect(store.spec.provider.vault).toEqual({
      server: vault.server, path: vault.mount, version: 'v2',
      auth: {
        jwt: {
          path: vault.auth.mountPath, role: vault.auth.role,
          kubernetesServiceAccountToken: { serviceAccountRef: { name: 'secrets-reader', namespace: 'nautilus-data' }, audiences: [vault.auth.audience] },
        },
      },
    });
    expect(store.spec.conditions).toEqual([{ namespaces: ['nautilus-data', 'nautilus-engines', 'nautilus-latency'] }]);
  });

  test('every Secret a workload reads is produced by an ExternalSecret in its namespace, each key from its one Vault entry', () => {
    expect(secretCoverageProblems(PROD, objects as unknown as ManifestObject[])).toEqual([]);
    const externalSecrets = ofKind(objects, 'ExternalSecret');
    for (const externalSecret of externalSecrets) {
      const name = externalSecret.metadata.name;
      expect(externalSecret.spec.target).toMatchObject({ name, creationPolicy: 'Owner', deletionPolicy: 'Retain' });
      for (const item of externalSecret.spec.data) expect(item.remoteRef).toMatchObject({ key: `nautilus/prod/${name}`, property: item.secretKey });
    }
    expect(externalSecrets.map((e) => `${e.metadata.namespace}/${e.metadata.name}`)).toEqual(expect.arrayContaining([
      'nautilus-engines/nautilus-company-ca', 'nautilus-latency/redis-credentials', 'nautilus-data/timescaledb-superuser', 'nautilus-data/timescaledb-backup-credentials',
    ]));
    // The company CA's key pair comes as a TLS Secret, which cert-manager's CA issuer reads.
    expect(find(objects, 'ExternalSecret', 'nautilus-company-ca').spec.target.template).toMatchObject({ type: 'kubernetes.io/tls' });
    expect(find(objects, 'Issuer', 'nautilus-edge').spec).toEqual({ ca: { secretName: 'nautilus-company-ca' } });
  });

  test('a workload reading a Secret no ExternalSecret produces, or a key it does not write, fails synthesis naming both', () => {
    const withoutRedis = objects.filter((o) => !(o.kind === 'ExternalSecret' && o.metadata.name === 'redis-credentials' && o.metadata.namespace === 'nautilus-engines'));
    const missing = secretCoverageProblems(PROD, withoutRedis as unknown as ManifestObject[]);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ environment: 'prod', subject: 'Secret nautilus-engines/redis-credentials', rule: 'secrets-produced' });
    expect(missing[0].value).toMatch(/Deployment nautilus-engines\/backend/);
    const fewerKeys = objects.map((o) => (o.kind === 'ExternalSecret' && o.metadata.name === 'timescaledb-credentials' && o.metadata.namespace === 'nautilus-data'
      ? { ...o, spec: { ...o.spec, data: o.spec.data.filter((d: { secretKey: string }) => d.secretKey !== 'username') } } : o));
    const keys = secretCoverageProblems(PROD, fewerKeys as unknown as ManifestObject[]);
    expect(keys.map((p) => [p.subject, p.field, p.value])).toEqual([['Secret nautilus-data/timescaledb-credentials', 'keys', 'username']]);
    // Hand-made Secrets are not checked against ExternalSecrets.
    expect(secretCoverageProblems(DEV, withoutRedis as unknown as ManifestObject[])).toEqual([]);
  });
});
