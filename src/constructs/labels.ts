/** The value of `app.kubernetes.io/part-of` on every object. */
export const PART_OF = 'nautilus';

/** Labels that identify one component's pods: the selector of its workload, Service, PDB and policies. */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name };
}

/**
 * The standard `app.kubernetes.io/*` labels of one component.
 *
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 */
export function componentLabels(name: string, component: string, version?: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/component': component,
    ...(version ? { 'app.kubernetes.io/version': version } : {}),
  };
}

/** Labels every object of an environment carries (applied at chart level). */
export function environmentLabels(environment: string): Record<string, string> {
  return {
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': 'cdk8s',
    'nautilus.io/environment': environment,
  };
}
