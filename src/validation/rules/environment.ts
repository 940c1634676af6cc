import { cidrProblem, dnsSubdomainProblem } from '../../model/domains';
import { Finding } from '../../model/errors';
import { ValidationRule, defineRule } from '../rule';

/** An environment's own settings: its scale factors, node network and storage classes. */
export const ENVIRONMENT_RULES: readonly ValidationRule[] = [
  defineRule('environment-scales', ({ environment }) =>
    ([
      ...(typeof environment.resourceScale === 'number'
        ? [['resourceScale', environment.resourceScale]] as const
        : [['resourceScale.cpu', environment.resourceScale.cpu], ['resourceScale.memory', environment.resourceScale.memory]] as const),
      ['storageScale', environment.storageScale],
    ] as const)
      .filter(([, factor]) => !(Number.isFinite(factor) && factor > 0))
      .map(([field, factor]) => ({
        subject: 'environment', field, value: String(factor),
        problem: 'a scale factor must be a positive number (1 is production size)', fix: 'use a factor such as 0.5',
      }))),
  defineRule('node-network-cidr', ({ environment }) => {
    const problem = cidrProblem(environment.nodeNetworkCidr);
    return problem
      ? [{
        subject: 'environment', field: 'nodeNetworkCidr', value: JSON.stringify(environment.nodeNetworkCidr),
        problem, fix: 'give the CIDR the nodes\' addresses come from, e.g. "10.30.0.0/16"',
      }]
      : [];
  }),
  defineRule('storage-classes-exist', ({ environment }) => {
    const problems: Finding[] = environment.storageClasses.flatMap((c) => {
      const problem = dnsSubdomainProblem(c.name) ?? (c.provisioner.trim() === '' ? 'has no provisioner' : undefined);
      return problem
        ? [{
          subject: `storage class ${c.name}`, field: 'name', value: JSON.stringify(c.name),
          problem, fix: 'name it in lower case (letters, digits, "-", ".") and give its CSI provisioner',
        }]
        : [];
    });
    const known = [...environment.storageClasses.map((c) => c.name), ...(environment.clusterStorageClasses ?? [])];
    for (const [tier, name] of Object.entries(environment.storageClassFor)) {
      if (!known.includes(name)) {
        problems.push({
          subject: 'environment', field: `storageClassFor.${tier}`, value: JSON.stringify(name),
          problem: 'no such storage class: the environment neither creates it nor lists it among the cluster\'s own, so every volume claim would stay Pending',
          fix: `use one of ${known.length > 0 ? known.join(', ') : '(none defined)'}, add it to storageClasses, or list the cluster's own in clusterStorageClasses`,
        });
      }
    }
    return problems;
  }),
];
