/**
 * Entry point of `npm run synth` and `cdk8s synth`: the only place that reads the file system and
 * the process environment. Writes dist/<env>/ for every environment, atomically.
 */
import * as fs from 'fs';
import * as path from 'path';
import { platformCharts } from './charts/platform-charts';
import { PLATFORM_DATA_STORES } from './src/catalog/data-stores';
import { PLATFORM_ENGINES } from './src/catalog/platform-catalog';
import { PLATFORM_ENVIRONMENTS } from './src/environments/platform-environments';
import { readEngineSources, readEngineTags, readImageLock } from './src/images/engine-sources';
import { ConfigurationError } from './src/model/errors';
import { restorePublished } from './src/synth/publish';
import { synthesizePlatform } from './src/synth/synthesize';

/**
 * The repository root: the nearest folder up from this file holding cdk8s.yaml (this file runs
 * from the root as TypeScript, or from .cache/build/ compiled).
 */
function repositoryRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdk8s.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no cdk8s.yaml in ${start} or any folder above it`);
  }
}

function main(): number {
  const root = repositoryRoot(__dirname);
  const distDir = path.join(root, 'dist');
  try {
    const engineSources = readEngineSources(root, PLATFORM_ENGINES.map((e) => e.name));
    // An engine without a Dockerfile has no tag; validation reports it with every other problem.
    const tags = readEngineTags(root, PLATFORM_ENGINES.map((e) => e.name).filter((name) => engineSources.get(name)?.dockerfile !== undefined));
    if (Array.isArray(tags)) throw new ConfigurationError(tags);
    const results = synthesizePlatform({
      catalog: PLATFORM_ENGINES,
      stores: Object.values(PLATFORM_DATA_STORES),
      environments: PLATFORM_ENVIRONMENTS,
      imageTags: tags,
      imageLock: readImageLock(root),
      engineSources,
    }, distDir, platformCharts);
    // The cdk8s CLI (which sets CDK8S_OUTDIR) swallows our stdout and lists the manifests itself.
    const cdk8sOutdir = process.env.CDK8S_OUTDIR;
    const out = cdk8sOutdir === undefined ? process.stdout : process.stderr;
    for (const result of results) out.write(result.summary);
    if (cdk8sOutdir === undefined) out.write(`wrote:\n${filesUnder(distDir).map((f) => `  - ${path.relative(root, f)}\n`).join('')}`);
    mirrorForCdk8sCli(distDir, cdk8sOutdir);
    return 0;
  } catch (error) {
    process.stderr.write(`synthesis failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!(error instanceof ConfigurationError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    restoreAfterCdk8sCli(distDir);
    return 1;
  }
}

/**
 * `cdk8s synth` with `output: dist` deletes dist/ (the link to the current build) before it runs
 * this program; after a failure, dist/ is pointed back at the build it showed, so a failed
 * `cdk8s synth` leaves dist/ as it was, like a failed `npm run synth`.
 */
function restoreAfterCdk8sCli(distDir: string): void {
  const cdk8sOutdir = process.env.CDK8S_OUTDIR;
  if (cdk8sOutdir === undefined || path.resolve(cdk8sOutdir) !== path.resolve(distDir)) return;
  if (restorePublished(distDir)) process.stderr.write('dist/ shows the previous synthesis again (the cdk8s CLI had removed it).\n');
}

/** Every file under `dir`, sorted, as paths. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
}

/**
 * `cdk8s synth` (cdk8s.yaml `output: dist`) lists what is in its output folder. Given another
 * folder (`cdk8s synth --output <dir>`), it gets a copy; dist/ stays the one source of truth.
 */
function mirrorForCdk8sCli(distDir: string, cdk8sOutdir: string | undefined): void {
  if (!cdk8sOutdir || path.resolve(cdk8sOutdir) === path.resolve(distDir)) return;
  fs.rmSync(cdk8sOutdir, { recursive: true, force: true });
  // dist/ is a symbolic link to the current build: copy the files, not the link.
  fs.cpSync(distDir, cdk8sOutdir, { recursive: true, dereference: true });
}

process.exitCode = main();
