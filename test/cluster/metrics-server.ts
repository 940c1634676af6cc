import * as fs from 'fs';
import * as path from 'path';
import { ManifestObject } from './apply';
import { ensureCachedBuild } from './binaries';

/**
 * metrics-server (sigs.k8s.io/metrics-server) for a real node: the resource metrics API
 * (`metrics.k8s.io/v1beta1`) that `kubectl top` and the HorizontalPodAutoscaler controller read
 * pods' CPU and memory from. It runs as a process of the node (beside the kubelet, as kube-router
 * does), scrapes the kubelet's `/metrics/resource`, and is registered with the API server's
 * aggregation layer the way a cluster registers it: an APIService in front of a Service in
 * kube-system. Its Service has no selector (there is no pod), and an EndpointSlice of its own
 * points at the address it listens on; the API server, started with `--enable-aggregator-routing`,
 * connects to that address directly.
 */

/** The version scripts/real-node/build-metrics-server.sh builds (and caches under); bump both together. */
export const METRICS_SERVER_VERSION = 'v0.8.0';

const BUILD_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'real-node', 'build-metrics-server.sh');

/** The metrics-server binary, built first (about 2 minutes cold) when the cache lacks it. */
export async function ensureMetricsServer(): Promise<string> {
  return path.join(await ensureCachedBuild(BUILD_SCRIPT, `metrics-server ${METRICS_SERVER_VERSION}`), 'bin', 'metrics-server');
}

/**
 * The one message a metrics-server that did not start stops the test with: what it is, how long it
 * was given, why (`reason`: it exited, or what it never reached) and the line of its log that says so.
 */
export function metricsServerStartFailure(reason: string, log: string | undefined, logFile: string, seconds: number): string {
  return `metrics-server ${METRICS_SERVER_VERSION} (the resource metrics API ${METRICS_API_SERVICE}) did not start within ${Math.ceil(seconds)} s: `
    + `${reason}; its log (${logFile}) ends: ${log === undefined ? '(no log)' : metricsServerFailure(log)}`;
}

/**
 * The line of metrics-server's log that says why it stopped: its last error (`panic:`, cobra's
 * `Error:`, klog's `E`/`F` lines), or its last line.
 */
export function metricsServerFailure(log: string): string {
  const lines = log.trim().split('\n').map((line) => line.trim()).filter(Boolean);
  return [...lines].reverse().find((line) => /^(panic:|Error:|[EF]\d{4} )/.test(line)) ?? lines[lines.length - 1] ?? '(empty log)';
}

/** The APIService the resource metrics API is served under. */
export const METRICS_API_SERVICE = 'v1beta1.metrics.k8s.io';

/** The port metrics-server serves on, at the node's address. */
export const METRICS_SERVER_PORT = 4443;

/**
 * How often metrics-server scrapes the kubelet: its minimum (10 s; upstream's default is 60 s).
 * A CPU figure is the rate between two scrapes, so a change of load shows after at most two.
 */
export const METRICS_RESOLUTION_SECONDS = 10;

const NAME = 'metrics-server';
const NAMESPACE = 'kube-system';
/** The user its client certificate names; the RBAC below binds to it as upstream's binds to its ServiceAccount. */
export const METRICS_SERVER_USER = 'system:metrics-server';

/** The name the API server checks metrics-server's serving certificate against. */
export const METRICS_SERVER_DNS_NAME = `${NAME}.${NAMESPACE}.svc`;

/** metrics-server's command line. */
export function metricsServerArgs(options: {
  readonly kubeconfig: string;
  readonly address: string;
  readonly certificate: { readonly cert: string; readonly key: string };
  readonly certDir: string;
}): string[] {
  return [
    `--kubeconfig=${options.kubeconfig}`,
    `--authentication-kubeconfig=${options.kubeconfig}`,
    `--authorization-kubeconfig=${options.kubeconfig}`,
    `--bind-address=${options.address}`,
    `--secure-port=${METRICS_SERVER_PORT}`,
    `--tls-cert-file=${options.certificate.cert}`,
    `--tls-private-key-file=${options.certificate.key}`,
    `--cert-dir=${options.certDir}`,
    `--metric-resolution=${METRICS_RESOLUTION_SECONDS}s`,
    // It must be shorter than the resolution (upstream's default, 10 s, is not shorter than 10 s).
    `--kubelet-request-timeout=${METRICS_RESOLUTION_SECONDS / 2}s`,
    // The kubelet's InternalIP (its --node-ip) is what this machine can reach; its name does not resolve.
    '--kubelet-preferred-address-types=InternalIP',
    // The test kubelet serves a self-signed certificate naming its host name, not its address (no
    // serverTLSBootstrap, no CSR approver here): the same trade kind and minikube make. The
    // kubelet still authenticates and authorizes metrics-server's client certificate.
    '--kubelet-insecure-tls',
    '--v=1',
  ];
}

/**
 * What upstream's manifest (components.yaml of the release) creates around metrics-server, for a
 * process that authenticates as {@link METRICS_SERVER_USER} instead of a ServiceAccount, and the
 * selector-less Service with its EndpointSlice at `address`.
 */
export function metricsServerObjects(address: string, caFile: string): ManifestObject[] {
  const user = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: METRICS_SERVER_USER }];
  const labels = { 'k8s-app': NAME };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:metrics-server', labels },
      rules: [
        { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'system:metrics-server', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:metrics-server' }, subjects: user,
    },
    {
      // Delegated authentication and authorization: TokenReviews and SubjectAccessReviews.
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'metrics-server:system:auth-delegator', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects: user,
    },
    {
      // The front-proxy CA and header names, from kube-system/extension-apiserver-authentication.
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'metrics-server-auth-reader', namespace: NAMESPACE, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }, subjects: user,
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: NAME, namespace: NAMESPACE, labels },
      spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: METRICS_SERVER_PORT }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${NAME}-node`, namespace: NAMESPACE, labels: { ...labels, 'kubernetes.io/service-name': NAME, 'endpointslice.kubernetes.io/managed-by': 'nautilus-test-cluster' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: 'https', port: METRICS_SERVER_PORT, protocol: 'TCP' }],
    },
    {
      apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: METRICS_API_SERVICE, labels },
      spec: {
        group: 'metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100,
        service: { name: NAME, namespace: NAMESPACE, port: 443 },
        // Its serving certificate is the cluster CA's, for metrics-server.kube-system.svc.
        caBundle: fs.readFileSync(caFile).toString('base64'),
      },
    },
  ];
}
