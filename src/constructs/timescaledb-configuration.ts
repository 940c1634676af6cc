import { stringify } from 'yaml';
import { TIMESCALEDB_PATRONI } from '../catalog/data-stores';
import { ObjectStoreBackup, TimescaleDbSettings } from '../environments/environment';
import { Duration } from '../model/duration';
import { Memory } from '../model/quantities';
import { TRADING_DATABASE } from '../planning/runtime-contract';

/** A PostgreSQL setting's value as Patroni's YAML carries it. */
export type ParameterValue = string | number;

/**
 * Settings Patroni takes only from the cluster-wide (DCS) configuration, because every member must
 * agree on them: a replica with a lower value than its primary refuses to start. Everything else
 * is local to each member and follows the manifests on every restart.
 * @see https://patroni.readthedocs.io/en/latest/patroni_configuration.html (PostgreSQL parameters controlled by Patroni)
 */
const CLUSTER_WIDE_PARAMETERS = new Set([
  'max_connections', 'max_locks_per_transaction', 'max_worker_processes', 'max_prepared_transactions',
  'wal_level', 'wal_log_hints', 'track_commit_timestamp', 'max_wal_senders', 'max_replication_slots', 'wal_keep_size',
]);

/**
 * The longest a finished transaction's WAL waits before it is archived on a quiet primary: what a
 * restore from the backup repository can lose at most. PostgreSQL reads it in its own units (`s`).
 */
const WAL_ARCHIVE_TIMEOUT = Duration.seconds(60);

/**
 * PostgreSQL's settings for TimescaleDB, sized to the container's memory, in one ordered table.
 * Patroni writes them into postgresql.conf; test/store-configuration.test.ts has a real PostgreSQL
 * parse them and the failover test runs a cluster with them.
 */
export function postgresqlParameters(memory: Memory, backup: TimescaleDbSettings['backup']): Record<string, ParameterValue> {
  const mb = memory.mebibytes;
  const sharedBuffers = Math.max(32, Math.floor(mb * 0.25));
  const effectiveCache = Math.max(64, Math.floor(mb * 0.75));
  const maintenanceWorkMem = Math.min(2048, Math.max(16, Math.floor(mb * 0.05)));
  const stanza = TIMESCALEDB_PATRONI.backupStanza;
  return {
    max_connections: 200,
    password_encryption: 'scram-sha-256',
    unix_socket_directories: TIMESCALEDB_PATRONI.socketDirectory,
    // Memory: a quarter of the container for shared buffers, the rest left to the page cache.
    shared_buffers: `${sharedBuffers}MB`,
    effective_cache_size: `${effectiveCache}MB`,
    maintenance_work_mem: `${maintenanceWorkMem}MB`,
    work_mem: '16MB',
    dynamic_shared_memory_type: 'posix',
    // Write-ahead log: streaming replicas, rewind after failover, spread checkpoints.
    wal_level: 'replica',
    wal_log_hints: 'on',
    max_wal_senders: 10,
    max_replication_slots: 10,
    hot_standby: 'on',
    max_wal_size: '4GB',
    min_wal_size: '1GB',
    checkpoint_completion_target: 0.9,
    wal_compression: 'on',
    // Continuous archiving to the backup repository; without one, archiving stays off.
    archive_mode: backup.kind === 'object-store' ? 'on' : 'off',
    ...(backup.kind === 'object-store'
      ? { archive_command: `pgbackrest --stanza=${stanza} archive-push %p`, archive_timeout: `${WAL_ARCHIVE_TIMEOUT.toSeconds()}s` }
      : {}),
    // TimescaleDB.
    shared_preload_libraries: 'timescaledb',
    'timescaledb.telemetry_level': 'off',
    'timescaledb.max_background_workers': 8,
    max_worker_processes: 16,
    max_parallel_workers: 4,
    max_parallel_workers_per_gather: 2,
    // Logs go to stderr, collected by the cluster.
    log_destination: 'stderr',
    logging_collector: 'off',
    log_min_duration_statement: 500,
    log_checkpoints: 'on',
    log_lock_waits: 'on',
  };
}

/**
 * Patroni's timing, which its configuration takes in whole seconds: a dead primary's leader lock
 * expires after `ttl`; each member runs its loop every `loopWait` and retries the Kubernetes API
 * for `retryTimeout`.
 */
export const PATRONI_TIMING = {
  // loop_wait + 2 × retry_timeout ≤ ttl, as Patroni requires. Shorter than Patroni's 30 s default
  // so trading resumes sooner; failsafe_mode keeps a healthy primary through an API-server outage.
  ttl: Duration.seconds(20),
  loopWait: Duration.seconds(5),
  retryTimeout: Duration.seconds(7),
} as const;

