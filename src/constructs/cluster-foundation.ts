import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  Container, DaemonSetSpec, KubeLimitRange, KubeNamespace, KubePriorityClass, KubeResourceQuota, KubeStorageClass,
  PodSpec, Quantity, SecurityContext,
} from '../../imports/k8s';
import {
  NodePool, NodePoolSpecDisruptionConsolidationPolicy, NodePoolSpecLimits, NodePoolSpecTemplateSpecRequirementsOperator,
  NodePoolSpecTemplateSpecTaintsEffect,
} from '../../imports/karpenter.sh';
import { NamespaceRole, Tier } from '../catalog/tier';
import { EnvironmentSpec, poolForRole } from '../environments/environment';
import { ARCH_LABEL, GPU_PRESENT_LABEL, GPU_RESOURCE, ZONE_LABEL, poolConsolidation, poolLabels, poolTaints } from '../environments/node-pool-policy';
import { DEVICE_PLUGIN_IMAGE, DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_RESOURCES } from '../catalog/third-party';
import { imageVersion, mirroredImage } from '../model/domains';
import { countQuantity, Cpu, Memory } from '../model/quantities';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES, NAMESPACE_POD_SECURITY } from '../planning/namespaces';
import { NamespaceQuotaPlan } from '../planning/quota';
import { completePlatformPod, setField, withoutPlusWorkloadDefaults } from './escape-hatches';
import { componentLabels, selectorLabels } from './labels';
import { TAINT_EFFECTS } from './scheduling';
import { DATA_PRIORITY_CLASS } from './stateful-store';

/** The Kubernetes minor version Pod Security levels are pinned to. */
export const POD_SECURITY_VERSION = 'v1.27';

export { DEVICE_PLUGIN_IMAGE };

/** Properties of {@link ClusterFoundation}. */
export interface ClusterFoundationProps {
  readonly environment: EnvironmentSpec;
  /** The platform namespaces' quotas, as planned. */
  readonly quotas: readonly NamespaceQuotaPlan[];
}

/**
 * Everything the workloads need to exist first: namespaces (with Pod Security levels), priority
 * classes, quotas and default requests, storage classes, node pools and the GPU device plugin.
 */
export class ClusterFoundation extends Construct {
  constructor(scope: Construct, id: string, props: ClusterFoundationProps) {
    super(scope, id);
    const { environment } = props;
    const hasGpuPool = poolForRole(environment, 'gpu') !== undefined;

    const roles = Object.keys(NAMESPACE_NAMES) as NamespaceRole[];
    // Namespaces first: everything after them may live in one.
    for (const role of roles) this.namespace(NAMESPACE_NAMES[role], NAMESPACE_POD_SECURITY[role]);
    if (hasGpuPool) this.namespace(DEVICE_PLUGIN_NAMESPACE, 'privileged');
    for (const quota of props.quotas) this.quota(quota);

    for (const tier of Tier.all()) {
      new KubePriorityClass(this, `Priority-${tier.name}`, {
        metadata: { name: tier.priorityClassName },
        value: tier.priorityValue,
        // globalDefault is left out, not `false`: the server drops a false default, so stating it
        // would make every apply patch it back.
        preemptionPolicy: 'PreemptLowerPriority',
        description: `Nautilus ${tier.name} tier`,
      });
    }
    new KubePriorityClass(this, 'Priority-data', {
      metadata: { name: DATA_PRIORITY_CLASS },
      // Above every engine tier: every engine needs the stores, so no engine may preempt them.
      value: Tier.ULTRA_LOW_LATENCY.priorityValue + 100_000,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'Nautilus data stores (TimescaleDB, Redis)',
    });

    for (const storageClass of environment.storageClasses) {
      new KubeStorageClass(this, `StorageClass-${storageClass.name}`, {
        metadata: { name: storageClass.name },
        provisioner: storageClass.provisioner,
        parameters: { ...storageClass.parameters },
        // Data outlives its claim: a deleted claim leaves the volume for an operator to decide.
        reclaimPolicy: 'Retain',
        allowVolumeExpansion: true,
        // Bind in the zone the pod is scheduled to, not a random one.
        volumeBindingMode: 'WaitForFirstConsumer',
      });
    }

    if (environment.karpenterNodeClass) this.nodePools(environment);
    if (hasGpuPool) this.devicePlugin(environment);
  }

