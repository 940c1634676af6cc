/**
 * Three jest projects:
 *   unit      everything under test/ except test/cluster (no control plane; the store
 *             configuration and engine contract tests start local Redis, PostgreSQL and
 *             engine processes)
 *   cluster   test/cluster: starts a real control plane (etcd, kube-apiserver,
 *             kube-controller-manager, kube-scheduler, kwok), real nodes; see test/cluster/README.md
 *   delivery  the test/cluster files of the deploy tool and of releases (below)
 *
 *   npx jest                       all three (npm test runs unit then delivery beside cluster)
 *   npx jest --selectProjects unit only the unit tests
 *   npx jest test/cluster          the cluster and delivery tests
 *
 * @kubernetes/client-node 1.x is published as ESM only ("type": "module"), and
 * jest's CommonJS runtime cannot load it (nor openid-client, oauth4webapi and
 * jose, which it imports). Those packages are transpiled to CommonJS by ts-jest
 * (transpile only, no type check); everything else in node_modules is left alone.
 *
 * @type {import('jest').Config}
 */
const esmOnlyPackages = ['@kubernetes/client-node', 'openid-client', 'oauth4webapi', 'jose'];

const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': 'ts-jest',
    '^.+\\.m?js$': ['ts-jest', { tsconfig: { allowJs: true, checkJs: false, isolatedModules: true } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnlyPackages.join('|')})/)`],
};

/**
 * The cluster tests of the deploy tool and of releases (a control plane with fake nodes, the CLI,
 * the Argo Rollouts controller): their own project, so that `npm test` can run them after the unit
 * tests, beside the rest of the cluster project (scripts/test.js).
 */
const delivery = ['deploy-cli', 'rollback', 'argo-rollouts', 'releases', 'release-cli'].map((name) => `<rootDir>/test/cluster/${name}\\.test\\.ts$`);

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/test'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
    },
    {
      ...shared,
      displayName: 'cluster',
      roots: ['<rootDir>/test/cluster'],
      testPathIgnorePatterns: ['/node_modules/', ...delivery],
    },
    {
      ...shared,
      displayName: 'delivery',
      roots: ['<rootDir>/test/cluster'],
      testRegex: delivery.map((pattern) => pattern.replace('<rootDir>/test/cluster/', '/')),
    },
  ],
};
