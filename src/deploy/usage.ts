/** `nautilus --help`: the commands and options of the deploy tool. */
export const USAGE = `Usage: nautilus <command> <environment> [options]

Commands:
  preflight <env>   check the cluster can take dist/<env>/ (API server, CRDs, Secrets); changes nothing
  diff <env>        server-side dry-run of every object against the live one; exit 0 no changes, 1 changes
  deploy <env>      preflight, diff, then server-side apply in dependency order with an ApplySet,
                    prune what dist/<env>/ no longer has, and wait until the workloads are rolled out;
                    an Argo Rollout paused for a person ends the wait as "awaiting promotion"
                    (exit 0) with the command that continues it
  status <env>      workloads, CronJobs' runs, autoscalers, disruption budgets and pending pods;
                    per Argo Rollout its phase, canary step, share on the new version, stable and
                    new pod template hashes and latest analysis; exit 1 when anything is unhealthy
                    (an autoscaler that cannot scale, a Degraded or aborted Rollout included)
  history <env>     the revisions recorded in the cluster, one per deploy that changed something:
                    time, commit, outcome, what changed, who applied it
  rollback <env>    deploy a recorded revision's manifests again (no checkout, no synthesis), as
                    deploy does, recorded as a new revision; refuses what would endanger data (a
                    changed volume claim template, a store's data format backwards, a store removed)
  promote <env> <engine>
                    continue the engine's paused Argo Rollout release (next canary step, or switch
                    blue/green traffic), as kubectl argo rollouts promote; --full skips the rest
  abort <env> <engine>
                    stop the engine's release in progress and return it to its stable version, as
                    kubectl argo rollouts abort

Options:
  --context <name>      kubeconfig context to use (default: the current context)
  --kubeconfig <path>   kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  --dist <dir>          read manifests from <dir>/<env>/ instead of synthesizing dist/ (default: dist)
  --dry-run             deploy/rollback: show the diff and what would be pruned, change nothing
  --no-prune            deploy/rollback: leave objects the new set no longer has (the ApplySet keeps covering them)
  --yes                 deploy/rollback: confirm prunes and rollbacks in environments that ask (prod) without a prompt
  --force-conflicts     diff/deploy/rollback: take over fields another field manager owns
  --no-wait             deploy/rollback: do not wait for the rollout
  --timeout <seconds>   deploy/rollback: how long to wait for the rollout (default 300)
  --history-limit <n>   deploy/rollback: revisions of the environment to keep in the cluster (default 10)
  --revision <n>        diff: compare the cluster with recorded revision <n> instead of dist/
  --to <n>              rollback: the revision to restore (default: the newest before the latest
                        that was applied whole and did not fail; awaiting promotion counts)
  --full                promote: skip every remaining step, pause and analysis of the release
  --ignore-autoscaler-metrics
                        status: show, but do not count as unhealthy, an autoscaler that cannot read
                        its metrics (a cluster without metrics-server or prometheus-adapter yet)
  -h, --help            this help

The ApplySet parent is the cluster-scoped ApplySet nautilus-<env>; kubectl addresses it as
  --applyset=applysets.nautilus.io/nautilus-<env>
`;
