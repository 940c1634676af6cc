import { Construct } from 'constructs';
import { KubeNamespace } from '../../../imports/k8s';

/** The Kubernetes minor version Pod Security levels are pinned to. */
export const POD_SECURITY_VERSION = 'v1.27';

/** Properties of {@link PlatformNamespaces}. */
export interface PlatformNamespacesProps {
  /** Each namespace and its Pod Security level (`restricted`, `baseline`, `privileged`), in apply order. */
  readonly levels: ReadonlyArray<{ readonly name: string; readonly level: string }>;
}

/** The platform's namespaces, each enforcing, auditing and warning at its Pod Security level. */
export class PlatformNamespaces extends Construct {
  constructor(scope: Construct, id: string, props: PlatformNamespacesProps) {
    super(scope, id);
    for (const { name, level } of props.levels) {
      const podSecurity: Record<string, string> = {};
      for (const mode of ['enforce', 'audit', 'warn']) {
        podSecurity[`pod-security.kubernetes.io/${mode}`] = level;
        podSecurity[`pod-security.kubernetes.io/${mode}-version`] = POD_SECURITY_VERSION;
      }
      new KubeNamespace(this, `Namespace-${name}`, { metadata: { name, labels: podSecurity } });
    }
  }
}
