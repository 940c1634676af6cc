import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { PodSecurityContext, PodSpec, ServiceSpec } from '../../imports/k8s';

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
  ApiObject.of(resource).addJsonPatch(JsonPatch.add(`${path}/${field}`, sorted(value)));
}

/**
 * `value` as plain JSON with every object's keys sorted, as cdk8s sorts the rest of the object
 * before patches apply (maps such as labels or resource lists keep the order they are given in).
 */
function sorted(value: unknown): unknown {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
  };
  return sort(JSON.parse(JSON.stringify(value)));
}

/**
 * Removes `field` of the object at `path` from the API object behind `resource`: for a value
 * cdk8s-plus-27 always writes where the plan states nothing.
 */
export function removeField<T>(resource: IConstruct, path: string, field: keyof T & string): void {
  ApiObject.of(resource).addJsonPatch(JsonPatch.remove(`${path}/${pointerToken(field)}`));
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

/** Appends `item` to the list at `path` (a JSON pointer into the L1 props) of the API object behind `resource`. */
export function appendItem<T>(resource: IConstruct, path: string, item: T): void {
  ApiObject.of(resource).addJsonPatch(JsonPatch.add(`${path}/-`, sorted(item)));
}

/**
 * What cdk8s-plus-27's pod spec (at `spec`, a JSON pointer) lacks that every platform pod states:
 * its priority class (cdk8s-plus-27 has no priorityClassName), the RuntimeDefault seccomp profile
 * (its pod security context has none) and, where given, `enableServiceLinks` (it has none).
 */
export function completePlatformPod(
  workload: IConstruct, spec: string, fields: { readonly priorityClassName: string; readonly enableServiceLinks?: boolean },
): void {
  setField<PodSpec, 'priorityClassName'>(workload, spec, 'priorityClassName', fields.priorityClassName);
  if (fields.enableServiceLinks !== undefined) setField<PodSpec, 'enableServiceLinks'>(workload, spec, 'enableServiceLinks', fields.enableServiceLinks);
  setField<PodSecurityContext, 'seccompProfile'>(workload, `${spec}/securityContext`, 'seccompProfile', { type: 'RuntimeDefault' });
}

/** The label cdk8s-plus-27 adds to every workload's pods to select them by construct address. */
export const ADDRESS_LABEL = 'cdk8s.io/metadata.addr';

/**
 * Takes out of a cdk8s-plus-27 workload what it adds on its own that the API server would drop
 * (so kubectl would find the object changed on every apply) or that would change the workload's
 * identity: `hostNetwork: false` (an omitted bool), `minReadySeconds: 0` (an omitted number) and
 * its construct-address pod label (our selectors are the `app.kubernetes.io/*` labels; a new pod
 * label would roll every pod).
 *
 * @param podTemplatePath JSON pointer to the pod template (`/spec/template` for a Deployment)
 */
export function withoutPlusWorkloadDefaults(
  workload: IConstruct, podTemplatePath: string, options: { hostNetwork: boolean; minReadySeconds?: boolean },
): void {
  const apiObject = ApiObject.of(workload);
  apiObject.addJsonPatch(JsonPatch.remove(`${podTemplatePath}/metadata/labels/${pointerToken(ADDRESS_LABEL)}`));
  if (!options.hostNetwork) apiObject.addJsonPatch(JsonPatch.remove(`${podTemplatePath}/spec/hostNetwork`));
  if (options.minReadySeconds) apiObject.addJsonPatch(JsonPatch.remove('/spec/minReadySeconds'));
}

/** `key` escaped as one JSON pointer token (RFC 6901). */
function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
