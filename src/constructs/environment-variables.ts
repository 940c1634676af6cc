import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { EnvironmentVariable, PodField } from '../planning/environment-variables';

/** Each pod field planning can name, as cdk8s-plus-27 spells it (a record, so a new field cannot go unmapped). */
const POD_FIELDS: Readonly<Record<PodField, kplus.EnvFieldPaths>> = {
  'metadata.name': kplus.EnvFieldPaths.POD_NAME,
  'metadata.namespace': kplus.EnvFieldPaths.POD_NAMESPACE,
  'status.podIP': kplus.EnvFieldPaths.POD_IP,
};

/**
 * One planned variable's value as cdk8s-plus-27's. A Secret reference needs a construct in
 * cdk8s-plus-27: one per Secret name under `scope`, however many of its keys are read.
 */
export function envValue(scope: Construct, variable: EnvironmentVariable): kplus.EnvValue {
  if ('secretKey' in variable) {
    const { secret: name, key } = variable.secretKey;
    const id = `Secret-${name}`;
    const secret = (scope.node.tryFindChild(id) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(scope, id, name);
    return kplus.EnvValue.fromSecretValue({ secret, key });
  }
  if ('podField' in variable) return kplus.EnvValue.fromFieldRef(POD_FIELDS[variable.podField]);
  return kplus.EnvValue.fromValue(variable.value);
}

/** Planned variables, in order, as a container's `envVariables`. */
export function envVariables(scope: Construct, variables: readonly EnvironmentVariable[] | undefined): Record<string, kplus.EnvValue> {
  const env: Record<string, kplus.EnvValue> = {};
  for (const variable of variables ?? []) env[variable.name] = envValue(scope, variable);
  return env;
}
