import { createHash } from 'crypto';
import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  Container, EmptyDirVolumeSource, IntOrString, KubePodDisruptionBudget, Quantity, ResourceRequirements,
  SecurityContext, ServiceSpec, StatefulSetSpec,
} from '../../imports/k8s';
import { DATA_FORMAT_ANNOTATION, formatDataFormat } from '../model/data-format';
import { imageVersion, mirroredImage } from '../model/domains';
import { Duration } from '../model/duration';
import { Cpu, Memory } from '../model/quantities';
import { EnvironmentVariable } from '../planning/environment-variables';
import { DataStorePlan } from '../planning/plan';
import { NamedPort } from '../planning/stores/store-kind';
import { plusDuration } from './durations';
import { envVariables } from './environment-variables';
import { ADDRESS_LABEL, completePlatformPod, removeField, service, setField, withoutPlusWorkloadDefaults } from './escape-hatches';
import { componentLabels, selectorLabels } from './labels';
import { schedule } from './scheduling';

/** The PriorityClass of the data stores: every engine needs them, so nothing may preempt them. */
export const DATA_PRIORITY_CLASS = 'nautilus-data';

/** The headless Service giving a store's pods stable DNS names (`<pod>.<it>.<namespace>.svc...`). */
export function headlessServiceName(storeName: string): string {
  return `${storeName}-headless`;
}

/** How often the kubelet runs a store container's probe, how long it waits and how many failures it accepts. */
export interface StoreProbeTiming {
  /** Time between two runs. */
  readonly period: Duration;
  /** How long one run may take before it counts as failed. */
  readonly timeout: Duration;
  /** Failures in a row that count as the probe failing. */
  readonly failureThreshold: number;
}

/** A probe of a store container: a command whose exit status answers, or an HTTP GET on a port of the pod. */
export type StoreProbe = StoreProbeTiming & (
  | { readonly command: readonly string[] }
  | { readonly httpGet: { readonly path: string; readonly port: number } }
);

/**
 * A container of a store's pod as its store construct describes it: the process, its environment,
 * ports, probes and what it runs before stopping. StatefulStore adds the image, resources, mounts
 * and security every store container shares.
 */
