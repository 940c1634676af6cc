import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  ClusterSecretStore, ClusterSecretStoreSpecProviderVaultVersion, ExternalSecret, ExternalSecretSpecDataRemoteRefConversionStrategy,
  ExternalSecretSpecDataRemoteRefDecodingStrategy, ExternalSecretSpecDataRemoteRefMetadataPolicy, ExternalSecretSpecSecretStoreRefKind,
  ExternalSecretSpecTargetCreationPolicy, ExternalSecretSpecTargetDeletionPolicy, ExternalSecretSpecTargetTemplateEngineVersion,
  ExternalSecretSpecTargetTemplateMergePolicy,
} from '../../imports/external-secrets.io';
import { VaultSecrets } from '../environments/environment';
import { PlatformSecret } from '../planning/secrets';
import { componentLabels } from './labels';

/** Properties of {@link ExternalSecrets}. */
export interface ExternalSecretsProps {
  readonly environmentName: string;
  readonly vault: VaultSecrets;
  /** Every Secret the workloads read. */
  readonly secrets: readonly PlatformSecret[];
  /** The service account the operator logs in to Vault as. */
  readonly reader: { readonly name: string; readonly namespace: string };
}

/**
 * The environment's credentials, synced from Vault by the External Secrets Operator: one
 * ClusterSecretStore (usable from the namespaces that read Secrets only), logging in with Vault's
 * JWT auth with a token of the reader's service account, and an ExternalSecret per Secret and
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
    const labels = componentLabels(props.reader.name, 'secrets');
    // Never mounted: the operator asks the API server for the account's short-lived tokens (TokenRequest).
    new kplus.ServiceAccount(this, 'Reader', { metadata: { name: props.reader.name, namespace: props.reader.namespace, labels }, automountToken: false });
    const namespaces = [...new Set(secrets.flatMap((s) => s.namespaces))].sort();
    new ClusterSecretStore(this, 'Store', {
      metadata: { name: storeName, labels },
      spec: {
        conditions: [{ namespaces }],
        provider: {
          vault: {
            server: vault.server, path: vault.mount, version: ClusterSecretStoreSpecProviderVaultVersion.V2,
            auth: {
              jwt: {
                path: vault.auth.mountPath, role: vault.auth.role,
                kubernetesServiceAccountToken: { serviceAccountRef: { name: props.reader.name, namespace: props.reader.namespace }, audiences: [vault.auth.audience] },
              },
            },
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
