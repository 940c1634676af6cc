import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { KubeRole, KubeRoleBinding } from '../../imports/k8s';
import { TIMESCALEDB_BACKUP_METRICS, TIMESCALEDB_BACKUP_SCHEDULE, TIMESCALEDB_PATRONI } from '../catalog/data-stores';
import { Duration } from '../model/duration';
import { EnvironmentVariable } from '../planning/environment-variables';
import { TimescaleDbPlan } from '../planning/stores/timescaledb';
import { CREDENTIAL_SECRETS, TIMESCALEDB_SECRETS } from '../planning/runtime-contract';
import { selectorLabels } from './labels';
import {
  BACKUP_SCHEDULE_SCRIPT, PGBACKREST_CONF, POST_BOOTSTRAP_SCRIPT, SUPERUSER, backupScheduleScript, patroniConfig,
  pgbackrestConf, postBootstrapScript,
} from './timescaledb-configuration';
import { service } from './escape-hatches';
import { StatefulStore } from './stateful-store';
import { BACKUP_METRICS_HEALTH_PATH, BACKUP_METRICS_SCRIPT, backupMetricsScript } from './timescaledb-backup-metrics';

/** File name of Patroni's configuration in the ConfigMap. */
export const PATRONI_CONFIG_FILE = 'patroni.yaml';

/** Name of the ConfigMap with the generated files (`<scope>-config` is Patroni's own). */
export const TIMESCALEDB_CONFIG_MAP = 'timescaledb-patroni';

/**
 * TimescaleDB as a Patroni cluster: every member runs Patroni, which runs PostgreSQL, holds the
 * leader lock in the Kubernetes API (ConfigMaps mode, see patroniConfig) and labels its pod with
 * its role. The client Service `timescaledb` selects `role=primary`, `timescaledb-replica`
 * selects `role=replica` (with two or more members). The pod's ServiceAccount token is mounted, bound to a Role allowing only
 * what Patroni does: read and label the pods, and keep its ConfigMaps.
 */
export class TimescaleDb extends Construct {
  /** The StatefulSet, Services, configuration and disruption budget the Patroni cluster runs as. */
  public readonly store: StatefulStore;

