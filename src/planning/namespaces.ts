import { DEVICE_PLUGIN_NAME } from '../catalog/third-party';
import { NamespaceRole } from '../catalog/tier';

/** The namespace of each role. Names are a contract: Service DNS names include them. */
export const NAMESPACE_NAMES: Readonly<Record<NamespaceRole, string>> = {
  latency: 'nautilus-latency',
  engines: 'nautilus-engines',
  data: 'nautilus-data',
};

/** The Pod Security Standard each namespace enforces: the least privilege its pods allow. */
export const NAMESPACE_POD_SECURITY: Readonly<Record<NamespaceRole, 'privileged' | 'baseline' | 'restricted'>> = {
  // hostNetwork and the SYS_NICE / IPC_LOCK capabilities are allowed by `privileged` only.
  latency: 'privileged',
  engines: 'restricted',
  data: 'restricted',
};

/** Namespace of the NVIDIA device plugin: it mounts the kubelet's device-plugin socket directory. */
export const DEVICE_PLUGIN_NAMESPACE = DEVICE_PLUGIN_NAME;

/** The in-cluster DNS name of a Service. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}
