import { Construct } from 'constructs';
import { KubeLimitRange, KubeResourceQuota, Quantity } from '../../../imports/k8s';
import { GPU_RESOURCE } from '../../environments/node-pool-policy';
import { countQuantity } from '../../model/quantities';
import { NamespaceQuotaPlan } from '../../planning/quota';

/** Properties of {@link NamespaceQuotas}. */
export interface NamespaceQuotasProps {
  /** The platform namespaces' quotas, as planned. */
  readonly quotas: readonly NamespaceQuotaPlan[];
}

/**
 * Each namespace's quota as planned, and a LimitRange giving pods that set no requests (a debug
 * pod) small defaults; it sets no default limits, which would throttle.
 */
export class NamespaceQuotas extends Construct {
  constructor(scope: Construct, id: string, props: NamespaceQuotasProps) {
    super(scope, id);
    for (const quota of props.quotas) {
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
  }
}
