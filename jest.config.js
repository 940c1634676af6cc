/**
 * Two jest projects:
 *   unit     everything under test/ except test/cluster (no control plane; the store
 *            configuration and engine contract tests start local Redis, PostgreSQL and
 *            engine processes)
 *   cluster  test/cluster: starts a real control plane (etcd, kube-apiserver,
 *            kube-controller-manager, kube-scheduler, kwok); see test/cluster/README.md
 *
 *   npx jest                       both
 *   npx jest --selectProjects unit only the unit tests
 *   npx jest test/cluster          only the cluster tests
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
    },
  ],
};
