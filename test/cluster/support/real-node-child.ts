/**
 * Starts a real-node cluster (no images beyond the node's own; with the NetworkPolicy enforcer and
 * metrics-server, so that their processes are covered too, and a second node joined, so that the
 * machine's forwarding and its rules are), prints `ready <control plane dir> <node work dir>:<cgroup root>...`
 * and waits to be interrupted: the hygiene test sends it SIGINT or SIGKILL and checks that the
 * node left nothing behind.
 */
import { startRealNodeCluster } from '../real-node';

startRealNodeCluster({
  name: 'hygiene-node', images: [], enforceNetworkPolicies: true, metricsServer: true, joinNodes: [{ name: 'hygiene-node-2' }],
}).then((cluster) => {
  const nodes = cluster.nodes.map((node) => `${node.workDir}:${node.cgroupRoot}`).join(' ');
  process.stdout.write(`ready ${cluster.controlPlane.workDir} ${nodes}\n`);
  setInterval(() => undefined, 60_000);
}, (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
