import { DataStoreName } from '../catalog/engine-spec';
import { SecretKey } from './environment-variables';

/** The database engines connect to on TimescaleDB. */
export const TRADING_DATABASE = 'nautilus';

/**
 * A Secret the manifests reference but never contain, and the keys read from it: the environment's
 * secret manager provides it (src/planning/secrets.ts), in every namespace that reads it.
 */
export interface SecretDefinition {
  readonly name: string;
  readonly keys: readonly string[];
  /** `kubernetes.io/tls` for a certificate and its key (keys `tls.crt`, `tls.key`). @default Opaque */
  readonly type?: 'kubernetes.io/tls';
}

/**
 * The credentials of each store its clients read: the engines depending on it and its own pods,
 * each in their namespace (a Secret cannot be read across namespaces).
 */
export const CREDENTIAL_SECRETS: Readonly<Record<DataStoreName, SecretDefinition>> = {
  timescaledb: { name: 'timescaledb-credentials', keys: ['username', 'password'] },
  redis: { name: 'redis-credentials', keys: ['password'] },
};

/**
 * Secrets only TimescaleDB's own pods read, in the data namespace: the PostgreSQL superuser's
 * password (the superuser is `postgres`) and the streaming-replication role. The backup bucket's
 * credentials are named by each environment's backup settings.
 */
export const TIMESCALEDB_SECRETS: Readonly<Record<'superuser' | 'replication', SecretDefinition>> = {
  superuser: { name: 'timescaledb-superuser', keys: ['password'] },
  replication: { name: 'timescaledb-replication', keys: ['username', 'password'] },
};

/** The keys of an object store's credentials Secret (the backup bucket's). */
export const OBJECT_STORE_CREDENTIAL_KEYS: readonly string[] = ['access-key-id', 'secret-access-key'];

/** An engine variable's value taken from `key` of the credentials Secret of `store`. */
export function credentialRef(store: DataStoreName, key: string): SecretKey {
  return { secret: CREDENTIAL_SECRETS[store].name, key };
}
