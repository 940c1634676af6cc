import { createHash } from 'crypto';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  Container, IntOrString, KubePodDisruptionBudget, KubeStatefulSet, Quantity, ResourceRequirements, ServiceSpec,
  Volume, VolumeMount,
} from '../../imports/k8s';
import { imageVersion, mirroredImage } from '../model/domains';
import { Cpu, Memory } from '../model/quantities';
import { DataStorePlan } from '../planning/plan';
import { service, setField } from './escape-hatches';
import { componentLabels, selectorLabels } from './labels';
import { placement } from './scheduling';

/** The PriorityClass of the data stores: every engine needs them, so nothing may preempt them. */
export const DATA_PRIORITY_CLASS = 'nautilus-data';

/** The headless Service giving a store's pods stable DNS names (`<pod>.<it>.<namespace>.svc...`). */
export function headlessServiceName(storeName: string): string {
  return `${storeName}-headless`;
}

/** Properties of a {@link StatefulStore}. */
export interface StatefulStoreProps {
  /** The store as it runs in this environment. */
  readonly plan: DataStorePlan;
  /** File name and content of the server's configuration, mounted read-only at `mountPath`. */
  readonly configFile: { readonly name: string; readonly content: string; readonly mountPath: string };
  /** Further files mounted beside `configFile` (scripts, a second program's configuration). @default none */
  readonly additionalConfigFiles?: Readonly<Record<string, string>>;
  /** Name of the ConfigMap holding the files. @default `<store>-config` */
  readonly configMapName?: string;
  /** Ports of the server container besides the client ports (e.g. Patroni's REST API). @default none */
  readonly serverPorts?: ReadonlyArray<{ readonly name: string; readonly port: number }>;
  /** Pod labels besides the store's own (e.g. the label a replication manager lists members by). @default none */
  readonly podLabels?: Readonly<Record<string, string>>;
  /**
   * Labels the client Service selects besides the store's own: with a replication manager, the
   * primary's role label, so clients always reach the current primary. @default none
   */
  readonly clientSelector?: Readonly<Record<string, string>>;
  /**
   * Whether the pod mounts its ServiceAccount's token, for a store that talks to the API server
   * (Patroni keeps its leader lock there). The ServiceAccount itself never automounts.
   * @default false
   */
  readonly apiServerAccess?: boolean;
  /**
   * A Secret mounted read-only as files (readable by the pod's group only): how a server gets a
   * password without it appearing in any process's arguments or environment. @default none
   */
  readonly secretFiles?: { readonly secretName: string; readonly mountPath: string };
  /** Where the data volume is mounted. */
  readonly dataMountPath: string;
  /** The server container's process, environment and probes; resources, mounts and security are added here. */
  readonly container: Pick<Container, 'command' | 'args' | 'env' | 'startupProbe' | 'livenessProbe' | 'readinessProbe' | 'lifecycle'>;
  /**
   * Extra writable scratch mounts the server needs with a read-only root filesystem. Each is an
   * emptyDir capped at `size` (default: 256Mi on disk; a quarter of the memory limit in memory,
   * which it counts against), so a runaway writer is evicted instead of filling the node's disk.
   */
  readonly scratch: ReadonlyArray<{ readonly name: string; readonly mountPath: string; readonly memory?: boolean; readonly size?: Memory }>;
  /**
   * Containers beside the server, from the same image with the same mounts and security (e.g. a
   * Sentinel). Their CPU and memory are requested and limited alike, so a pinned pod stays
   * Guaranteed; a fraction of a CPU is never pinned. @default none
   */
  readonly sidecars?: ReadonlyArray<Pick<Container, 'name' | 'command' | 'args' | 'env' | 'ports' | 'startupProbe' | 'livenessProbe' | 'readinessProbe'> & { readonly cpu: Cpu; readonly memory: Memory }>;
}

/**
 * A data store: a StatefulSet whose claims outlive it, a ConfigMap with its configuration, a
 * client Service and a headless Service for stable pod DNS; with two or more members, a
 * PodDisruptionBudget letting a drain take one at a time.
 */
