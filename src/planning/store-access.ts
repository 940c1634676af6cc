import { DataStoreName } from '../catalog/engine-spec';
import { SecretKey } from './environment-variables';

/** The database engines connect to on TimescaleDB. */
export const TRADING_DATABASE = 'nautilus';

/**
 * Secrets the manifests reference but never contain. They are provisioned per namespace by the
 * cluster's secret manager (a Secret cannot be read across namespaces).
 */
export const CREDENTIAL_SECRETS: Readonly<Record<DataStoreName, { readonly name: string; readonly keys: readonly string[] }>> = {
  timescaledb: { name: 'timescaledb-credentials', keys: ['username', 'password'] },
  redis: { name: 'redis-credentials', keys: ['password'] },
};

/**
 * Secrets only TimescaleDB's own pods read, in the data namespace: the PostgreSQL superuser's
 * password (the superuser is `postgres`) and the streaming-replication role. The backup bucket's
 * credentials are named by each environment's backup settings.
 */
export const TIMESCALEDB_SECRETS = {
  superuser: { name: 'timescaledb-superuser', keys: ['password'] },
  replication: { name: 'timescaledb-replication', keys: ['username', 'password'] },
} as const;

/** An engine variable's value taken from `key` of the credentials Secret of `store`. */
export function credentialRef(store: DataStoreName, key: string): SecretKey {
  return { secret: CREDENTIAL_SECRETS[store].name, key };
}