  private namespace(name: string, level: string): void {
    const podSecurity: Record<string, string> = {};
    for (const mode of ['enforce', 'audit', 'warn']) {
      podSecurity[`pod-security.kubernetes.io/${mode}`] = level;
      podSecurity[`pod-security.kubernetes.io/${mode}-version`] = POD_SECURITY_VERSION;
    }
    new KubeNamespace(this, `Namespace-${name}`, { metadata: { name, labels: podSecurity } });
  }

  /**
   * The namespace's quota as planned. LimitRange gives pods that set no requests (a debug pod)
   * small defaults; it sets no default limits, which would throttle.
   */
  private quota(quota: NamespaceQuotaPlan): void {
    const { namespace } = quota;
    const hard: Record<string, Quantity> = {
      'requests.cpu': Quantity.fromString(quota.cpu.toQuantity()),
      'requests.memory': Quantity.fromString(quota.memory.toQuantity()),
      pods: Quantity.fromString(countQuantity(quota.pods)),
    };
    if (quota.hugepages) hard['requests.hugepages-2Mi'] = Quantity.fromString(quota.hugepages.toQuantity());
    if (quota.gpus !== undefined) hard[`requests.${GPU_RESOURCE}`] = Quantity.fromString(countQuantity(quota.gpus));
    if (quota.storage) hard['requests.storage'] = Quantity.fromString(quota.storage.toQuantity());
    if (quota.persistentVolumeClaims !== undefined) hard.persistentvolumeclaims = Quantity.fromString(countQuantity(quota.persistentVolumeClaims));
    new KubeResourceQuota(this, `Quota-${namespace}`, { metadata: { name: 'nautilus-quota', namespace }, spec: { hard } });
    new KubeLimitRange(this, `Limits-${namespace}`, {
      metadata: { name: 'nautilus-defaults', namespace },
      spec: {
        limits: [{
          type: 'Container',
          defaultRequest: { cpu: Quantity.fromString('100m'), memory: Quantity.fromString('128Mi') },
        }],
      },
    });
  }

  /** A Karpenter NodePool per specialised pool, so the latency and GPU pools grow and shrink declaratively. */
  private nodePools(environment: EnvironmentSpec): void {
    const nodeClass = environment.karpenterNodeClass!;
    for (const pool of environment.nodePools) {
      const limits: Record<string, NodePoolSpecLimits> = {
        cpu: NodePoolSpecLimits.fromString(Cpu.millis(pool.instance.cpu.millicores * pool.maxNodes).toQuantity()),
        memory: NodePoolSpecLimits.fromString(Memory.mebibytes(pool.instance.memory.mebibytes * pool.maxNodes).toQuantity()),
      };
      if (pool.instance.gpus) limits[GPU_RESOURCE] = NodePoolSpecLimits.fromNumber(pool.instance.gpus * pool.maxNodes);
      new NodePool(this, `NodePool-${pool.name}`, {
        metadata: { name: `nautilus-${pool.name}` },
        spec: {
          template: {
            metadata: { labels: poolLabels(pool) },
            spec: {
              nodeClassRef: { ...nodeClass },
              requirements: [
                { key: ARCH_LABEL, operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: [pool.instance.arch] },
                { key: ZONE_LABEL, operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: [...pool.zones] },
                { key: 'karpenter.sh/capacity-type', operator: NodePoolSpecTemplateSpecRequirementsOperator.IN, values: ['on-demand'] },
              ],
              taints: poolTaints(pool).map((t) => ({
                key: t.key, value: t.value, effect: NodePoolSpecTemplateSpecTaintsEffect.NO_SCHEDULE,
              })),
            },
          },
          limits,
          disruption: {
            // The pool's consolidation (node-pool-policy.ts), one node at a time.
            consolidationPolicy: poolConsolidation(pool).whenUnderutilized
              ? NodePoolSpecDisruptionConsolidationPolicy.WHEN_EMPTY_OR_UNDERUTILIZED
              : NodePoolSpecDisruptionConsolidationPolicy.WHEN_EMPTY,
            consolidateAfter: poolConsolidation(pool).after.toPrometheus(),
            budgets: [{ nodes: '1' }],
          },
        },
      });
    }
  }

