import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { Container, DaemonSetSpec, PodSpec, Quantity, SecurityContext } from '../../../imports/k8s';
import { DEVICE_PLUGIN_IMAGE, DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_RESOURCES } from '../../catalog/third-party';
import { EnvironmentSpec, NodePoolSpec } from '../../environments/environment';
import { GPU_PRESENT_LABEL, poolTaints } from '../../environments/node-pool-policy';
import { imageVersion, mirroredImage } from '../../model/domains';
import { Duration } from '../../model/duration';
import { DEVICE_PLUGIN_NAMESPACE } from '../../planning/namespaces';
import { plusDuration } from '../durations';
import { completePlatformPod, setField, withoutPlusWorkloadDefaults } from '../escape-hatches';
import { componentLabels, selectorLabels } from '../labels';
import { TAINT_EFFECTS } from '../scheduling';

/** Properties of {@link DevicePlugin}. */
export interface DevicePluginProps {
  /** The GPU pool: the plugin tolerates its taints. */
  readonly gpuPool: NodePoolSpec;
  /** The registry mirror third-party images are pulled through. @default pulled from their own registry */
  readonly thirdPartyMirror?: EnvironmentSpec['thirdPartyMirror'];
}

/** NVIDIA's device plugin on every GPU node, advertising its GPUs to the kubelet. */
export class DevicePlugin extends Construct {
  constructor(scope: Construct, id: string, props: DevicePluginProps) {
    super(scope, id);
    const { gpuPool, thirdPartyMirror } = props;
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
      terminationGracePeriod: plusDuration(Duration.seconds(30)),
      hostNetwork: false,
      dns: { policy: kplus.DnsPolicy.CLUSTER_FIRST, hostnameAsFQDN: false },
      // Root, as upstream runs it: the kubelet's device-plugin directory (hostPath) is root's,
      // and the plugin creates its socket there. Everything else is taken away.
      securityContext: { ensureNonRoot: false, user: 0, group: 0, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ALWAYS },
      containers: [{
        name,
        image: mirroredImage(DEVICE_PLUGIN_IMAGE, thirdPartyMirror),
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