export class StatefulStore extends Construct {
  /** Name of the headless Service giving pods stable DNS names. */
  public readonly headlessServiceName: string;
  /** The ServiceAccount the pods run as. */
  public readonly serviceAccountName: string;
  /** Labels every object of the store carries. */
  protected readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: StatefulStoreProps) {
    super(scope, id);
    const { plan } = props;
    const { store } = plan;
    const labels = componentLabels(store.name, 'data-store', imageVersion(store.image));
    this.labels = labels;
    const metadata = (name: string) => ({ name, namespace: plan.namespace, labels });
    this.headlessServiceName = headlessServiceName(store.name);
    this.serviceAccountName = store.name;

    new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: metadata(store.name), automountToken: false });

    const configData = { [props.configFile.name]: props.configFile.content, ...props.additionalConfigFiles };
    const configMap = new kplus.ConfigMap(this, 'Config', {
      metadata: metadata(props.configMapName ?? `${store.name}-config`),
      data: configData,
    });

    const servicePort = (p: { name: string; port: number }): kplus.ServicePort =>
      ({ name: p.name, port: p.port, targetPort: p.port, protocol: kplus.Protocol.TCP });
    const ports = plan.clientPorts.map(servicePort);
    const memberPorts = plan.replicas > 1
      ? store.peerPorts.filter((p) => !plan.clientPorts.some((c) => c.port === p.port)).map(servicePort)
      : [];
    service(this, 'Service', {
      metadata: metadata(store.name),
      type: kplus.ServiceType.CLUSTER_IP,
      selector: kplus.Pods.select(this, 'ClientPods', { labels: { ...selectorLabels(store.name), ...props.clientSelector } }),
      ports,
    });
    const headless = service(this, 'HeadlessService', {
      metadata: metadata(this.headlessServiceName),
      clusterIP: 'None',
      selector: kplus.Pods.select(this, 'MemberPods', { labels: selectorLabels(store.name) }),
      ports: [...ports, ...memberPorts],
    });
    // cdk8s-plus-27 has no publishNotReadyAddresses: members must find each other before they are ready.
    setField<ServiceSpec, 'publishNotReadyAddresses'>(headless, '/spec', 'publishNotReadyAddresses', true);
    if (plan.replicas > 1) {
      new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: metadata(store.name),
        spec: {
          // One member at a time: with three, two stay up (one primary, one replica to fail over to).
          maxUnavailable: IntOrString.fromNumber(1),
          selector: { matchLabels: selectorLabels(store.name) },
          // A member that is not Ready serves nothing; letting a drain evict it cannot hurt.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }

    const volumes: Volume[] = [
      // Scripts in the ConfigMap are run through `sh`, never executed directly: 0444 is enough.
      { name: 'config', configMap: { name: configMap.name, defaultMode: 0o444 } },
      ...(props.secretFiles ? [{ name: 'credentials', secret: { secretName: props.secretFiles.secretName, defaultMode: 0o440 } }] : []),
      ...props.scratch.map((s) => {
        const size = s.size ?? (s.memory ? Memory.mebibytes(plan.memory.mebibytes / 4) : Memory.mebibytes(256));
        return { name: s.name, emptyDir: { ...(s.memory ? { medium: 'Memory' } : {}), sizeLimit: Quantity.fromString(size.toQuantity()) } };
      }),
    ];
    const volumeMounts: VolumeMount[] = [
      { name: 'data', mountPath: props.dataMountPath },
      { name: 'config', mountPath: props.configFile.mountPath, readOnly: true },
      ...(props.secretFiles ? [{ name: 'credentials', mountPath: props.secretFiles.mountPath, readOnly: true }] : []),
      ...props.scratch.map((s) => ({ name: s.name, mountPath: s.mountPath })),
    ];
    const containerSecurity = {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    };
    const resources = (cpu: Cpu, memory: Memory, limitCpu: boolean): ResourceRequirements => ({
      requests: { cpu: Quantity.fromString(cpu.toQuantity()), memory: Quantity.fromString(memory.toQuantity()) },
      limits: {
        ...(limitCpu ? { cpu: Quantity.fromString(cpu.toQuantity()) } : {}),
        memory: Quantity.fromString(memory.toQuantity()),
      },
    });
    const image = mirroredImage(store.image, plan.environment.thirdPartyMirror);
    const sidecars: Container[] = (props.sidecars ?? []).map(({ cpu, memory, ...sidecar }) => ({
      image,
      imagePullPolicy: 'IfNotPresent',
      ...sidecar,
      // Request == limit: Guaranteed where the server is pinned, and never more than its share.
      resources: resources(cpu, memory, true),
      volumeMounts,
      securityContext: containerSecurity,
    }));

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
            labels: { ...labels, ...props.podLabels },
            // Restart the server when its configuration (or a script beside it) changes.
            annotations: { 'nautilus.io/config-sha256': sha256(JSON.stringify(configData)) },
          },
          spec: {
            serviceAccountName: store.name,
            automountServiceAccountToken: props.apiServerAccess ?? false,
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
              image,
              imagePullPolicy: 'IfNotPresent',
              ...props.container,
              ports: [store, ...(props.serverPorts ?? []).map((p) => ({ portName: p.name, port: p.port }))]
                .map((p) => ({ name: p.portName, containerPort: p.port, protocol: 'TCP' })),
              // Pinned: CPU limit == request (whole cores), which with the memory makes the pod
              // Guaranteed and its cores exclusive. Otherwise no CPU limit: no throttling.
              resources: resources(plan.cpuRequest, plan.memory, plan.cpuLimit !== undefined),
              volumeMounts,
              securityContext: containerSecurity,
            }, ...sidecars],
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