/**
 * Patroni's configuration file, generated from the catalog and the environment's settings. Values
 * that differ per pod (its name, namespace and address) and credentials come from the container's
 * environment (`PATRONI_*`), set from the downward API and Secrets.
 *
 * The DCS is Kubernetes in **ConfigMaps mode** (`use_endpoints: false`): the leader lock is the
 * `<scope>-leader` ConfigMap and the primary Service selects the pod Patroni labels
 * `role=primary`. Endpoints mode would need the pod IPs in an Endpoints object Patroni writes,
 * which the API server rejects for loopback addresses: the failover test runs the members on
 * 127.0.0.1 against a real API server, and with ConfigMaps mode it exercises exactly this mode.
 */
export function patroniConfig(memory: Memory, port: number, settings: TimescaleDbSettings, selector: Record<string, string>): string {
  const parameters = postgresqlParameters(memory, settings.backup);
  const clusterWide = Object.fromEntries(Object.entries(parameters).filter(([name]) => CLUSTER_WIDE_PARAMETERS.has(name)));
  const local = Object.fromEntries(Object.entries(parameters).filter(([name]) => !CLUSTER_WIDE_PARAMETERS.has(name)));
  const p = TIMESCALEDB_PATRONI;
  const config = {
    scope: p.scope,
    restapi: { listen: `0.0.0.0:${p.restApiPort}` },
    kubernetes: {
      use_endpoints: false,
      labels: selector,
      scope_label: p.scopeLabel,
      role_label: p.roleLabel,
      leader_label_value: p.primaryRole,
      follower_label_value: p.replicaRole,
      standby_leader_label_value: p.primaryRole,
    },
    bootstrap: {
      // Written to the `<scope>-config` ConfigMap by the first member; change it later with
      // `patronictl edit-config` (a new manifest does not rewrite it).
      dcs: {
        ttl: PATRONI_TIMING.ttl.toSeconds(),
        loop_wait: PATRONI_TIMING.loopWait.toSeconds(),
        retry_timeout: PATRONI_TIMING.retryTimeout.toSeconds(),
        maximum_lag_on_failover: 1048576,
        synchronous_mode: settings.synchronousReplication,
        // Strict mode would stop all writes while no replica is up; plain synchronous mode
        // degrades to asynchronous then, and never promotes a replica that may lack a commit.
        synchronous_mode_strict: false,
        failsafe_mode: true,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: clusterWide },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums'],
      post_bootstrap: `bash ${p.configDirectory}/${POST_BOOTSTRAP_SCRIPT}`,
    },
    postgresql: {
      listen: `0.0.0.0:${port}`,
      data_dir: p.dataDirectory,
      bin_dir: p.binDirectory,
      pgpass: '/tmp/pgpass',
      use_unix_socket: true,
      use_unix_socket_repl: false,
      authentication: {
        // Names and passwords come from PATRONI_SUPERUSER_* and PATRONI_REPLICATION_*.
        superuser: {},
        replication: {},
      },
      parameters: local,
      ...(settings.backup.kind === 'object-store'
        ? { recovery_conf: { restore_command: `pgbackrest --stanza=${p.backupStanza} archive-get %f "%p"` } }
        : {}),
      pg_hba: [
        // The superuser on the socket: Patroni, pgBackRest and the post-bootstrap script, as the
        // image's `postgres` OS user.
        `local all ${SUPERUSER} peer`,
        'local all all scram-sha-256',
        // Only roles with the REPLICATION attribute may use the replication lines.
        'host replication all 0.0.0.0/0 scram-sha-256',
        'host replication all ::/0 scram-sha-256',
        'host all all 0.0.0.0/0 scram-sha-256',
        'host all all ::/0 scram-sha-256',
      ],
      create_replica_methods: ['basebackup'],
      basebackup: [{ checkpoint: 'fast' }],
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  // Patroni reads YAML 1.1 (PyYAML), where a bare `on` or `off` is a boolean: quote like 1.1 does.
  return `# Generated by nautilus-k8s from the TimescaleDB catalog entry and the environment. Do not edit.\n${stringify(config, { version: '1.1' })}`;
}

/** The PostgreSQL superuser: fixed, because the socket's peer authentication maps the OS user to it. */
export const SUPERUSER = 'postgres';

/** File name of the script Patroni runs once after initdb. */
export const POST_BOOTSTRAP_SCRIPT = 'post-bootstrap.sh';

/**
 * Runs once, on the first primary, after initdb (Patroni's `post_bootstrap`, whose last argument
 * is a superuser connection string): creates the application role and database from the
 * `APP_USER`/`APP_PASSWORD` environment (a Secret), the timescaledb extension wherever the server
 * preloads it, and the backup stanza with a first full backup, so point-in-time recovery works
 * from the start.
 */
export function postBootstrapScript(backup: TimescaleDbSettings['backup']): string {
  const stanza = TIMESCALEDB_PATRONI.backupStanza;
  return [
    '#!/bin/bash',
    '# Generated by nautilus-k8s. Patroni runs it once after initdb: post-bootstrap.sh <connection string>',
    'set -euo pipefail',
    'connection="${!#}"',
    ': "${APP_USER:?APP_USER is not set}" "${APP_PASSWORD:?APP_PASSWORD is not set}"',
    `psql "$connection" -v ON_ERROR_STOP=1 -v app_user="$APP_USER" -v app_password="$APP_PASSWORD" <<'SQL'`,
    `CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';`,
    `CREATE DATABASE ${TRADING_DATABASE} OWNER :"app_user";`,
    `\\connect ${TRADING_DATABASE}`,
    // The extension needs its library preloaded; the preload is the switch.
    `SELECT 'CREATE EXTENSION IF NOT EXISTS timescaledb' WHERE current_setting('shared_preload_libraries') ~ 'timescaledb' \\gexec`,
    'SQL',
    ...(backup.kind === 'object-store'
      ? [
        `pgbackrest --stanza=${stanza} stanza-create`,
        `pgbackrest --stanza=${stanza} --type=full backup`,
      ]
      : [`echo "backups are disabled in this environment: ${backup.reason.replace(/"/g, "'")}"`]),
    '',
  ].join('\n');
}

/** File name of the pgBackRest configuration. */
export const PGBACKREST_CONF = 'pgbackrest.conf';

/**
 * pgBackRest's configuration: the environment's bucket as repository 1, retention by full-backup
 * count, and the local data directory. The bucket credentials come from the environment
 * (`PGBACKREST_REPO1_S3_KEY`, `PGBACKREST_REPO1_S3_KEY_SECRET`) set from a Secret.
 */
export function pgbackrestConf(backup: ObjectStoreBackup, environment: string, port: number): string {
  const p = TIMESCALEDB_PATRONI;
  return [
    '# Generated by nautilus-k8s from the environment\'s backup settings. Do not edit.',
    '[global]',
    'repo1-type=s3',
    `repo1-s3-bucket=${backup.bucket}`,
    `repo1-s3-endpoint=${backup.endpoint}`,
    `repo1-s3-region=${backup.region}`,
    `repo1-path=/${environment}/${p.scope}`,
    'repo1-retention-full-type=count',
    `repo1-retention-full=${backup.retainFullBackups}`,
    'compress-type=zst',
    'process-max=2',
    'start-fast=y',
    'delta=y',
    'log-level-console=info',
    'log-level-file=off',
    '',
    `[${p.backupStanza}]`,
    `pg1-path=${p.dataDirectory}`,
    `pg1-port=${port}`,
    `pg1-socket-path=${p.socketDirectory}`,
    `pg1-user=${SUPERUSER}`,
    '',
  ].join('\n');
}

/** File name of the backup schedule the backup container runs. */
export const BACKUP_SCHEDULE_SCRIPT = 'backup-schedule.sh';

/**
 * The full-backup schedule, run by a second container in every member. pgBackRest must run beside
 * the data directory (a CronJob's pod cannot mount the primary's volume, and a remote repository
 * host would need TLS certificates or SSH), so the loop lives in the pod and only the member that
 * is the primary at that moment backs up; pgBackRest's own lock prevents overlaps.
 */
export function backupScheduleScript(backup: ObjectStoreBackup): string {
  const stanza = TIMESCALEDB_PATRONI.backupStanza;
  return [
    '#!/bin/bash',
    '# Generated by nautilus-k8s. A full backup every FULL_BACKUP_EVERY_SECONDS on the primary.',
    'set -uo pipefail',
    "trap 'exit 0' TERM",
    `interval="\${FULL_BACKUP_EVERY_SECONDS:-${backup.fullBackupEvery.toSeconds()}}"`,
    'while true; do',
    '  sleep "$interval" & wait $!',
    `  primary="$(psql -h ${TIMESCALEDB_PATRONI.socketDirectory} -U ${SUPERUSER} -d postgres -Atc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)"`,
    '  if [ "$primary" = t ]; then',
    // A backup also expires what the retention no longer needs.
    `    pgbackrest --stanza=${stanza} --type=full backup \\`,
    '      || echo "backup-schedule: full backup failed; retrying after the next interval" >&2',
    '  fi',
    'done',
    '',
  ].join('\n');
}