  constructor(scope: Construct, id: string, plan: TimescaleDbPlan) {
    super(scope, id);
    const p = TIMESCALEDB_PATRONI;
    const settings = plan.environment.timescaledb;
    const { backup } = settings;
    const port = plan.store.port;
    const podAddress = '$(PATRONI_KUBERNETES_POD_IP)';
    const env: EnvironmentVariable[] = [
      { name: 'PATRONI_NAME', podField: 'metadata.name' },
      { name: 'PATRONI_KUBERNETES_NAMESPACE', podField: 'metadata.namespace' },
      { name: 'PATRONI_KUBERNETES_POD_IP', podField: 'status.podIP' },
      { name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: `${podAddress}:${port}` },
      { name: 'PATRONI_RESTAPI_CONNECT_ADDRESS', value: `${podAddress}:${p.restApiPort}` },
      { name: 'PATRONI_SUPERUSER_USERNAME', value: SUPERUSER },
      { name: 'PATRONI_SUPERUSER_PASSWORD', secretKey: { secret: TIMESCALEDB_SECRETS.superuser.name, key: 'password' } },
      { name: 'PATRONI_REPLICATION_USERNAME', secretKey: { secret: TIMESCALEDB_SECRETS.replication.name, key: 'username' } },
      { name: 'PATRONI_REPLICATION_PASSWORD', secretKey: { secret: TIMESCALEDB_SECRETS.replication.name, key: 'password' } },
      // The engines' role, created by the post-bootstrap script.
      { name: 'APP_USER', secretKey: { secret: CREDENTIAL_SECRETS.timescaledb.name, key: 'username' } },
      { name: 'APP_PASSWORD', secretKey: { secret: CREDENTIAL_SECRETS.timescaledb.name, key: 'password' } },
    ];
    const backupEnv: EnvironmentVariable[] = backup.kind === 'object-store'
      ? [
        { name: 'PGBACKREST_CONFIG', value: `${p.configDirectory}/${PGBACKREST_CONF}` },
        { name: 'PGBACKREST_REPO1_S3_KEY', secretKey: { secret: backup.credentialsSecret, key: 'access-key-id' } },
        { name: 'PGBACKREST_REPO1_S3_KEY_SECRET', secretKey: { secret: backup.credentialsSecret, key: 'secret-access-key' } },
      ]
      : [];
    const httpProbe = (path: string) => ({ httpGet: { path, port: p.restApiPort } });
    const selector = selectorLabels(plan.store.name);
    this.store = new StatefulStore(this, 'Store', {
      plan,
      configMapName: TIMESCALEDB_CONFIG_MAP,
      configFile: {
        name: PATRONI_CONFIG_FILE,
        content: patroniConfig(plan.memory, port, settings, selector),
        mountPath: p.configDirectory,
      },
      additionalConfigFiles: {
        [POST_BOOTSTRAP_SCRIPT]: postBootstrapScript(backup),
        ...(backup.kind === 'object-store'
          ? {
            [PGBACKREST_CONF]: pgbackrestConf(backup, plan.environment.name, port),
            [BACKUP_SCHEDULE_SCRIPT]: backupScheduleScript(backup),
            [BACKUP_METRICS_SCRIPT]: backupMetricsScript(),
          }
          : {}),
      },
      dataMountPath: p.volumeMountPath,
      container: {
        command: ['patroni', `${p.configDirectory}/${PATRONI_CONFIG_FILE}`],
        env: [...env, ...backupEnv],
        // Patroni's REST API: /liveness answers while Patroni's loop runs; /readiness while
        // PostgreSQL runs as the primary or a streaming replica. A first start runs initdb, a
        // new replica copies the primary: allow ten minutes.
        startupProbe: { ...httpProbe('/liveness'), period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 60 },
        livenessProbe: { ...httpProbe('/liveness'), period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 6 },
        readinessProbe: { ...httpProbe('/readiness'), period: Duration.seconds(5), timeout: Duration.seconds(5), failureThreshold: 3 },
      },
      // The budgets are the plan's (its kind's, in src/planning/stores), which the namespace quota counts too.
      sidecars: plan.monitoring.sidecars.map((sidecar) => {
        switch (sidecar.name) {
          case TIMESCALEDB_BACKUP_SCHEDULE.name:
            return { name: sidecar.name, cpu: sidecar.cpu, memory: sidecar.memory, command: ['bash', `${p.configDirectory}/${BACKUP_SCHEDULE_SCRIPT}`], env: backupEnv };
          case TIMESCALEDB_BACKUP_METRICS.name: {
            const metricsPort = TIMESCALEDB_BACKUP_METRICS.port;
            // /health answers without running pgBackRest: probing /metrics would list the bucket.
            const healthProbe = { httpGet: { path: BACKUP_METRICS_HEALTH_PATH, port: metricsPort }, timeout: Duration.seconds(2) };
            return {
              name: sidecar.name, cpu: sidecar.cpu, memory: sidecar.memory,
              command: ['python3', `${p.configDirectory}/${BACKUP_METRICS_SCRIPT}`],
              // pgbackrest info reads its configuration only: no data volume, no socket.
              mounts: ['config', 'tmp'],
              env: [...backupEnv, { name: 'BACKUP_METRICS_PORT', value: String(metricsPort) }],
              ports: [{ name: TIMESCALEDB_BACKUP_METRICS.portName, port: metricsPort }],
              readinessProbe: { ...healthProbe, period: Duration.seconds(10), failureThreshold: 3 },
              livenessProbe: { ...healthProbe, period: Duration.seconds(20), failureThreshold: 3 },
            };
          }
          default:
            throw new Error(`timescaledb: no container is defined for the planned sidecar "${sidecar.name}"; add it to TimescaleDb's sidecars`);
        }
      }),
      scratch: [
        { name: 'run', mountPath: p.socketDirectory },
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'shm', mountPath: '/dev/shm', memory: true },
      ],
      serverPorts: [{ name: p.restApiPortName, port: p.restApiPort }],
      podLabels: { [p.scopeLabel]: p.scope },
      clientSelector: { [p.roleLabel]: p.primaryRole },
      apiServerAccess: true,
    });

    const metadata = (name: string) => ({ name, namespace: plan.namespace, labels: this.store.labels });
    if (plan.replicas > 1) {
      service(this, 'ReplicaService', {
        metadata: metadata(p.replicaService),
        type: kplus.ServiceType.CLUSTER_IP,
        selector: kplus.Pods.select(this, 'ReplicaPods', { labels: { ...selector, [p.roleLabel]: p.replicaRole } }),
        ports: [{ name: plan.store.portName, port, targetPort: port, protocol: kplus.Protocol.TCP }],
      });
    }

    // What Patroni does in ConfigMaps mode, and nothing more: list and watch the members' pods and
    // patch its own labels and annotations; create and update the leader, config, sync and
    // failover ConfigMaps. The failover test runs Patroni with this Role's token.
    const role = new KubeRole(this, 'PatroniRole', {
      metadata: metadata(`${plan.store.name}-patroni`),
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
      ],
    });
    new KubeRoleBinding(this, 'PatroniRoleBinding', {
      metadata: metadata(`${plan.store.name}-patroni`),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: this.store.serviceAccountName, namespace: plan.namespace }],
    });
  }
}
