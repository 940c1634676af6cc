import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { EnvVar, LifecycleHandler, Probe } from '../../imports/k8s';

/**
 * Conversions from L1 shapes into cdk8s-plus-27's: the environment variables planning writes (the
 * runtime contract creates no constructs, and cdk8s-plus-27 needs a scope for a Secret reference)
 * and the probes and hooks the store constructs declare as the Kubernetes fields they document.
 * Anything the conversion does not know fails synthesis loudly instead of being dropped.
 */

const FIELD_PATHS: Record<string, kplus.EnvFieldPaths> = Object.fromEntries(
  Object.values(kplus.EnvFieldPaths).map((path) => [path, path]),
);

/** An L1 environment variable (a value, a Secret key or a pod field) as cdk8s-plus-27's. */
export function envValue(scope: Construct, variable: EnvVar): kplus.EnvValue {
  const from = variable.valueFrom;
  if (from?.secretKeyRef?.name) {
    const id = `Secret-${from.secretKeyRef.name}`;
    const secret = (scope.node.tryFindChild(id) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(scope, id, from.secretKeyRef.name);
    return kplus.EnvValue.fromSecretValue({ secret, key: from.secretKeyRef.key });
  }
  if (from?.fieldRef && FIELD_PATHS[from.fieldRef.fieldPath]) return kplus.EnvValue.fromFieldRef(FIELD_PATHS[from.fieldRef.fieldPath]);
  if (from || variable.value === undefined) {
    throw new Error(`environment variable ${variable.name}: only values, Secret keys and pod fields can be rendered, got ${JSON.stringify(from)}`);
  }
  return kplus.EnvValue.fromValue(variable.value);
}

/** L1 environment variables, in order, as cdk8s-plus-27's. */
export function envVariables(scope: Construct, variables: readonly EnvVar[] | undefined): Record<string, kplus.EnvValue> {
  const env: Record<string, kplus.EnvValue> = {};
  for (const variable of variables ?? []) env[variable.name] = envValue(scope, variable);
  return env;
}

/** An L1 exec or HTTP (numeric port) probe as cdk8s-plus-27's. */
export function probe(l1: Probe | undefined): kplus.Probe | undefined {
  if (!l1) return undefined;
  const options = {
    periodSeconds: l1.periodSeconds !== undefined ? Duration.seconds(l1.periodSeconds) : undefined,
    timeoutSeconds: l1.timeoutSeconds !== undefined ? Duration.seconds(l1.timeoutSeconds) : undefined,
    failureThreshold: l1.failureThreshold,
    successThreshold: l1.successThreshold,
    initialDelaySeconds: l1.initialDelaySeconds ? Duration.seconds(l1.initialDelaySeconds) : undefined,
  };
  if (l1.exec?.command) return kplus.Probe.fromCommand(l1.exec.command, options);
  const port = l1.httpGet?.port.value;
  if (l1.httpGet?.path && typeof port === 'number') {
    return kplus.Probe.fromHttpGet(l1.httpGet.path, {
      ...options, port, scheme: l1.httpGet.scheme === 'HTTPS' ? kplus.ConnectionScheme.HTTPS : kplus.ConnectionScheme.HTTP,
    });
  }
  throw new Error(`probe ${JSON.stringify(l1)}: only exec probes and HTTP probes on a port number can be rendered`);
}

/** An L1 exec lifecycle handler as cdk8s-plus-27's. */
export function handler(l1: LifecycleHandler | undefined): kplus.Handler | undefined {
  if (!l1) return undefined;
  if (l1.exec?.command) return kplus.Handler.fromCommand(l1.exec.command);
  throw new Error(`lifecycle handler ${JSON.stringify(l1)}: only exec handlers can be rendered`);
}
