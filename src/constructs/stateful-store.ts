import { createHash } from 'crypto';
import { Construct } from 'constructs';
import {
  Container, IntOrString, KubeConfigMap, KubeService, KubeServiceAccount, KubeStatefulSet,
  Quantity, Volume, VolumeMount,
} from '../../imports/k8s';
import { imageVersion, mirroredImage } from '../model/domains';
import { Memory } from '../model/quantities';
import { DataStorePlan } from '../planning/plan';
import { componentLabels, selectorLabels } from './labels';
import { placement } from './scheduling';

/** The PriorityClass of the data stores: every engine needs them, so nothing may preempt them. */
export const DATA_PRIORITY_CLASS = 'nautilus-data';

/** Properties of a {@link StatefulStore}. */
export interface StatefulStoreProps {
  /** The store as it runs in this environment. */
  readonly plan: DataStorePlan;
  /** File name and content of the server's configuration, mounted read-only at `configMountPath`. */
  readonly configFile: { readonly name: string; readonly content: string; readonly mountPath: string };
  /** Where the data volume is mounted. */
  readonly dataMountPath: string;
  /** The server container's process, environment and probes; resources, mounts and security are added here. */
  readonly container: Pick<Container, 'command' | 'args' | 'env' | 'startupProbe' | 'livenessProbe' | 'readinessProbe'>;
  /**
   * Extra writable scratch mounts the server needs with a read-only root filesystem. Each is an
   * emptyDir capped at `size` (default: 256Mi on disk; a quarter of the memory limit in memory,
   * which it counts against), so a runaway writer is evicted instead of filling the node's disk.
   */
  readonly scratch: ReadonlyArray<{ readonly name: string; readonly mountPath: string; readonly memory?: boolean; readonly size?: Memory }>;
}

/**
 * A single-primary data store: a StatefulSet whose claims outlive it, a ConfigMap with its
 * configuration, a client Service and a headless Service for stable pod DNS.
 */
export class StatefulStore extends Construct {
  /** Name of the headless Service giving pods stable DNS names. */
  public readonly headlessServiceName: string;

  constructor(scope: Construct, id: string, props: StatefulStoreProps) {
    super(scope, id);
    const { plan } = props;
    const { store } = plan;
    const labels = componentLabels(store.name, 'data-store', imageVersion(store.image));
    const metadata = (name: string) => ({ name, namespace: plan.namespace, labels });
    this.headlessServiceName = `${store.name}-headless`;

    new KubeServiceAccount(this, 'ServiceAccount', { metadata: metadata(store.name), automountServiceAccountToken: false });

    const configMap = new KubeConfigMap(this, 'Config', {
      metadata: metadata(`${store.name}-config`),
      data: { [props.configFile.name]: props.configFile.content },
    });

    const ports = [{ name: store.portName, port: store.port, targetPort: IntOrString.fromNumber(store.port), protocol: 'TCP' }];
    new KubeService(this, 'Service', {
      metadata: metadata(store.name),
      spec: { type: 'ClusterIP', selector: selectorLabels(store.name), ports },
    });
    new KubeService(this, 'HeadlessService', {
      metadata: metadata(this.headlessServiceName),
      spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector: selectorLabels(store.name), ports },
    });

    const volumes: Volume[] = [
      { name: 'config', configMap: { name: configMap.name } },
      ...props.scratch.map((s) => {
        const size = s.size ?? (s.memory ? Memory.mebibytes(plan.memory.mebibytes / 4) : Memory.mebibytes(256));
        return { name: s.name, emptyDir: { ...(s.memory ? { medium: 'Memory' } : {}), sizeLimit: Quantity.fromString(size.toQuantity()) } };
      }),
    ];
    const volumeMounts: VolumeMount[] = [
      { name: 'data', mountPath: props.dataMountPath },
      { name: 'config', mountPath: props.configFile.mountPath, readOnly: true },
      ...props.scratch.map((s) => ({ name: s.name, mountPath: s.mountPath })),
    ];

    new StoredFormStatefulSet(this, 'StatefulSet', {
      metadata: metadata(store.name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas: plan.replicas,
        selector: { matchLabels: selectorLabels(store.name) },
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate' },
        // Deleting or scaling down the StatefulSet must never delete data.
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: {
          metadata: {
            labels,
            // Restart the server when its configuration changes.
            annotations: { 'nautilus.io/config-sha256': sha256(props.configFile.content) },
          },
          spec: {
            serviceAccountName: store.name,
            automountServiceAccountToken: false,
            priorityClassName: DATA_PRIORITY_CLASS,
            terminationGracePeriodSeconds: store.terminationGracePeriodSeconds,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: store.uid,
              runAsGroup: store.uid,
              fsGroup: store.uid,
              fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            ...placement(plan.pool, plan.replicas, selectorLabels(store.name)),
            containers: [{
              name: store.name,
              // Through the environment's mirror; pinned by digest when the catalog's reference is.
              image: mirroredImage(store.image, plan.environment.thirdPartyMirror),
              imagePullPolicy: 'IfNotPresent',
              ...props.container,
              ports: [{ name: store.portName, containerPort: store.port, protocol: 'TCP' }],
              resources: {
                requests: { cpu: Quantity.fromString(plan.cpuRequest.toQuantity()), memory: Quantity.fromString(plan.memory.toQuantity()) },
                limits: { memory: Quantity.fromString(plan.memory.toQuantity()) },
              },
              volumeMounts,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
            }],
            volumes,
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'data', labels: selectorLabels(store.name) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: plan.storageClassName,
            volumeMode: 'Filesystem',
            resources: { requests: { storage: Quantity.fromString(plan.storage.toQuantity()) } },
          },
        }],
      },
    });
  }
}

/**
 * A StatefulSet whose claim templates are written the way the API server stores them: each a
 * whole PersistentVolumeClaim with apiVersion, kind and the `status.phase: Pending` the server
 * fills in. For kubectl's client-side apply volumeClaimTemplates is an atomic list, so a template
 * lacking any of them is resent whole on every apply and never converges. The generated props
 * type carries metadata and spec only (and the L1 class's toJson drops anything else, JSON
 * patches included), hence the override.
 */
class StoredFormStatefulSet extends KubeStatefulSet {
  public override toJson(): any {
    const json = super.toJson();
    const templates: Array<Record<string, unknown>> | undefined = json.spec?.volumeClaimTemplates;
    if (templates) {
      json.spec.volumeClaimTemplates = templates.map((template) => ({
        apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...template, status: { phase: 'Pending' },
      }));
    }
    return json;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
