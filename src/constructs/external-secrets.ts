import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  ClusterSecretStore, ClusterSecretStoreSpecProviderVaultVersion, ExternalSecret, ExternalSecretSpecDataRemoteRefConversionStrategy,
  ExternalSecretSpecDataRemoteRefDecodingStrategy, ExternalSecretSpecDataRemoteRefMetadataPolicy, ExternalSecretSpecSecretStoreRefKind,
  ExternalSecretSpecTargetCreationPolicy, ExternalSecretSpecTargetDeletionPolicy, ExternalSecretSpecTargetTemplateEngineVersion,
  ExternalSecretSpecTargetTemplateMergePolicy,
} from '../../imports/external-secrets.io';
import { KubeClusterRoleBinding } from '../../imports/k8s';
import { VaultSecrets } from '../environments/environment';
import { PlatformSecret } from '../planning/secrets';
import { componentLabels } from './labels';

/** Properties of {@link ExternalSecrets}. */
export interface ExternalSecretsProps {
  readonly environmentName: string;
  readonly vault: VaultSecrets;
  /** Every Secret the workloads read. */
  readonly secrets: readonly PlatformSecret[];
  /** The namespace of the service account Vault's Kubernetes auth logs in as. */
  readonly readerNamespace: string;
}

/** The service account the secret store logs in to Vault as. */
export const SECRETS_READER = 'secrets-reader';

/**
 * The environment's credentials, synced from Vault by the External Secrets Operator: one
 * ClusterSecretStore (usable from the namespaces that read Secrets only), logging in with Vault's
 * Kubernetes auth as the `secrets-reader` service account, and an ExternalSecret per Secret and
 * namespace, each key a property of the Secret's KV entry. The operator owns the Secrets it writes
 * (they go when their ExternalSecret goes) and reads them again every refresh interval.
 *
 * @see https://external-secrets.io/latest/provider/hashicorp-vault/
 */
export class ExternalSecrets extends Construct {
  constructor(scope: Construct, id: string, props: ExternalSecretsProps) {
    super(scope, id);
    const { vault, secrets } = props;
    const storeName = `nautilus-${props.environmentName}`;
    const labels = componentLabels(SECRETS_READER, 'secrets');
    // Never mounted: the operator asks the API server for the account's tokens (TokenRequest).
    new kplus.ServiceAccount(this, 'Reader', { metadata: { name: SECRETS_READER, namespace: props.readerNamespace, labels }, automountToken: false });
    // Vault, outside the cluster, checks the account's token by calling the TokenReview API with
    // that same token, which the account may do with this role.
    new KubeClusterRoleBinding(this, 'ReaderTokenReview', {
      metadata: { name: `${storeName}-${SECRETS_READER}-token-review`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: SECRETS_READER, namespace: props.readerNamespace }],
    });
    const namespaces = [...new Set(secrets.flatMap((s) => s.namespaces))].sort();
    new ClusterSecretStore(this, 'Store', {
      metadata: { name: storeName, labels },
      spec: {
        conditions: [{ namespaces }],
        provider: {
          vault: {
            server: vault.server, path: vault.mount, version: ClusterSecretStoreSpecProviderVaultVersion.V2,
            auth: { kubernetes: { mountPath: vault.auth.mountPath, role: vault.auth.role, serviceAccountRef: { name: SECRETS_READER, namespace: props.readerNamespace } } },
          },
        },
      },
    });
    for (const secret of secrets) {
      for (const namespace of secret.namespaces) {
        new ExternalSecret(this, `${secret.name}@${namespace}`, {
          metadata: { name: secret.name, namespace, labels: componentLabels(secret.name, 'secrets') },
          spec: {
            refreshInterval: vault.refreshInterval.toPrometheus(),
            secretStoreRef: { kind: ExternalSecretSpecSecretStoreRefKind.CLUSTER_SECRET_STORE, name: storeName },
            target: {
              name: secret.name,
              creationPolicy: ExternalSecretSpecTargetCreationPolicy.OWNER,
              // A value gone from Vault leaves the last one in place rather than break the readers.
              deletionPolicy: ExternalSecretSpecTargetDeletionPolicy.RETAIN,
              ...(secret.type ? {
                template: {
                  type: secret.type,
                  // The operator's defaults, written out: the form the API server stores.
                  engineVersion: ExternalSecretSpecTargetTemplateEngineVersion.V2, mergePolicy: ExternalSecretSpecTargetTemplateMergePolicy.REPLACE,
                },
              } : {}),
            },
            data: secret.keys.map((key) => ({
              secretKey: key,
              remoteRef: {
                key: `${vault.pathPrefix}/${secret.path}`, property: key,
                // The operator's defaults, written out: the form the API server stores.
                conversionStrategy: ExternalSecretSpecDataRemoteRefConversionStrategy.DEFAULT,
                decodingStrategy: ExternalSecretSpecDataRemoteRefDecodingStrategy.NONE,
                metadataPolicy: ExternalSecretSpecDataRemoteRefMetadataPolicy.NONE,
              },
            })),
          },
        });
      }
    }
  }
}