  private devicePlugin(environment: EnvironmentSpec): void {
    const gpuPool = poolForRole(environment, 'gpu')!;
    const name = DEVICE_PLUGIN_NAME;
    const devicePluginDirectory = kplus.Volume.fromHostPath(this, 'DevicePluginDirectory', 'device-plugin', {
      path: '/var/lib/kubelet/device-plugins', type: kplus.HostPathVolumeType.DIRECTORY,
    });
    const daemonSet = new kplus.DaemonSet(this, 'DevicePlugin', {
      metadata: { name, namespace: DEVICE_PLUGIN_NAMESPACE, labels: componentLabels(name, 'device-plugin', imageVersion(DEVICE_PLUGIN_IMAGE)) },
      select: false,
      podMetadata: { labels: componentLabels(name, 'device-plugin') },
      automountServiceAccountToken: false,
      restartPolicy: kplus.RestartPolicy.ALWAYS,
      terminationGracePeriod: Duration.seconds(30),
      hostNetwork: false,
      dns: { policy: kplus.DnsPolicy.CLUSTER_FIRST, hostnameAsFQDN: false },
      // Root, as upstream runs it: the kubelet's device-plugin directory (hostPath) is root's,
      // and the plugin creates its socket there. Everything else is taken away.
      securityContext: { ensureNonRoot: false, user: 0, group: 0, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ALWAYS },
      containers: [{
        name,
        image: mirroredImage(DEVICE_PLUGIN_IMAGE, environment.thirdPartyMirror),
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        args: ['--fail-on-init-error=false'],
        resources: {
          cpu: { request: kplus.Cpu.millis(DEVICE_PLUGIN_RESOURCES.cpu.millicores) },
          memory: { request: Size.mebibytes(DEVICE_PLUGIN_RESOURCES.memory.mebibytes), limit: Size.mebibytes(DEVICE_PLUGIN_RESOURCES.memoryLimit.mebibytes) },
        },
        securityContext: { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, ensureNonRoot: false },
        volumeMounts: [{ path: '/var/lib/kubelet/device-plugins', volume: devicePluginDirectory }],
      }],
    });
    daemonSet.select(kplus.LabelSelector.of({ labels: selectorLabels(name) }));
    for (const taint of poolTaints(gpuPool)) {
      daemonSet.scheduling.tolerate(kplus.Node.tainted(kplus.NodeTaintQuery.exists(taint.key, { effect: TAINT_EFFECTS[taint.effect] })));
    }
    withoutPlusWorkloadDefaults(daemonSet, '/spec/template', { hostNetwork: false, minReadySeconds: true });
    const spec = '/spec/template/spec';
    const container = `${spec}/containers/0`;
    // cdk8s-plus-27 has no updateStrategy for a DaemonSet.
    setField<DaemonSetSpec, 'updateStrategy'>(daemonSet, '/spec', 'updateStrategy', { type: 'RollingUpdate' });
    completePlatformPod(daemonSet, spec, { priorityClassName: 'system-node-critical' });
    // cdk8s-plus-27 has no nodeSelector (its node affinity is a different field): only GPU nodes.
    setField<PodSpec, 'nodeSelector'>(daemonSet, spec, 'nodeSelector', { [GPU_PRESENT_LABEL]: 'true' });
    // cdk8s-plus-27's container security context has no seccompProfile either.
    setField<SecurityContext, 'seccompProfile'>(daemonSet, `${container}/securityContext`, 'seccompProfile', { type: 'RuntimeDefault' });
    // cdk8s-plus-27 writes capabilities with a CAP_ prefix; Kubernetes and the linters use bare names.
    setField<SecurityContext, 'capabilities'>(daemonSet, `${container}/securityContext`, 'capabilities', { drop: ['ALL'] });
    // cdk8s-plus-27 writes memory in Mi, which the API server stores in its own units: the quantities as they are.
    setField<Container, 'resources'>(daemonSet, container, 'resources', {
      requests: {
        cpu: Quantity.fromString(DEVICE_PLUGIN_RESOURCES.cpu.toQuantity()),
        memory: Quantity.fromString(DEVICE_PLUGIN_RESOURCES.memory.toQuantity()),
      },
      limits: { memory: Quantity.fromString(DEVICE_PLUGIN_RESOURCES.memoryLimit.toQuantity()) },
    });
  }
}
