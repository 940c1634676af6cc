/**
 * Image build benchmark: `npm run images` from cold, with nothing changed, and after one engine
 * changed, against baselines measured in the same run.
 *
 * Cold means an empty image store and layer cache: the builds run against a store of their own
 * (CONTAINERS_STORAGE_CONF pointing at a temporary graph root), into which the stand-in base
 * image is imported first (from its cached root filesystem, timed apart), so the machine's store
 * is neither used nor disturbed. Per engine, cold time is reported too: it grows linearly with
 * the catalog when the shared steps are cached once (buildah --layers).
 *
 * Baselines: `node --require tsx/cjs -e 0` (the tool's start) and one `buildah images` (the one
 * store query a run with nothing to build needs).
 *
 *   npm run bench:images              print the table
 *   npm run bench:images -- --record  also write bench/IMAGES-RESULTS.md
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { PLATFORM_ENGINES } from '../src/catalog/platform-catalog';

const ROOT = path.resolve(__dirname, '..');
const CONTAINERS_CONF = path.join(ROOT, 'scripts', 'images', 'containers.conf');
const ROUNDS = 5;

function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return ms;
}

function median(samples: number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

function medianOf(command: string, args: readonly string[], env: NodeJS.ProcessEnv): number {
  timed(command, args, env);
  return median(Array.from({ length: ROUNDS }, () => timed(command, args, env)));
}

function main(): void {
  const record = process.argv.includes('--record');
  const storeRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-images-bench-'));
  const storageConf = path.join(storeRoot, 'storage.conf');
  fs.writeFileSync(storageConf, `[storage]\ndriver = "overlay"\ngraphroot = "${storeRoot}/graph"\nrunroot = "${storeRoot}/run"\n`);
  const cold = { ...process.env, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF: storageConf };
  const warm = { ...process.env, CONTAINERS_CONF };
  const images = ['--require', 'tsx/cjs', 'src/images/cli.ts', '--environment', 'dev'];
  try {
    const engines = PLATFORM_ENGINES.length;
    const base = timed('bash', ['scripts/images/base-image.sh'], cold);
    const coldBuild = timed(process.execPath, images, cold);
    const unchanged = medianOf(process.execPath, images, cold);
    // One engine's source changed (a line appended to its main.ts, undone after): a new content
    // tag, so a real build of that image; the runtime's steps come from the layer cache.
    const source = path.join(ROOT, 'src', 'engines', 'risk-engine', 'main.ts');
    const original = fs.readFileSync(source, 'utf8');
    let round = 0;
    let oneEngine: number;
    try {
      oneEngine = median(Array.from({ length: ROUNDS }, () => {
        fs.writeFileSync(source, `${original}// images benchmark, round ${round++}\n`);
        return timed(process.execPath, [...images, '--engine', 'risk-engine'], cold);
      }));
    } finally {
      fs.writeFileSync(source, original);
    }
    const nodeStart = medianOf(process.execPath, ['--require', 'tsx/cjs', '-e', '0'], warm);
    const storeQuery = medianOf('buildah', ['images', '--format', '{{.Name}}:{{.Tag}}'], cold);

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const rows = [
      ['base stand-in imported (cached root filesystem)', s(base), ''],
      [`cold: ${engines} engine images, empty layer cache`, s(coldBuild), `${s(coldBuild / engines)} per engine`],
      ['nothing changed', s(unchanged), `${(unchanged / (nodeStart + storeQuery)).toFixed(2)}x (tool start + one store query)`],
      ['one engine\'s source changed (its image built, shared steps cached)', s(oneEngine), `${(oneEngine / nodeStart).toFixed(1)}x tool start`],
      ['baseline: node --require tsx/cjs -e 0', s(nodeStart), ''],
      ['baseline: buildah images', s(storeQuery), ''],
    ];
    const table = [
      '| measurement | time | ratio / note |', '|---|---|---|',
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
    const header = `npm run images, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}; median of ${ROUNDS} after a warm-up, cold once\n\n`;
    process.stdout.write(`${header}${table}\n`);
    if (record) {
      fs.writeFileSync(path.join(__dirname, 'IMAGES-RESULTS.md'), `# Image build benchmark\n\n${header}${table}\n\nRecorded by \`npm run bench:images -- --record\`; see bench/images-bench.ts.\n`);
    }
  } finally {
    spawnSync('buildah', ['rm', '--all'], { env: cold, stdio: 'ignore' });
    // Overlay layers of the temporary store are mounted by nothing once buildah has exited.
    spawnSync('buildah', ['rmi', '--all', '--force'], { env: cold, stdio: 'ignore' });
    fs.rmSync(storeRoot, { recursive: true, force: true });
  }
}

main();
