/**
 * Synthesis benchmark. Times are machine- and load-dependent, so every result is reported as a
 * ratio against a baseline measured in the same run: synthesizing one plain cdk8s Deployment,
 * the floor cost of the cdk8s machinery we build on.
 *
 *   npm run bench              print the table
 *   npm run bench -- --record  also write bench/RESULTS.md
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { App, Chart } from 'cdk8s';
import { KubeDeployment } from '../imports/k8s';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { PLATFORM_ENGINES } from '../src/catalog/platform-catalog';
import { PLATFORM_ENVIRONMENTS } from '../src/environments/platform-environments';
import { readEngineTags } from '../src/images/engine-sources';
import { PlatformInput, buildEnvironmentApp, synthesizePlatform } from '../src/synth/synthesize';

const ROUNDS = 7;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function measure(run: () => void): number {
  run(); // warm-up: module loading and JIT
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
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

function main(): void {
  const root = path.resolve(__dirname, '..');
  const tags = readEngineTags(root, PLATFORM_ENGINES.map((e) => e.name));
  if (Array.isArray(tags)) throw new Error('engine images are missing; see src/engines');
  const input: PlatformInput = {
    catalog: PLATFORM_ENGINES, stores: Object.values(PLATFORM_DATA_STORES), environments: PLATFORM_ENVIRONMENTS,
    imageTags: tags, imageLock: {},
  };
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-bench-'));
  try {
    const base = measure(baseline);
    const rows: Array<[string, number]> = [];
    for (const environment of PLATFORM_ENVIRONMENTS) {
      rows.push([`in-memory synth of ${environment.name}`, measure(() => buildEnvironmentApp(input, environment, scratch).synthYaml())]);
    }
    rows.push(['image tags (hash src/engines)', measure(() => readEngineTags(root, PLATFORM_ENGINES.map((e) => e.name)))]);
    rows.push(['full synthesis to disk, all environments', measure(() => synthesizePlatform(input, path.join(scratch, 'dist')))]);

    const lines = [
      `baseline (one plain Deployment through cdk8s): ${base.toFixed(2)} ms, median of ${ROUNDS}`,
      '',
      '| measurement | ratio to baseline |',
      '|---|---:|',
      ...rows.map(([name, ms]) => `| ${name} | ${(ms / base).toFixed(1)}x |`),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    if (process.argv.includes('--record')) {
      const header = [
        '# Synthesis benchmark results',
        '',
        'Written by `npm run bench -- --record`. Ratios only: absolute times depend on the machine.',
        `Recorded on ${os.cpus().length} cores, Node ${process.version}.`,
        '',
      ];
      fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), [...header, ...lines].join('\n'));
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