export interface StoreContainer {
  /** The process to run. @default the image's entrypoint */
  readonly command?: readonly string[];
  /** Its arguments. @default none */
  readonly args?: readonly string[];
  /** Its environment: values, Secret keys and pod fields. @default none */
  readonly env?: readonly EnvironmentVariable[];
  /** Ports the container listens on, by name. @default none */
  readonly ports?: readonly NamedPort[];
  /** Holds the other probes off until it first succeeds. @default none */
  readonly startupProbe?: StoreProbe;
  /** Restarts the container when it fails. @default none */
  readonly livenessProbe?: StoreProbe;
  /** Takes the pod out of its Services' endpoints when it fails. @default none */
  readonly readinessProbe?: StoreProbe;
  /** A command the kubelet runs before stopping the container (e.g. handing a primary role away). @default none */
  readonly preStop?: readonly string[];
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
  readonly serverPorts?: readonly NamedPort[];
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
  readonly container: Omit<StoreContainer, 'ports'>;
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
  readonly sidecars?: ReadonlyArray<StoreContainer & {
    readonly name: string;
    readonly cpu: Cpu;
    readonly memory: Memory;
    /** Another image than the store's (an exporter), pulled through the same mirror. @default the store's image */
    readonly image?: string;
    /**
     * The pod volumes it mounts, by name (`data`, `config`, `credentials` or a scratch name), for a
     * sidecar that needs less than the server (an exporter). @default all of them
     */
    readonly mounts?: readonly string[];
  }>;
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
  public readonly labels: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: StatefulStoreProps) {
    super(scope, id);
    const { plan } = props;
    const { store } = plan;
    const labels = componentLabels(store.name, 'data-store', imageVersion(store.image));
    this.labels = labels;
    const metadata = (name: string) => ({ name, namespace: plan.namespace, labels });
    this.headlessServiceName = headlessServiceName(store.name);
    this.serviceAccountName = store.name;

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: metadata(store.name), automountToken: false });

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
    if (plan.disruptionBudget) {
      new KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: metadata(store.name),
        spec: {
          maxUnavailable: IntOrString.fromNumber(plan.disruptionBudget.maxUnavailable),
          selector: { matchLabels: selectorLabels(store.name) },
          // A member that is not Ready serves nothing; letting a drain evict it cannot hurt.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }

    const volumes: Array<{ volume: kplus.Volume; mountPath: string; readOnly?: boolean; sizeLimit?: Memory }> = [
      // Scripts in the ConfigMap are run through `sh`, never executed directly: 0444 is enough.
      { volume: kplus.Volume.fromConfigMap(this, 'ConfigVolume', configMap, { name: 'config', defaultMode: 0o444 }), mountPath: props.configFile.mountPath, readOnly: true },
      ...(props.secretFiles
        ? [{
          volume: kplus.Volume.fromSecret(this, 'CredentialsVolume', kplus.Secret.fromSecretName(this, 'Credentials', props.secretFiles.secretName), {
            name: 'credentials', defaultMode: 0o440,
          }),
          mountPath: props.secretFiles.mountPath,
          readOnly: true,
        }]
        : []),
      ...props.scratch.map((s) => {
        const size = s.size ?? (s.memory ? Memory.mebibytes(plan.memory.mebibytes / 4) : Memory.mebibytes(256));
        const volume = kplus.Volume.fromEmptyDir(this, `Scratch-${s.name}`, s.name, {
          medium: s.memory ? kplus.EmptyDirMedium.MEMORY : undefined, sizeLimit: Size.mebibytes(size.mebibytes),
        });
        return { volume, mountPath: s.mountPath, sizeLimit: size };
      }),
    ];
    const volumeMounts: kplus.VolumeMount[] = volumes.map(({ volume, mountPath, readOnly }) => ({ volume, path: mountPath, readOnly }));
    const containerSecurity: kplus.ContainerSecurityContextProps = {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      ensureNonRoot: true,
    };
    const resources = (cpu: Cpu, memory: Memory, limitCpu: boolean): kplus.ContainerResources => ({
      cpu: { request: kplus.Cpu.millis(cpu.millicores), limit: limitCpu ? kplus.Cpu.millis(cpu.millicores) : undefined },
      memory: { request: Size.mebibytes(memory.mebibytes), limit: Size.mebibytes(memory.mebibytes) },
    });
    /** The L1 quantities of `resources`, which the API server stores as they are (cdk8s-plus-27 writes memory in Mi). */
    const requirements = (cpu: Cpu, memory: Memory, limitCpu: boolean): ResourceRequirements => ({
      requests: { cpu: Quantity.fromString(cpu.toQuantity()), memory: Quantity.fromString(memory.toQuantity()) },
      limits: {
        ...(limitCpu ? { cpu: Quantity.fromString(cpu.toQuantity()) } : {}),
        memory: Quantity.fromString(memory.toQuantity()),
      },
    });
    const image = mirroredImage(store.image, plan.environment.thirdPartyMirror);
    const container = (
      c: StoreContainer & { readonly name: string; readonly image?: string; readonly mounts?: readonly string[] }, cpu: Cpu, memory: Memory, limitCpu: boolean,
    ): kplus.ContainerProps => ({
      name: c.name,
      // Through the environment's mirror; pinned by digest when the catalog's reference is.
      image: c.image ? mirroredImage(c.image, plan.environment.thirdPartyMirror) : image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: c.command && [...c.command],
      args: c.args && [...c.args],
      envVariables: envVariables(this, c.env),
      ports: (c.ports ?? []).map((p) => ({ name: p.name, number: p.port, protocol: kplus.Protocol.TCP })),
      startup: probe(c.startupProbe),
      liveness: probe(c.livenessProbe),
      readiness: probe(c.readinessProbe),
      lifecycle: c.preStop ? { preStop: kplus.Handler.fromCommand([...c.preStop]) } : undefined,
      resources: resources(cpu, memory, limitCpu),
      volumeMounts: [{ volume: dataVolume, path: props.dataMountPath }, ...volumeMounts].filter((m) => !c.mounts || c.mounts.includes(m.volume.name)),
      securityContext: containerSecurity,
    });
    // The claim template's volume: mounted by name, provided by volumeClaimTemplates below, never
    // listed among the pod's volumes.
    const dataVolume = kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', kplus.PersistentVolumeClaim.fromClaimName(this, 'DataClaim', 'data'), { name: 'data' });
    const serverPorts: NamedPort[] = [{ name: store.portName, port: store.port }, ...(props.serverPorts ?? [])];
    const sidecars = props.sidecars ?? [];

    const statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: {
        ...metadata(store.name),
        // What the data on its volumes was written by: the deploy tool refuses a rollback that moves it backwards.
        ...(plan.dataFormat ? { annotations: { [DATA_FORMAT_ANNOTATION]: formatDataFormat(plan.dataFormat) } } : {}),
      },
      service: headless,
      select: false,
      replicas: plan.replicas,
      podManagementPolicy: kplus.PodManagementPolicy.ORDERED_READY,
      strategy: kplus.StatefulSetUpdateStrategy.rollingUpdate({ partition: 0 }),
      minReady: plusDuration(Duration.seconds(0)),
      podMetadata: {
        labels: { ...labels, ...props.podLabels },
        // Restart the server when its configuration (or a script beside it) changes.
        annotations: { 'nautilus.io/config-sha256': sha256(JSON.stringify(configData)) },
      },
      serviceAccount,
      automountServiceAccountToken: props.apiServerAccess ?? false,
      terminationGracePeriod: plusDuration(store.terminationGracePeriod),
      restartPolicy: kplus.RestartPolicy.ALWAYS,
      hostNetwork: false,
      dns: { policy: kplus.DnsPolicy.CLUSTER_FIRST, hostnameAsFQDN: false },
      securityContext: {
        ensureNonRoot: true,
        user: store.uid,
        group: store.uid,
        fsGroup: store.uid,
        fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
      },
      containers: [
        // Pinned: CPU limit == request (whole cores), which with the memory makes the pod
        // Guaranteed and its cores exclusive. Otherwise no CPU limit: no throttling.
        container({ name: store.name, ...props.container, ports: serverPorts }, plan.cpuRequest, plan.memory, plan.cpuLimit !== undefined),
        // Request == limit: Guaranteed where the server is pinned, and never more than its share.
        ...sidecars.map(({ cpu, memory, ...sidecar }) => container(sidecar, cpu, memory, true)),
      ],
    });
    statefulSet.select(kplus.LabelSelector.of({ labels: selectorLabels(store.name) }));
    this.completePodSpec(statefulSet, headless, plan, volumes.map((v) => v.sizeLimit), [
      requirements(plan.cpuRequest, plan.memory, plan.cpuLimit !== undefined),
      ...sidecars.map(({ cpu, memory }) => requirements(cpu, memory, true)),
    ]);
  }

  /** What cdk8s-plus-27 lacks of a store's StatefulSet, through typed escape hatches, and what it adds that must go. */
  private completePodSpec(
    statefulSet: kplus.StatefulSet, headless: kplus.Service, plan: DataStorePlan, sizeLimits: ReadonlyArray<Memory | undefined>, resources: ResourceRequirements[],
  ): void {
    const { store } = plan;
    const spec = '/spec/template/spec';
    withoutPlusWorkloadDefaults(statefulSet, '/spec/template', { hostNetwork: false, minReadySeconds: true });
    // cdk8s-plus-27 selects the StatefulSet's pods for its Service by the construct-address label
    // it adds; the headless Service keeps selecting by the store's own labels.
    removeField<Record<string, string>>(headless, '/spec/selector', ADDRESS_LABEL);
    // Clients find the stores by DNS, not by injected service-link variables.
    completePlatformPod(statefulSet, spec, { priorityClassName: DATA_PRIORITY_CLASS, enableServiceLinks: false });
    resources.forEach((requirements, index) => {
      // cdk8s-plus-27 writes memory in Mi, which the API server stores in its own units (1024Mi as 1Gi).
      setField<Container, 'resources'>(statefulSet, `${spec}/containers/${index}`, 'resources', requirements);
      // cdk8s-plus-27 has no capabilities list of bare names (it writes CAP_*).
      setField<SecurityContext, 'capabilities'>(statefulSet, `${spec}/containers/${index}/securityContext`, 'capabilities', { drop: ['ALL'] });
    });
    // The data volume is the claim template's: cdk8s-plus-27 lists every mounted volume in the pod.
    ApiObject.of(statefulSet).addJsonPatch(JsonPatch.remove(`${spec}/volumes/0`));
    sizeLimits.forEach((size, index) => {
      // cdk8s-plus-27 writes emptyDir size limits in Mi, which the API server stores in its own units (2048Mi as 2Gi).
      if (size) setField<EmptyDirVolumeSource, 'sizeLimit'>(statefulSet, `${spec}/volumes/${index}/emptyDir`, 'sizeLimit', Quantity.fromString(size.toQuantity()));
    });
    schedule(statefulSet, spec, plan.pool, plan.replicas, selectorLabels(store.name));
    // cdk8s-plus-27 has no volumeClaimTemplates nor PVC retention policy.
    // Deleting or scaling down the StatefulSet must never delete data.
    setField<StatefulSetSpec, 'persistentVolumeClaimRetentionPolicy'>(statefulSet, '/spec', 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
    setField<StatefulSetSpec, 'volumeClaimTemplates'>(statefulSet, '/spec', 'volumeClaimTemplates', [{
      metadata: { name: 'data', labels: selectorLabels(store.name) },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: plan.storageClassName,
        volumeMode: 'Filesystem',
        resources: { requests: { storage: Quantity.fromString(plan.storage.toQuantity()) } },
      },
    }]);
    inStoredForm(ApiObject.of(statefulSet));
  }
}

