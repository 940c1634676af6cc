import { Construct } from 'constructs';
import { DataStorePlan } from '../planning/plan';
import { CREDENTIAL_SECRETS, TRADING_DATABASE } from '../planning/runtime-contract';
import { postgresqlConf } from './timescaledb-configuration';
import { StatefulStore } from './stateful-store';

const secret = (key: string) => ({
  secretKeyRef: { name: CREDENTIAL_SECRETS.timescaledb.name, key },
});

/**
 * TimescaleDB as one PostgreSQL primary. PGDATA is a subdirectory of the volume (the volume root
 * holds lost+found), `/dev/shm` is memory-backed for parallel queries.
 */
export class TimescaleDb extends StatefulStore {
  constructor(scope: Construct, id: string, plan: DataStorePlan) {
    const port = plan.store.port;
    const isReady = {
      exec: {
        command: ['/bin/sh', '-c', `exec pg_isready -h 127.0.0.1 -p ${port} -U "$POSTGRES_USER" -d ${TRADING_DATABASE}`],
      },
    };
    super(scope, id, {
      plan,
      configFile: { name: 'postgresql.conf', content: postgresqlConf(plan.memory, port), mountPath: '/etc/postgresql' },
      dataMountPath: '/var/lib/postgresql/data',
      container: {
        args: ['postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf'],
        env: [
          { name: 'POSTGRES_USER', valueFrom: secret('username') },
          { name: 'POSTGRES_PASSWORD', valueFrom: secret('password') },
          { name: 'POSTGRES_DB', value: TRADING_DATABASE },
          { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
          { name: 'TIMESCALEDB_TELEMETRY', value: 'off' },
          // Our postgresql.conf is already sized; the image's tuner must not rewrite settings.
          { name: 'NO_TS_TUNE', value: 'true' },
        ],
        // First start runs initdb: allow it five minutes.
        startupProbe: { ...isReady, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 60 },
        livenessProbe: { ...isReady, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
        readinessProbe: { ...isReady, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
      },
      scratch: [
        { name: 'run', mountPath: '/var/run/postgresql' },
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'shm', mountPath: '/dev/shm', memory: true },
      ],
    });
  }
}
