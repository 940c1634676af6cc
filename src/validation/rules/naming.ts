import { imageVersion, labelValueProblem } from '../../model/domains';
import { dnsLabelProblem } from '../../model/kubernetes-names';
import { DEVICE_PLUGIN_NAMESPACE, NAMESPACE_NAMES } from '../../planning/namespaces';
import { isBatch } from '../../planning/plan';
import { Finding } from '../../model/errors';
import { ValidationRule, defineRule, forEachEngine } from '../rule';

/** The longest CronJob name: the controller appends an 11-character suffix to name its Jobs, which must stay within 63. */
const CRONJOB_NAME_MAX_LENGTH = 52;

/** Objects a data store creates besides those named like the store itself. */
const STORE_DERIVED_NAMES = ['headless', 'config'];

/** Names: valid Kubernetes names and label values, unique where objects would collide, namespaces that are not the platform's own. */
export const NAMING_RULES: readonly ValidationRule[] = [
  defineRule('kubernetes-names', ({ catalog, environment }) => {
    const problems: Finding[] = [];
    const named: Array<[string, string, string]> = [
      ['environment', 'name', environment.name],
      ...catalog.map((e): [string, string, string] => [e.name, 'name', e.name]),
      ...environment.nodePools.map((p): [string, string, string] => [`node pool ${p.name}`, 'name', p.name]),
      ['environment', 'externalAccess.controller.namespace', environment.externalAccess.controller.namespace],
      ['environment', 'monitoringNamespace', environment.monitoringNamespace],
    ];
    for (const [subject, field, name] of named) {
      const problem = dnsLabelProblem(name);
      if (problem) {
        problems.push({
          subject, field, value: JSON.stringify(name),
          problem: `not a valid Kubernetes name: ${problem}`,
          fix: 'use lower-case letters, digits and "-" (at most 63 characters), e.g. "risk-engine"',
        });
      }
    }
    return problems;
  }),
  defineRule('duplicate-engine-names', ({ catalog }) => {
    const seen = new Set<string>();
    const problems: Finding[] = [];
    for (const engine of catalog) {
      if (seen.has(engine.name)) {
        problems.push({
          subject: engine.name, field: 'name', value: JSON.stringify(engine.name),
          problem: 'two catalog entries have this name; workloads and Services would overwrite each other',
          fix: 'rename one of the entries or remove the duplicate',
        });
      }
      seen.add(engine.name);
    }
    return problems;
  }),
  defineRule('disabled-engines-exist', ({ catalog, environment }) =>
    environment.disabledEngines
      .filter((d) => !catalog.some((e) => e.name === d.name))
      .map((d) => ({
        subject: 'environment', field: 'disabledEngines', value: JSON.stringify(d.name),
        problem: 'no engine of that name in the catalog',
        fix: `remove it from disabledEngines or correct the name (engines: ${catalog.map((e) => e.name).join(', ')})`,
      }))),
  defineRule('environment-names-unique', ({ environment, environments }) =>
    environments.filter((e) => e.name === environment.name).length > 1
      ? [{
        subject: 'environment', field: 'name', value: JSON.stringify(environment.name),
        problem: 'two environments have this name; they would write the same dist/ folder and overwrite each other',
        fix: 'give every environment its own name',
      }]
      : []),
  defineRule('node-pool-names-unique', ({ environment }) =>
    environment.nodePools
      .filter((pool, index) => environment.nodePools.findIndex((p) => p.name === pool.name) !== index)
      .map((pool) => ({
        subject: `node pool ${pool.name}`, field: 'name', value: JSON.stringify(pool.name),
        problem: 'two node pools of this environment have this name; their NodePools and node labels would collide',
        fix: 'give every node pool of the environment its own name',
      }))),
  defineRule('engine-store-name-collisions', ({ catalog, stores }) =>
    catalog.flatMap((engine) => {
      const store = stores.find((s) => engine.name === s.name || STORE_DERIVED_NAMES.some((suffix) => engine.name === `${s.name}-${suffix}`));
      return store
        ? [{
          subject: engine.name, field: 'name', value: JSON.stringify(engine.name),
          problem: `the data store ${store.name} already names its objects so; their Services and network policies would merge (opening ${store.name} to the engine's clients)`,
          fix: `rename the engine (names taken by data stores: ${stores.flatMap((s) => [s.name, ...STORE_DERIVED_NAMES.map((x) => `${s.name}-${x}`)]).join(', ')})`,
        }]
        : [];
    })),
  defineRule('cronjob-name-length', (input) =>
    forEachEngine(input, (engine) =>
      isBatch(engine) && engine.name.length > CRONJOB_NAME_MAX_LENGTH
        ? [{
          subject: engine.name, field: 'name', value: `${JSON.stringify(engine.name)} (${engine.name.length} characters)`,
          problem: `a CronJob name may have at most ${CRONJOB_NAME_MAX_LENGTH} characters (its Jobs add an 11-character suffix)`,
          fix: `shorten the name to ${CRONJOB_NAME_MAX_LENGTH} characters or fewer`,
        }]
        : [])),
  defineRule('label-values', ({ catalog, stores, environment }) => {
    const values: Array<[string, string, string]> = [
      ['environment', 'name', environment.name],
      ...catalog.map((e): [string, string, string] => [e.name, 'tier.name', e.tier.name]),
      ...stores.map((s): [string, string, string] => [s.name, 'image (its version label)', imageVersion(s.image) ?? '']),
      ...environment.nodePools.map((p): [string, string, string] => [`node pool ${p.name}`, 'instance.gpuProduct', p.instance.gpuProduct ?? '']),
    ];
    return values.flatMap(([subject, field, value]) => {
      const problem = labelValueProblem(value);
      return problem
        ? [{
          subject, field, value: JSON.stringify(value),
          problem: `used as a label value, which the API server rejects: ${problem}`,
          fix: 'use at most 63 letters, digits, "-", "_" or "." (for an image, pin the digest after a short tag: name:tag@sha256:...)',
        }]
        : [];
    });
  }),
  defineRule('external-namespaces', ({ environment }) => {
    const ours = [...Object.values(NAMESPACE_NAMES), DEVICE_PLUGIN_NAMESPACE];
    const external = [
      { field: 'externalAccess.controller.namespace', value: environment.externalAccess.controller.namespace, what: 'edge controller', example: 'ingress-nginx' },
      { field: 'monitoringNamespace', value: environment.monitoringNamespace, what: 'monitoring stack', example: 'monitoring' },
    ];
    return external
      .filter(({ value }) => ours.includes(value))
      .map(({ field, value, what, example }) => ({
        subject: 'environment', field, value: JSON.stringify(value),
        problem: `one of the platform's own namespaces: the network policies would admit every pod of it as if it were the ${what}`,
        fix: `name the namespace the ${what} runs in, e.g. "${example}" (not ${ours.join(', ')})`,
      }));
  }),
];
