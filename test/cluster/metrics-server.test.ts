/**
 * metrics-server as the real node runs it, without a node: the real binary (built like the node's,
 * scripts/real-node/build-metrics-server.sh) started with the node's command line accepts it (its
 * own option validation passes, and it stops only at the first thing it must reach), and a
 * metrics-server that cannot start is reported in one message naming it and its own reason.
 * The node's side (registration, scraping the kubelet, the HPAs) is real-node-autoscaling.test.ts.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureMetricsServer, METRICS_API_SERVICE, METRICS_SERVER_VERSION, metricsServerArgs, metricsServerStartFailure } from './metrics-server';

// Cold, the binary is built first (about 2 minutes).
jest.setTimeout(10 * 60_000);

let binary: string;
let dir: string;

/** Runs metrics-server with the node's command line plus `extra`; resolves with its exit code and log. */
function runMetricsServer(extra: readonly string[]): { status: number | null; log: string } {
  const args = metricsServerArgs({
    kubeconfig: path.join(dir, 'missing.kubeconfig'),
    address: '127.0.0.1',
    certificate: { cert: path.join(dir, 'serving.crt'), key: path.join(dir, 'serving.key') },
    certDir: dir,
  });
  const result = spawnSync(binary, [...args.map((arg) => (arg.startsWith('--secure-port=') ? '--secure-port=0' : arg)), ...extra], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, log: `${result.stdout}${result.stderr}` };
}

beforeAll(async () => {
  binary = await ensureMetricsServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-metrics-server-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', path.join(dir, 'serving.key'), '-out', path.join(dir, 'serving.crt'), '-subj', '/CN=metrics-server.kube-system.svc'], { stdio: 'ignore' });
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('metrics-server, as the real node runs it', () => {
  test('is the pinned release', () => {
    expect(execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim()).toBe(METRICS_SERVER_VERSION);
  });

  test('accepts the node\'s command line: without a cluster it stops at its kubeconfig, not at an option', () => {
    const { status, log } = runMetricsServer([]);
    expect(status).not.toBe(0);
    const message = metricsServerStartFailure('metrics-server exited', log, 'metrics-server.log', 0.4);
    expect(message).toMatch(/its log \(metrics-server\.log\) ends: panic: failed to get delegated authentication kubeconfig: .*missing\.kubeconfig: no such file or directory$/);
  });

  test('one that cannot start is named with its own reason, in one message', () => {
    // Upstream's default kubelet timeout with the node's 10 s resolution: metrics-server refuses it.
    const { status, log } = runMetricsServer(['--kubelet-request-timeout=10s']);
    expect(status).not.toBe(0);
    const message = metricsServerStartFailure('metrics-server exited with code 2 while waiting for APIService v1beta1.metrics.k8s.io to be Available', log, '/node/logs/metrics-server.log', 0.4);
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toBe(`metrics-server ${METRICS_SERVER_VERSION} (the resource metrics API ${METRICS_API_SERVICE}) did not start within 1 s: `
      + 'metrics-server exited with code 2 while waiting for APIService v1beta1.metrics.k8s.io to be Available; its log (/node/logs/metrics-server.log) ends: '
      + 'panic: metric-resolution should be larger than kubelet-request-timeout, but metric-resolution value 10s kubelet-request-timeout value 10s provided');
  });

  test('a log without an error line is quoted by its last line, an empty one said to be empty', () => {
    expect(metricsServerStartFailure('timed out waiting for metrics.k8s.io to list node n', 'I1204 starting\nI1204 serving on 4443\n', 'f', 60))
      .toMatch(/ends: I1204 serving on 4443$/);
    expect(metricsServerStartFailure('x', '', 'f', 1)).toMatch(/ends: \(empty log\)$/);
    expect(metricsServerStartFailure('x', undefined, 'f', 1)).toMatch(/ends: \(no log\)$/);
  });
});
