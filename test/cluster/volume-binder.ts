import * as fs from 'fs';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from './apply';

/** Annotation the scheduler puts on a WaitForFirstConsumer claim once it has picked a node. */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';

/** Where the fake local volumes claim to live on a kwok node; nothing is ever written there. */
const FAKE_VOLUME_ROOT = '/mnt/nautilus-test-volumes';

/** A running {@link startVolumeBinder}. */
export interface VolumeBinder {
  /** Names of the PersistentVolumes created so far, in creation order. */
  readonly created: readonly string[];
  /** Errors met while provisioning (the binder keeps going); a test may assert there are none. */
  readonly errors: readonly string[];
  /** Stops polling and waits for the current round to finish. Idempotent. */
  stop(): Promise<void>;
}

interface Claim {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly annotations?: Record<string, string> };
  readonly spec: {
    readonly storageClassName?: string;
    readonly accessModes?: string[];
    readonly volumeMode?: string;
    readonly volumeName?: string;
    readonly resources?: { readonly requests?: Record<string, string> };
  };
  readonly status?: { readonly phase?: string };
}

interface StorageClass {
  readonly provisioner: string;
  readonly reclaimPolicy?: string;
  readonly volumeBindingMode?: string;
}

/**
 * Stands in for a storage provisioner (EBS CSI, local-path, ...), which a
 * control plane without a cloud does not have. Every `intervalMs` it looks at
 * the pending PersistentVolumeClaims and, for each claim whose storage class
 * exists and which is ready to be provisioned, creates a PersistentVolume
 * pre-bound to it (`claimRef`), of the claim's class, size, access modes and
 * volume mode, with the class's reclaim policy; kube-controller-manager's
 * PV controller then binds the pair, exactly as it does for a real provisioner.
 *
 * "Ready to be provisioned" follows the class's `volumeBindingMode`:
 * - `WaitForFirstConsumer`: the scheduler has chosen a node for the first pod
 *   and recorded it in `volume.kubernetes.io/selected-node`; the volume is a
 *   `local` volume with node affinity to that node, so the scheduler's volume
 *   binding keeps every later pod of the claim on that node (as a zonal EBS
 *   volume keeps it in its zone);
 * - `Immediate`: at once, without node affinity.
 *
 * With `volumeRoot` (a real node's kubelet mounts the volumes) each volume is a directory made
 * under it; without, the path is never touched (kwok runs no containers).
 */
export function startVolumeBinder(kc: KubeConfig, intervalMs = 500, volumeRoot?: string): VolumeBinder {
  const created: string[] = [];
  const errors: string[] = [];
  const done = new Set<string>();
  let stopped = false;

  const round = async (): Promise<void> => {
    const claims = await listItems<Claim>(kc, '/api/v1/persistentvolumeclaims');
    for (const claim of claims) {
      if (stopped || claim.status?.phase !== 'Pending' || claim.spec.volumeName || done.has(claim.metadata.uid)) {
        continue;
      }
      const className = claim.spec.storageClassName;
      if (!className) {
        continue;
      }
      const classResponse = await kubeRequest(kc, `/apis/storage.k8s.io/v1/storageclasses/${encodeURIComponent(className)}`);
      if (classResponse.status !== 200) {
        continue; // A real provisioner would wait for the class, too.
      }
      const storageClass = JSON.parse(classResponse.body) as StorageClass;
      const selectedNode = claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
      const waitForConsumer = (storageClass.volumeBindingMode ?? 'Immediate') === 'WaitForFirstConsumer';
      if (waitForConsumer && !selectedNode) {
        continue;
      }
      const name = `pv-${claim.metadata.uid}`;
      const directory = `${volumeRoot ?? FAKE_VOLUME_ROOT}/${claim.metadata.uid}`;
      if (volumeRoot) fs.mkdirSync(directory, { recursive: true });
      const volume = persistentVolume(name, claim, storageClass, waitForConsumer ? selectedNode : undefined, directory);
      const response = await kubeRequest(kc, '/api/v1/persistentvolumes', {
        method: 'POST',
        body: JSON.stringify(volume),
        contentType: 'application/json',
      });
      if (response.status === 201 || response.status === 409) {
        done.add(claim.metadata.uid);
        if (response.status === 201) {
          created.push(name);
        }
      } else {
        errors.push(`creating ${name} for claim ${claim.metadata.namespace}/${claim.metadata.name} failed: HTTP ${response.status}: ${response.body}`);
        done.add(claim.metadata.uid);
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        await round();
      } catch (error) {
        // The API server going away at teardown is expected; anything else is kept.
        if (!stopped) {
          errors.push(`volume binder round failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();

  return {
    created,
    errors,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

function persistentVolume(name: string, claim: Claim, storageClass: StorageClass, node: string | undefined, directory: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name,
      // What an external provisioner records; the PV controller reads it.
      annotations: { 'pv.kubernetes.io/provisioned-by': storageClass.provisioner },
    },
    spec: {
      capacity: { storage: claim.spec.resources?.requests?.storage ?? '1Gi' },
      accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'],
      volumeMode: claim.spec.volumeMode ?? 'Filesystem',
      storageClassName: claim.spec.storageClassName,
      persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
      ...(node
        ? {
            local: { path: directory },
            nodeAffinity: {
              required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] },
            },
          }
        : { hostPath: { path: directory, type: 'DirectoryOrCreate' } }),
    },
  };
}

async function listItems<T>(kc: KubeConfig, apiPath: string): Promise<T[]> {
  const response = await kubeRequest(kc, apiPath);
  if (response.status !== 200) {
    throw new Error(`GET ${apiPath} failed: HTTP ${response.status}: ${response.body}`);
  }
  return (JSON.parse(response.body) as { items: T[] }).items;
}
