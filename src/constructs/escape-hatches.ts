import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { ServiceSpec } from '../../imports/k8s';

/**
 * Typed escape hatches for what cdk8s-plus-27 does not model. Every call site says, in a comment,
 * what cdk8s-plus-27 lacks; the value is typed by the L1 type from `imports/k8s`, so a field that
 * is misspelt or of the wrong type fails to compile instead of being dropped at synthesis.
 *
 * A JSON patch on a cdk8s L1 object is applied to its props before the L1 class converts them
 * to Kubernetes JSON, so values are given in props form (`IntOrString`, `Quantity`, the props
 * types' field names such as `clusterIp`), exactly the L1 types.
 */

/**
 * Sets `field` of the object at `path` (a JSON pointer into the L1 props, e.g. `/spec`) in the
 * API object behind `resource` (a cdk8s-plus resource, or an L1 object itself).
 *
 * @example setField<ServiceSpec, 'publishNotReadyAddresses'>(service, '/spec', 'publishNotReadyAddresses', true)
 */
export function setField<T, K extends keyof T & string>(resource: IConstruct, path: string, field: K, value: NonNullable<T[K]>): void {
  ApiObject.of(resource).addJsonPatch(JsonPatch.add(`${path}/${field}`, value));
}

/**
 * Removes `field` of the object at `path` from the API object behind `resource`: for a value
 * cdk8s-plus-27 always writes where the plan states nothing.
 */
export function removeField<T>(resource: IConstruct, path: string, field: keyof T & string): void {
  ApiObject.of(resource).addJsonPatch(JsonPatch.remove(`${path}/${field}`));
}

/**
 * A cdk8s-plus-27 Service without the `externalIPs: []` it always writes: the API server drops an
 * empty list, so kubectl would find the object changed on every apply.
 */
export function service(scope: Construct, id: string, props: kplus.ServiceProps): kplus.Service {
  const created = new kplus.Service(scope, id, props);
  removeField<ServiceSpec>(created, '/spec', 'externalIPs');
  return created;
}
