import { count, cron, port } from '../model/domains';
import { Duration } from '../model/duration';
import { Cpu, Memory } from '../model/quantities';
import { EngineSpec, standardHealth } from './engine-spec';
import { Tier } from './tier';

/**
 * Every engine of the Nautilus platform, with production budgets (PLATFORM.md). Ports 8201–8204
 * are ours: the ultra-low-latency tier shares the node's network, so no two of its engines may
 * share a port.
 */
export const PLATFORM_ENGINES: readonly EngineSpec[] = [
  // --- ultra-low-latency: host network, pinned whole cores, hugepages, no autoscaling ---
  {
    name: 'risk-engine',
    description: 'Pre-trade risk checks on every order',
    tier: Tier.ULTRA_LOW_LATENCY,
    workload: { kind: 'service', port: port(8200), health: standardHealth(Duration.seconds(60)), scaling: { minReplicas: 2, maxReplicas: 2 } },
    resources: { cpu: Cpu.cores(2), memory: Memory.gibibytes(1), hugepages2Mi: Memory.mebibytes(256) },
    dependencies: { stores: ['redis', 'timescaledb'], engines: ['position-keeper'] },
  },
  {
    name: 'position-keeper',
    description: 'Authoritative positions and exposures',
    tier: Tier.ULTRA_LOW_LATENCY,
    workload: { kind: 'service', port: port(8201), health: standardHealth(Duration.seconds(60)), scaling: { minReplicas: 2, maxReplicas: 2 } },
    resources: { cpu: Cpu.cores(2), memory: Memory.mebibytes(512), hugepages2Mi: Memory.mebibytes(128) },
    dependencies: { stores: ['redis', 'timescaledb'], engines: [] },
  },
  {
    name: 'order-manager',
    description: 'Lock-free order lifecycle processing',
    tier: Tier.ULTRA_LOW_LATENCY,
    workload: { kind: 'service', port: port(8202), health: standardHealth(Duration.seconds(60)), scaling: { minReplicas: 2, maxReplicas: 2 } },
    resources: { cpu: Cpu.cores(2), memory: Memory.gibibytes(1), hugepages2Mi: Memory.mebibytes(256) },
    dependencies: { stores: ['redis'], engines: ['risk-engine', 'position-keeper', 'smart-order-router'] },
  },
  {
    name: 'integration-engine',
    description: 'End-to-end coordination of the ultra-low-latency tier',
    tier: Tier.ULTRA_LOW_LATENCY,
    workload: { kind: 'service', port: port(8203), health: standardHealth(Duration.seconds(60)), scaling: { minReplicas: 2, maxReplicas: 2 } },
    resources: { cpu: Cpu.cores(3), memory: Memory.gibibytes(2), hugepages2Mi: Memory.mebibytes(256) },
    dependencies: { stores: ['redis'], engines: ['risk-engine', 'position-keeper', 'order-manager', 'market-data'] },
  },
  // --- high-performance: pod network, autoscaled ---
  {
    name: 'market-data',
    description: 'Real-time market feed processing',
    tier: Tier.HIGH_PERFORMANCE,
    workload: {
      kind: 'service', port: port(8800), health: standardHealth(),
      scaling: { minReplicas: 3, maxReplicas: 6, targetRequestsPerSecond: 1000 },
    },
    resources: { cpu: Cpu.cores(2), memory: Memory.gibibytes(4) },
    dependencies: { stores: ['redis', 'timescaledb'], engines: [] },
  },
  {
    name: 'strategy',
    description: 'Strategy execution and backtests',
    tier: Tier.HIGH_PERFORMANCE,
    workload: {
      kind: 'service', port: port(8700), health: standardHealth(),
      scaling: { minReplicas: 3, maxReplicas: 10, targetRequestsPerSecond: 1000 },
    },
    resources: { cpu: Cpu.cores(1.5), memory: Memory.gibibytes(4) },
    dependencies: { stores: ['redis', 'timescaledb'], engines: ['market-data', 'order-manager', 'features', 'ml-inference'] },
  },
  {
    name: 'smart-order-router',
    description: 'Routes orders to venues by price, liquidity and latency',
    tier: Tier.HIGH_PERFORMANCE,
    workload: {
      kind: 'service', port: port(8204), health: standardHealth(),
      scaling: { minReplicas: 2, maxReplicas: 6, targetRequestsPerSecond: 2000 },
    },
    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(1) },
    dependencies: { stores: ['redis'], engines: ['market-data'] },
  },
  // --- compute ---
  {
    name: 'analytics',
    description: 'Performance and risk analytics',
    tier: Tier.COMPUTE,
    workload: { kind: 'service', port: port(8100), health: standardHealth(), scaling: { minReplicas: 2, maxReplicas: 6 } },
    resources: { cpu: Cpu.cores(3), memory: Memory.gibibytes(6) },
    dependencies: { stores: ['timescaledb', 'redis'], engines: ['position-keeper'], timescaledbReplicaReads: true },
  },
  {
    name: 'factor',
    description: 'Factor model computation',
    tier: Tier.COMPUTE,
    workload: { kind: 'service', port: port(8300), health: standardHealth(), scaling: { minReplicas: 2, maxReplicas: 8 } },
    resources: { cpu: Cpu.cores(4), memory: Memory.gibibytes(12) },
    dependencies: { stores: ['timescaledb'], engines: ['market-data'] },
  },
  {
    name: 'features',
    description: 'Feature processing for strategies and models',
    tier: Tier.COMPUTE,
    workload: { kind: 'service', port: port(8500), health: standardHealth(), scaling: { minReplicas: 3, maxReplicas: 10 } },
    resources: { cpu: Cpu.cores(2), memory: Memory.gibibytes(6) },
    dependencies: { stores: ['timescaledb', 'redis'], engines: ['market-data', 'factor'], timescaledbReplicaReads: true },
  },
  {
    name: 'portfolio',
    description: 'Portfolio optimisation and Monte Carlo simulation',
    tier: Tier.COMPUTE,
    workload: { kind: 'service', port: port(8900), health: standardHealth(), scaling: { minReplicas: 2, maxReplicas: 6 } },
    resources: { cpu: Cpu.cores(3), memory: Memory.gibibytes(12) },
    dependencies: { stores: ['timescaledb'], engines: ['position-keeper', 'risk-engine', 'analytics'], timescaledbReplicaReads: true },
  },
  // --- gpu ---
  {
    name: 'ml-inference',
    description: 'Model inference for strategies',
    tier: Tier.GPU,
    workload: { kind: 'service', port: port(8400), health: standardHealth(Duration.seconds(90)), scaling: { minReplicas: 2, maxReplicas: 3 } },
    resources: { cpu: Cpu.cores(3), memory: Memory.gibibytes(10), gpu: { count: count(1), mode: 'preferred' } },
    dependencies: { stores: ['redis'], engines: ['features'] },
  },
  {
    name: 'ml-training',
    description: 'Nightly model training',
    tier: Tier.GPU,
    workload: { kind: 'batch', schedule: cron('30 22 * * 1-5'), startingDeadline: Duration.minutes(30), activeDeadline: Duration.hours(6), backoffLimit: count(2) },
    resources: { cpu: Cpu.cores(8), memory: Memory.gibibytes(32), gpu: { count: count(1), mode: 'required' } },
    dependencies: { stores: ['timescaledb'], engines: ['features'] },
  },
  // --- edge ---
  {
    name: 'websocket',
    description: 'Real-time client connections',
    tier: Tier.EDGE,
    workload: {
      kind: 'service', port: port(8600), health: standardHealth(),
      scaling: { minReplicas: 3, maxReplicas: 12, targetRequestsPerSecond: 500 },
    },
    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(3) },
    dependencies: { stores: ['redis'], engines: ['market-data', 'backend'] },
    // Browsers hold one connection each for a session: an hour idle is a tab left open.
    publicRoute: { host: 'stream', pathPrefix: '/', websocket: { idleTimeout: Duration.hours(1) } },
  },
  {
    name: 'backend',
    description: 'API for the frontend',
    tier: Tier.EDGE,
    workload: {
      kind: 'service', port: port(8001), health: standardHealth(),
      scaling: { minReplicas: 3, maxReplicas: 10, targetRequestsPerSecond: 500 },
    },
    resources: { cpu: Cpu.cores(2), memory: Memory.gibibytes(4) },
    dependencies: {
      stores: ['timescaledb', 'redis'],
      engines: ['risk-engine', 'position-keeper', 'order-manager', 'analytics', 'portfolio', 'strategy'],
    },
    // Beside the web UI on the same host, so the browser calls it without cross-origin requests.
    publicRoute: { host: 'app', pathPrefix: '/api' },
  },
  {
    name: 'frontend',
    description: 'Web UI (static assets; browsers call the backend through the ingress)',
    tier: Tier.EDGE,
    workload: { kind: 'service', port: port(3000), health: standardHealth(), scaling: { minReplicas: 2, maxReplicas: 6 } },
    resources: { cpu: Cpu.cores(1), memory: Memory.gibibytes(2) },
    dependencies: { stores: [], engines: [] },
    publicRoute: { host: 'app', pathPrefix: '/' },
  },
];
