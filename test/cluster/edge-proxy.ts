import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ManifestObject } from './apply';
import { ensureCachedBuild } from './binaries';
import { EDGE_VERSIONS, acmeSolverBinary } from './edge-controllers';

/**
 * Traefik, the edge controller dev names (`externalAccess.controller`: Gateway API, class
 * `traefik`), as a real pod on a real node: the binary scripts/edge/build-traefik.sh builds from
 * the Go module proxy and caches by version, in an image of its own (the binary alone, as
 * upstream's image is), with what its installation would create: a ServiceAccount, the cluster
 * role upstream documents for its Gateway API provider, and the GatewayClass of dev's class name.
 * The generated Gateway and HTTPRoutes are the environment's, applied by the deploy as they are.
 * Also the image of cert-manager's ACME HTTP-01 solver pods, which the real-node test's ACME
 * issuance starts.
 */

/** The version build-traefik.sh builds; bump both together. */
export const TRAEFIK_VERSION = 'v3.6.12';

/** The controller name Traefik's Gateway API provider claims GatewayClasses by. */
export const TRAEFIK_CONTROLLER_NAME = 'traefik.io/gateway-controller';

const BUILD_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'edge', 'build-traefik.sh');
const CONTAINERS_CONF = path.resolve(__dirname, '..', '..', 'scripts', 'images', 'containers.conf');

/** The user the images run as (upstream's Traefik image runs as root; nothing here needs it). */
const IMAGE_UID = 65532;

/** The Traefik binary's cache directory, built first when the cache lacks it (about 8 minutes on 2 cores). */
export function ensureTraefik(): Promise<string> {
  return ensureCachedBuild(BUILD_SCRIPT, `Traefik ${TRAEFIK_VERSION}`);
}

/**
 * The image `localhost/nautilus-test/traefik:<version>` in the local image store (containers-storage),
 * imported from the cached binary when missing: one layer holding `/traefik`, its entrypoint.
 */
export async function traefikImage(): Promise<string> {
  return binaryImage(`localhost/nautilus-test/traefik:${TRAEFIK_VERSION}`, path.join(await ensureTraefik(), 'bin', 'traefik'));
}

/**
 * The image of cert-manager's ACME HTTP-01 solver pods, `localhost/nautilus-test/cert-manager-acmesolver:<version>`,
 * from the solver binary built with the controller, as upstream's image holds it: the binary
 * alone, its entrypoint, run as a non-root user (cert-manager's solver pods require one).
 */
export async function acmeSolverImage(): Promise<string> {
  return binaryImage(`localhost/nautilus-test/cert-manager-acmesolver:${EDGE_VERSIONS.certManager}`, await acmeSolverBinary());
}

/**
 * `ref` in the local image store, imported when missing from one static binary: a single layer
 * holding it at the root, as its entrypoint, run as {@link IMAGE_UID}.
 */
function binaryImage(ref: string, binary: string): string {
  const env = { ...process.env, CONTAINERS_CONF };
  if (spawnSync('podman', ['image', 'exists', ref], { env }).status === 0) return ref;
  const name = path.basename(binary);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `nautilus-${name}-image-`));
  try {
    const archive = path.join(work, `${name}.tar`);
    const tar = spawnSync('tar', ['--owner=0', '--group=0', '--mode=0755', '-C', path.dirname(binary), '-cf', archive, name], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`packing ${binary} failed: ${tar.stderr}`);
    const imported = spawnSync('podman', ['import', '--quiet', '--change', `ENTRYPOINT ["/${name}"]`, '--change', `USER ${IMAGE_UID}:${IMAGE_UID}`, archive, ref],
      { encoding: 'utf8', env });
    if (imported.status !== 0) throw new Error(`podman import of the image ${ref} failed: ${imported.stderr}`);
    return ref;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Where Traefik listens and how it is installed. */
export interface TraefikInstallation {
  /** The controller's namespace: the environment's `externalAccess.controller.namespace`. */
  readonly namespace: string;
  /** The GatewayClass name the generated Gateway names. */
  readonly className: string;
  /** The entry points' ports, which Traefik matches Gateway listeners by: the environment's listener ports. */
  readonly ports: { readonly http: number; readonly https: number };
  readonly image: string;
}

/** The port of Traefik's own entry point, serving `/ping` (its readiness). */
export const TRAEFIK_PING_PORT = 8080;

/**
 * What installing Traefik as dev's Gateway API controller creates: its namespace, ServiceAccount,
 * cluster role and binding (the rules of upstream's docs/content/reference/dynamic-configuration/
 * kubernetes-gateway-rbac.yml, less the OpenTelemetry-only pod read), the GatewayClass, one
 * Traefik pod whose entry points listen on the Gateway's ports, and its Service on 80 and 443.
 */
export function traefikManifests(installation: TraefikInstallation): ManifestObject[] {
  const { namespace, className, ports, image } = installation;
  const name = 'traefik';
  const labels = { 'app.kubernetes.io/name': name };
  const read = ['get', 'list', 'watch'];
  const gatewayKinds = ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'tcproutes', 'tlsroutes', 'referencegrants', 'backendtlspolicies'];
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${namespace}-${name}-gateway` },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['services', 'secrets', 'configmaps'], verbs: read },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: gatewayKinds, verbs: read },
        { apiGroups: ['gateway.networking.k8s.io'], resources: gatewayKinds.map((kind) => `${kind}/status`), verbs: ['update'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${namespace}-${name}-gateway` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${namespace}-${name}-gateway` },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: className }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } },
    // What a cloud load balancer is in front of the controller: the public ports 80 and 443 to
    // the entry points' (an ACME authority validates HTTP-01 on port 80).
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels },
      spec: { selector: labels, ports: [{ name: 'web', port: 80, targetPort: 'web' }, { name: 'websecure', port: 443, targetPort: 'websecure' }] },
    },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels },
      spec: {
        serviceAccountName: name,
        tolerations: [{ operator: 'Exists' }],
        securityContext: { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{
          name, image, imagePullPolicy: 'Never',
          args: [
            `--entryPoints.web.address=:${ports.http}`,
            `--entryPoints.websecure.address=:${ports.https}`,
            `--entryPoints.traefik.address=:${TRAEFIK_PING_PORT}`,
            '--ping=true',
            '--providers.kubernetesgateway=true',
            '--log.level=INFO',
          ],
          ports: [
            { name: 'web', containerPort: ports.http },
            { name: 'websecure', containerPort: ports.https },
            { name: 'traefik', containerPort: TRAEFIK_PING_PORT },
          ],
          readinessProbe: { httpGet: { path: '/ping', port: TRAEFIK_PING_PORT }, periodSeconds: 1 },
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
        }],
      },
    },
  ];
}
