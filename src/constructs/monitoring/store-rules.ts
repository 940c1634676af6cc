import { AlertSeverity } from '../../catalog/tier';
import { RUNTIME_METRICS } from '../../engines/runtime/metric-names';
import { EnvironmentSpec } from '../../environments/environment';
import { Duration } from '../../model/duration';
import { AlertingRule } from '../../planning/monitoring';
import { DataStorePlan } from '../../planning/plan';
import { promSelector, storeSeries } from '../../planning/store-monitoring';
import { kindOf } from '../../planning/stores/store-kinds';

/** The kube-state-metrics series of a StatefulSet's ready replicas. */
const STATEFULSET_READY = 'kube_statefulset_status_replicas_ready';

/**
 * The alerts on one environment's data stores, derived from their plans: what every store has
 * (members down, a warning while a majority is up and critical below it; unreachable from the
 * engines), then what its kind adds on its own series (src/planning/stores: no primary, replicas
 * disconnected or lagging, a failover, Redis's Sentinel, TimescaleDB's backups). Replication
 * alerts exist only where the store has replicas, backup alerts only where the environment backs up.
 */
export function dataStoreAlerts(environment: EnvironmentSpec, stores: readonly DataStorePlan[]): AlertingRule[] {
  return stores.flatMap((plan) => {
    const name = plan.store.name;
    const members = plan.replicas;
    const quorum = plan.quorum;
    const labels = (severity: AlertSeverity) => ({ environment: environment.name, severity, store: name, namespace: plan.namespace });
    const ready = `sum by (namespace, statefulset) (${promSelector(STATEFULSET_READY, { namespace: plan.namespace, statefulset: name })})`;
    const pods = `kubectl -n ${plan.namespace} get pods -l app.kubernetes.io/name=${name} -o wide`;

    const alerts: AlertingRule[] = [
      {
        alert: 'NautilusDataStoreDown',
        expr: `${ready} < ${quorum}`,
        for: Duration.minutes(2),
        labels: labels('critical'),
        annotations: {
          summary: members > 1 ? `${name}: fewer than ${quorum} of its ${members} members are ready (quorum lost)` : `${name}: its only member is not ready`,
          description: `${name} has {{ $value }} ready members of ${members} in ${plan.namespace}; it needs ${quorum} to serve${members > 1 ? ' and fail over' : ''}.`,
          runbook: `${pods}; describe the pods that are not ready, read their logs; check their PersistentVolumeClaims are Bound and the nodes of the storage pool.`,
        },
      },
      {
        alert: 'NautilusDataStoreUnreachable',
        // Every engine checks its stores continuously: when none reaches the store, it is down for them.
        expr: `max by (dependency) (${promSelector(RUNTIME_METRICS.dependencyUp, { dependency: name })}) == 0`,
        for: Duration.minutes(2),
        labels: labels('critical'),
        annotations: {
          summary: `${name}: no engine reaches it`,
          description: `Every engine that depends on ${name} fails its check: engines report not ready and leave their Services.`,
          runbook: `Check the ${name} pod and Service in ${plan.namespace}, the credentials Secret, and the network policies admitting the engines.`,
        },
      },
    ];
    if (members > 1) {
      alerts.push({
        alert: 'NautilusDataStoreMemberDown',
        expr: `${ready} < ${members}\nand\n${ready} >= ${quorum}`,
        for: Duration.minutes(2),
        labels: labels('warning'),
        annotations: {
          summary: `${name}: a member is not ready (quorum kept)`,
          description: `${name} has {{ $value }} ready members of ${members} in ${plan.namespace}: it still serves and can fail over, with less margin.`,
          runbook: `${pods}; describe the member that is not ready and read its logs; a drain takes one member at a time (PodDisruptionBudget).`,
        },
      });
    }

    const lag = plan.store.replicationLagAlert;
    alerts.push(...kindOf(plan).alerts(plan, {
      series: storeSeries(plan.namespace, name),
      labels,
      listPods: pods,
      replicationLagAlert: (expr, annotations) => ({
        alert: 'NautilusDataStoreReplicationLag',
        expr: `${expr}\n> ${lag.bytes.mebibytes * 1024 * 1024}`,
        for: lag.for,
        labels: labels('warning'),
        annotations,
      }),
    }));
    return alerts;
  });
}
