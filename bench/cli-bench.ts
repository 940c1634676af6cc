/**
 * Start-up of the deploy tool: `nautilus --help` through the bundled launcher (bin/nautilus.js,
 * warm: the bundle of unchanged sources reused; cold: bundled first), against the previous entry
 * (tsx running src/deploy/cli.ts) and against baselines measured in the same run: Node starting
 * with nothing to do, and `kubectl version --client` (the tool users compare it with).
 *
 *   npm run bench:cli              print the table
 *   npm run bench:cli -- --record  also write bench/CLI-RESULTS.md
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';

const ROOT = path.resolve(__dirname, '..');
const BUNDLES = path.join(ROOT, '.cache', 'nautilus');
const ROUNDS = 7;

function timed(command: string, args: readonly string[], before?: () => void): number {
  before?.();
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return ms;
}

function median(command: string, args: readonly string[], before?: () => void): number {
  const samples = Array.from({ length: ROUNDS }, () => timed(command, args, before)).sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function kubectl(): string {
  const found = spawnSync('/bin/sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('kubectl is not on PATH: the baseline needs it');
  return found;
}

function main(): void {
  // Warm the bundle and the file cache first.
  timed(process.execPath, ['bin/nautilus.js', '--help']);
  const rows: Array<[string, number]> = [
    ['node -e 0 (baseline)', median(process.execPath, ['-e', '0'])],
    ['kubectl version --client (baseline)', median(kubectl(), ['version', '--client'])],
    ['nautilus --help, bundle reused', median(process.execPath, ['bin/nautilus.js', '--help'])],
    ['nautilus --help, bundled first', median(process.execPath, ['bin/nautilus.js', '--help'], () => fs.rmSync(BUNDLES, { recursive: true, force: true }))],
    ['tsx src/deploy/cli.ts --help (previous entry)', median(process.execPath, ['--require', 'tsx/cjs', 'src/deploy/cli.ts', '--help'])],
  ];
  const [node, kubectlMs] = [rows[0][1], rows[1][1]];
  const table = [
    `Median of ${ROUNDS} runs, ${os.cpus().length} cores, Node ${process.version}.`,
    '',
    '| command | median | × node | × kubectl |',
    '|---|---|---|---|',
    ...rows.map(([name, ms]) => `| ${name} | ${ms.toFixed(0)} ms | ${(ms / node).toFixed(1)} | ${(ms / kubectlMs).toFixed(1)} |`),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--record')) {
    fs.writeFileSync(path.join(__dirname, 'CLI-RESULTS.md'), `# Deploy tool start-up\n\nRecorded by \`npm run bench:cli -- --record\`.\n\n${table}\n`);
  }
}

main();
