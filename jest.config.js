/**
 * Three jest projects:
 *   unit      everything under test/ except test/cluster (no control plane; the store
 *             configuration and engine contract tests start local Redis, PostgreSQL and
 *             engine processes)
 *   cluster   test/cluster: starts a real control plane (etcd, kube-apiserver,
 *             kube-controller-manager, kube-scheduler, kwok), real nodes; see test/cluster/README.md
 *   control-plane  the test/cluster files that run on a control plane with fake nodes and that
 *             `npm test` runs in the unit lane, beside the real nodes (below)
 *
 *   npx jest                       all three (npm test runs unit then control-plane beside cluster)
 *   npx jest --selectProjects unit only the unit tests
 *   npx jest test/cluster          the cluster and control-plane tests
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
 * Cluster tests on a control plane with fake (kwok) nodes only: the deploy tool's and the releases'
 * (the CLI, the Argo Rollouts controller), convergence, broken manifests and the control plane's
 * own. Their own project, so that `npm test` runs them after the unit tests, beside the rest of
 * the cluster project (scripts/test.js), which holds every real-node test (they must not overlap:
 * each changes the machine's kernel settings) and, to keep the two lanes about even, the
 * environments and TimescaleDB failover tests.
 */
const controlPlaneOnly = ['deploy-cli', 'rollback', 'argo-rollouts', 'releases', 'release-cli', 'convergence', 'broken-manifests', 'control-plane']
  .map((name) => `<rootDir>/test/cluster/${name}\\.test\\.ts$`);

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
      testPathIgnorePatterns: ['/node_modules/', ...controlPlaneOnly],
    },
    {
      ...shared,
      displayName: 'control-plane',
      roots: ['<rootDir>/test/cluster'],
      testRegex: controlPlaneOnly.map((pattern) => pattern.replace('<rootDir>/test/cluster/', '/')),
    },
  ],
};
