/**
 * Three jest projects, which `npm test` runs as three lanes side by side (scripts/test.js):
 *   unit           everything under test/ except test/cluster (no control plane; the store
 *                  configuration and engine contract tests start local Redis, PostgreSQL and
 *                  engine processes)
 *   control-plane  test/cluster files on a real control plane (etcd, kube-apiserver,
 *                  kube-controller-manager, kube-scheduler) with fake (kwok) nodes, the Argo
 *                  Rollouts controller, Patroni's DCS; see test/cluster/README.md
 *   real-node      test/cluster files with real nodes (kubelet, containerd, real containers):
 *                  they must not overlap, as each changes the machine's kernel settings
 *
 *   npx jest                           all three
 *   npx jest --selectProjects unit     only the unit tests
 *   npx jest test/cluster              the control-plane and real-node tests
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

/** The test/cluster files that start real nodes. */
const realNode = ['real-node', 'real-node-pinning', 'real-node-autoscaling', 'real-node-failover', 'real-node-hygiene', 'metrics-server']
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
      displayName: 'control-plane',
      roots: ['<rootDir>/test/cluster'],
      testPathIgnorePatterns: ['/node_modules/', ...realNode],
    },
    {
      ...shared,
      displayName: 'real-node',
      roots: ['<rootDir>/test/cluster'],
      testRegex: realNode.map((pattern) => pattern.replace('<rootDir>/test/cluster/', '/')),
    },
  ],
};
