/**
 * Starts a real-node cluster (no images beyond the node's own; with the NetworkPolicy enforcer and
 * metrics-server, so that their processes are covered too), prints `ready <node work dir>`
 * and waits to be interrupted: the hygiene test sends it SIGINT or SIGKILL and checks that the
 * node left nothing behind.
 */
import { startRealNodeCluster } from '../real-node';

startRealNodeCluster({ name: 'hygiene-node', images: [], enforceNetworkPolicies: true, metricsServer: true }).then((cluster) => {
  process.stdout.write(`ready ${cluster.node.workDir} ${cluster.node.cgroupRoot} ${cluster.controlPlane.workDir}\n`);
  setInterval(() => undefined, 60_000);
}, (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
