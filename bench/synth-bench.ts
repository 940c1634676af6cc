/**
 * Synthesis benchmark. Times are machine- and load-dependent, so every result is also reported as
 * a ratio against a baseline measured in the same run: synthesizing one plain cdk8s Deployment,
 * the floor cost of the cdk8s machinery we build on.
 *
 * Scaling: catalogs of 16 (today's), 100 and 1,000 engines, the extra ones copies of `analytics`
 * generated here (never committed), each synthesized for every environment. Time per engine that
 * stays flat from 100 to 1,000 engines means synthesis grows linearly.
 *
 * Commands: `npm run synth` and `cdk8s synth` (both run scripts/synth.js, which reuses the compiled
 * program while its sources are unchanged) against, in the same run, `node -e 0` (Node's own
 * start), the ts-node path (type-checking the whole program at every start) and the compiled path
 * (`npm run build`, then `node .cache/build/main.js`); also `npm run synth` when it must compile
 * (empty build cache, and after a one-line edit). They run in the repository and rewrite dist/,
 * as `npm run synth` does; the edit is undone at the end.
 *
 *   npm run bench              print the tables
 *   npm run bench -- --record  also write bench/RESULTS.md
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { App, Chart } from 'cdk8s';
import { KubeDeployment } from '../imports/k8s';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { EngineSpec } from '../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../src/catalog/platform-catalog';
import { EnvironmentSpec } from '../src/environments/environment';
import { PLATFORM_ENVIRONMENTS } from '../src/environments/platform-environments';
import { readEngineTags } from '../src/images/engine-sources';
import { ManifestYaml } from '../src/synth/manifest-yaml';
import { platformCharts } from '../charts/platform-charts';
import { PlatformInput } from '../src/planning/environment-plan';
import { buildEnvironmentApp, renderManifests, synthesizePlatform } from '../src/synth/synthesize';

/** Timed rounds per measurement (after one warm-up), fewer for the slowest ones. */
const ROUNDS = 7;
const ROUNDS_LARGE = 3;
const CATALOG_SIZES = [16, 100, 1000] as const;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall time in ms; `cpu` receives the median CPU time (user + system) of the same rounds. */
function measure(run: () => void, rounds = ROUNDS, cpu: number[] = []): number {
  run(); // warm-up: module loading and JIT
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    const startCpu = process.cpuUsage();
    run();
    const used = process.cpuUsage(startCpu);
    samples.push(performance.now() - start);
    cpuSamples.push((used.user + used.system) / 1000);
  }
  cpu.push(median(cpuSamples));
  return median(samples);
}

