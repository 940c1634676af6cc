import { Construct } from 'constructs';
import { NamespaceRole } from '../catalog/tier';
import { EnvironmentSpec, poolForRole } from '../environments/environment';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES, NAMESPACE_POD_SECURITY } from '../planning/namespaces';
import { NamespaceQuotaPlan } from '../planning/quota';
import { DevicePlugin } from './foundation/device-plugin';
import { NamespaceQuotas } from './foundation/namespace-quotas';
import { PlatformNamespaces } from './foundation/namespaces';
import { KarpenterNodePools } from './foundation/node-pools';
import { PriorityClasses } from './foundation/priority-classes';
import { StorageClasses } from './foundation/storage-classes';

/** Properties of {@link ClusterFoundation}. */
export interface ClusterFoundationProps {
  readonly environment: EnvironmentSpec;
  /** The platform namespaces' quotas, as planned. */
  readonly quotas: readonly NamespaceQuotaPlan[];
}

/**
 * Everything the workloads need to exist first, one construct per resource family, in apply
 * order: namespaces (with Pod Security levels), quotas and default requests, priority classes,
 * storage classes, node pools and the GPU device plugin.
 */
export class ClusterFoundation extends Construct {
  constructor(scope: Construct, id: string, props: ClusterFoundationProps) {
    super(scope, id);
    const { environment } = props;
    const gpuPool = poolForRole(environment, 'gpu');
    const roles = Object.keys(NAMESPACE_NAMES) as NamespaceRole[];
    // Namespaces first: everything after them may live in one.
    new PlatformNamespaces(this, 'Namespaces', {
      levels: [
        ...roles.map((role) => ({ name: NAMESPACE_NAMES[role], level: NAMESPACE_POD_SECURITY[role] })),
        ...(gpuPool ? [{ name: DEVICE_PLUGIN_NAMESPACE, level: 'privileged' }] : []),
      ],
    });
    new NamespaceQuotas(this, 'Quotas', { quotas: props.quotas });
    new PriorityClasses(this, 'PriorityClasses');
    new StorageClasses(this, 'StorageClasses', { storageClasses: environment.storageClasses });
    if (environment.karpenterNodeClass) new KarpenterNodePools(this, 'NodePools', { nodeClass: environment.karpenterNodeClass, pools: environment.nodePools });
    if (gpuPool) new DevicePlugin(this, 'DevicePlugin', { gpuPool, thirdPartyMirror: environment.thirdPartyMirror });
  }
}
