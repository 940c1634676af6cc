/** The longest name a Kubernetes DNS label (RFC 1123) may have. */
export const DNS_LABEL_MAX_LENGTH = 63;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Returns why `name` is not a valid RFC 1123 DNS label (the rule for Service and Namespace names),
 * or undefined when it is.
 */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > DNS_LABEL_MAX_LENGTH) return `is ${name.length} characters long, more than ${DNS_LABEL_MAX_LENGTH}`;
  if (!DNS_LABEL.test(name)) {
    return 'must be lower-case letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}
