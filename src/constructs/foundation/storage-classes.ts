import { Construct } from 'constructs';
import { KubeStorageClass } from '../../../imports/k8s';
import { StorageClassSpec } from '../../environments/environment';

/** Properties of {@link StorageClasses}. */
export interface StorageClassesProps {
  /** The storage classes the environment creates (besides the cluster's own). */
  readonly storageClasses: readonly StorageClassSpec[];
}

/** The environment's storage classes: volumes kept after their claim, expandable, bound in the pod's zone. */
export class StorageClasses extends Construct {
  constructor(scope: Construct, id: string, props: StorageClassesProps) {
    super(scope, id);
    for (const storageClass of props.storageClasses) {
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
  }
}