function baseline(): void {
  const app = new App({ outdir: '/nonexistent' });
  const chart = new Chart(app, 'baseline', { disableResourceNameHashes: true });
  new KubeDeployment(chart, 'Deployment', {
    metadata: { name: 'baseline' },
    spec: {
      selector: { matchLabels: { app: 'baseline' } },
      template: { metadata: { labels: { app: 'baseline' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
  });
  app.synthYaml();
}

/** Today's catalog plus copies of `analytics` (a compute engine with store and engine dependencies) up to `size`. */
export function generatedCatalog(size: number): EngineSpec[] {
  const template = PLATFORM_ENGINES.find((e) => e.name === 'analytics');
  if (!template) throw new Error('the catalog has no analytics engine to copy');
  const copies = Array.from({ length: Math.max(0, size - PLATFORM_ENGINES.length) }, (_, i) => ({
    ...template,
    name: `analytics-copy-${String(i + 1).padStart(4, '0')}`,
  }));
  return [...PLATFORM_ENGINES, ...copies];
}

/**
 * The environments with general node pools grown with the catalog, so the copies fit (validation
 * checks the pools can hold every pod, with a zone lost where the environment requires it).
 */
function environmentsFor(size: number): EnvironmentSpec[] {
  const factor = Math.ceil(size / PLATFORM_ENGINES.length) * 3;
  return PLATFORM_ENVIRONMENTS.map((environment) => ({
    ...environment,
    nodePools: environment.nodePools.map((pool) => (pool.role === 'general' && size > PLATFORM_ENGINES.length
      ? { ...pool, nodesPerZone: pool.nodesPerZone * factor, maxNodes: pool.maxNodes * factor }
      : pool)),
  }));
}

function inputFor(catalog: readonly EngineSpec[]): PlatformInput {
  return {
    catalog,
    stores: Object.values(PLATFORM_DATA_STORES),
    environments: environmentsFor(catalog.length),
    imageTags: new Map(catalog.map((e) => [e.name, 'sha-0123456789abcdef'])),
    imageLock: {},
  };
}

/** Plans, builds and renders one environment to YAML text in memory (no disk). */
function renderEnvironment(input: PlatformInput, environmentIndex: number): void {
  const yaml = new ManifestYaml();
  for (const { objects } of renderManifests(buildEnvironmentApp(input, input.environments[environmentIndex], platformCharts))) yaml.stringify(objects);
}

/** Runs a shell command in `cwd` and fails loudly if it does. */
function runCommand(command: string, cwd: string): void {
  const result = spawnSync('sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' } });
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status}: ${result.stderr}`);
}

/** Commands timed end to end, from the repository root. */
const COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ['`node -e 0` (Node starting, nothing else)', 'node -e 0'],
  ['ts-node path: `node -r ts-node/register main.ts` (type-checks at every start)', 'node -r ts-node/register main.ts'],
  ['compiled path: `node .cache/build/main.js` (after `npm run build`)', 'node .cache/build/main.js'],
  ['`npm run synth` (`node scripts/synth.js`: sources unchanged, compiled build reused)', 'npm run --silent synth'],
  ['`node scripts/synth.js` (the same without npm)', 'node scripts/synth.js'],
  ['`cdk8s synth` (the CLI running `node scripts/synth.js`)', 'node_modules/.bin/cdk8s synth'],
  // What `npm run synth` was before the launcher and tsx: the cdk8s CLI running main.ts through
  // ts-node. `cdk8s synth` pays the CLI's own start in both, so this is its like-for-like baseline.
  ['before: `cdk8s synth` running `node -r ts-node/register main.ts` (the original `npm run synth`)', "node_modules/.bin/cdk8s synth --app 'node -r ts-node/register main.ts'"],
  ['before: `node --require tsx/cjs main.ts` (transpiled, no type check)', 'node --require tsx/cjs main.ts'],
  ['before: `cdk8s synth` running `node --require tsx/cjs main.ts`', "node_modules/.bin/cdk8s synth --app 'node --require tsx/cjs main.ts'"],
  ['`node -e "require(\'cdk8s\')"` (module load only)', 'node -e "require(\'cdk8s\')"'],
  ['`node -e "require(\'cdk8s-plus-27\')"` (module load only; synthesis loads it since the constructs moved onto it)', 'node -e "require(\'cdk8s-plus-27\')"'],
];
const COMMAND_ROUNDS = 5;
/** Rounds of the compiling measurements (each compiles for seconds). */
const COMPILE_ROUNDS = 3;

/**
 * `npm run synth` when it has to compile: from an empty build cache (a fresh clone's first synth),
 * and after a one-line edit of a source (incremental, seeded with the previous build). The edit is
 * an exported constant appended to charts/platform-charts.ts, different each round, then removed.
 */
function compilingCommands(root: string): Array<readonly [string, number]> {
  const cache = path.join(root, '.cache', 'synth');
  const cold = measure(() => {
    fs.rmSync(cache, { recursive: true, force: true });
    runCommand('npm run --silent synth', root);
  }, COMPILE_ROUNDS);
  const edited = path.join(root, 'charts', 'platform-charts.ts');
  const original = fs.readFileSync(edited, 'utf8');
  let round = 0;
  try {
    const afterEdit = measure(() => {
      round += 1;
      fs.writeFileSync(edited, `${original}\nexport const BENCH_EDIT = ${round};\n`);
      runCommand('npm run --silent synth', root);
    }, COMPILE_ROUNDS);
    return [
      ['`npm run synth`, first run of a fresh clone (empty build cache: full `tsc`)', cold],
      ['`npm run synth` after a one-line source edit (incremental `tsc`)', afterEdit],
    ];
  } finally {
    fs.writeFileSync(edited, original);
    runCommand('npm run --silent synth', root);
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

function main(): void {
  const root = path.resolve(__dirname, '..');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-bench-'));
  try {
    const base = measure(baseline);
    const rows: Array<[string, number]> = [];
    const today = inputFor(PLATFORM_ENGINES);
    PLATFORM_ENVIRONMENTS.forEach((environment, index) => {
      rows.push([`in-memory synth of ${environment.name}`, measure(() => renderEnvironment(today, index))]);
    });
    rows.push(['image tags (hash src/engines)', measure(() => readEngineTags(root, PLATFORM_ENGINES.map((e) => e.name)))]);
    rows.push(['full synthesis to disk, all environments', measure(() => synthesizePlatform(today, path.join(scratch, 'dist'), platformCharts))]);

    const scaling: string[] = [];
    for (const size of CATALOG_SIZES) {
      const input = inputFor(generatedCatalog(size));
      const rounds = size >= 1000 ? ROUNDS_LARGE : ROUNDS;
      const cells = PLATFORM_ENVIRONMENTS.map((_environment, index) => {
        const time = measure(() => renderEnvironment(input, index), rounds);
        return `${ms(time)} (${((time * 1000) / size).toFixed(0)} µs/engine)`;
      });
      const fullCpu: number[] = [];
      const full = measure(() => synthesizePlatform(input, path.join(scratch, 'dist'), platformCharts), rounds, fullCpu);
      const perEngine = (time: number) => `${((time * 1000) / size).toFixed(0)} µs/engine`;
      scaling.push(`| ${size} | ${cells.join(' | ')} | ${ms(full)} (${perEngine(full)}) | ${ms(fullCpu[0])} (${perEngine(fullCpu[0])}) |`);
    }

    runCommand('npm run --silent build', root);
    runCommand('npm run --silent synth', root);
    const commands = COMMANDS.map(([name, command]) => [name, measure(() => runCommand(command, root), COMMAND_ROUNDS)] as const);
    const compiling = compilingCommands(root);
    const nodeStart = commands[0][1];
    const tsNode = commands[1][1];
    const compiled = commands[2][1];
    const commandRow = ([name, time]: readonly [string, number]) => `| ${name} | ${ms(time)} | ${(tsNode / time).toFixed(1)}x | ${(time / compiled).toFixed(2)}x | ${(time / nodeStart).toFixed(1)}x |`;

    const lines = [
      `baseline (one plain Deployment through cdk8s): ${base.toFixed(2)} ms, median of ${ROUNDS}`,
      '',
      '| measurement | ratio to baseline |',
      '|---|---:|',
      ...rows.map(([name, time]) => `| ${name} | ${(time / base).toFixed(1)}x |`),
      '',
      `Scaling: engines in the catalog (today's 16 plus copies of analytics), median of ${ROUNDS} (${ROUNDS_LARGE} at 1,000).`,
      'Per environment: plan, build and render to YAML in memory. Full: validation and atomic synthesis of',
      'every environment to disk, as `npm run synth` does after reading the repository. Synthesis runs',
      'on one thread; its CPU time also counts Node\'s garbage collection on other threads, and its wall',
      'time includes waiting for the cores when the machine is busy.',
      '',
      `| engines | ${PLATFORM_ENVIRONMENTS.map((e) => e.name).join(' | ')} | full, all environments (wall) | full (CPU) |`,
      `|---:|${PLATFORM_ENVIRONMENTS.map(() => '---:').join('|')}|---:|---:|`,
      ...scaling,
      '',
      `Commands, today's 16 engines, wall time from the repository root, median of ${COMMAND_ROUNDS} after a warm-up`,
      `(${COMPILE_ROUNDS} for the compiling ones). Baselines measured in the same run: the ts-node path, the compiled`,
      'path and `node -e 0`. The cdk8s CLI runs with `CDK8S_CHECK_UPGRADE=false` (otherwise it asks npm for a newer',
      'version on every run).',
      '',
      '| command | wall time | ts-node path ÷ this | this ÷ compiled path | this ÷ `node -e 0` |',
      '|---|---:|---:|---:|---:|',
      ...commands.map(commandRow),
      ...compiling.map(commandRow),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (process.argv.includes('--record')) {
      const header = [
        '# Synthesis benchmark results',
        '',
        'Written by `npm run bench -- --record`. Absolute times depend on the machine and its load;',
        `ratios are to a baseline measured in the same run. Recorded on ${os.cpus().length} cores, Node ${process.version}.`,
        '',
      ];
      fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), [...header, ...lines].join('\n'));
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