/**
 * Writes a StatefulSet's claim templates the way the API server stores them: each a whole
 * PersistentVolumeClaim with apiVersion, kind and the `status.phase: Pending` the server fills in.
 * For kubectl's client-side apply volumeClaimTemplates is an atomic list, so a template lacking any
 * of them is resent whole on every apply and never converges. The generated props type carries
 * metadata and spec only (and the L1 class's toJson drops anything else, JSON patches included),
 * hence wrapping the object's rendering.
 */
function inStoredForm(statefulSet: ApiObject): void {
  const render = statefulSet.toJson.bind(statefulSet);
  statefulSet.toJson = () => {
    const json = render();
    const templates: Array<Record<string, unknown>> | undefined = json.spec?.volumeClaimTemplates;
    if (templates) {
      json.spec.volumeClaimTemplates = templates.map((template) => ({
        apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...template, status: { phase: 'Pending' },
      }));
    }
    return json;
  };
}

/** A store probe as cdk8s-plus-27's. */
function probe(spec: StoreProbe | undefined): kplus.Probe | undefined {
  if (!spec) return undefined;
  const options = { periodSeconds: plusDuration(spec.period), timeoutSeconds: plusDuration(spec.timeout), failureThreshold: spec.failureThreshold };
  if ('command' in spec) return kplus.Probe.fromCommand([...spec.command], options);
  return kplus.Probe.fromHttpGet(spec.httpGet.path, { ...options, port: spec.httpGet.port, scheme: kplus.ConnectionScheme.HTTP });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
