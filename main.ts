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
import { synthesizePlatform } from './src/synth/synthesize';

function main(): number {
  const root = __dirname;
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
    for (const result of results) process.stdout.write(result.summary);
    mirrorForCdk8sCli(distDir, process.env.CDK8S_OUTDIR);
    return 0;
  } catch (error) {
    process.stderr.write(`synthesis failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!(error instanceof ConfigurationError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

/**
 * `cdk8s synth` empties its output folder before running us and lists what we leave there, so it
 * gets a copy; dist/ stays the one source of truth.
 */
function mirrorForCdk8sCli(distDir: string, cdk8sOutdir: string | undefined): void {
  if (!cdk8sOutdir || path.resolve(cdk8sOutdir) === path.resolve(distDir)) return;
  fs.rmSync(cdk8sOutdir, { recursive: true, force: true });
  fs.cpSync(distDir, cdk8sOutdir, { recursive: true });
}

process.exitCode = main();
