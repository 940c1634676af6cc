import { spawnSync } from 'child_process';
import * as path from 'path';
import { platformCharts } from '../../charts/platform-charts';
import { DataStoreSpec, PLATFORM_DATA_STORES, REDIS_EXPORTER } from '../../src/catalog/data-stores';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { EnvironmentSpec } from '../../src/environments/environment';
import { runImagesCli } from '../../src/images/cli';
import { readEngineSources, readEngineTags } from '../../src/images/engine-sources';
import { synthesizePlatform } from '../../src/synth/synthesize';
import { ManifestObject } from './apply';
import { readManifestDirectory } from './dist-manifests';

/** What the real-node tests share before a node starts: the images, and the environment synthesized. */

const ROOT = path.resolve(__dirname, '..', '..');
const STAND_INS = path.join(ROOT, 'scripts', 'images', 'store-stand-ins.sh');

/**
 * Builds the engine images of `environment` with `npm run images -- --base-stand-in` (every
 * engine, or only `engines`) into the local image store; fails with the tool's output.
 */
export async function buildEngineImages(environment: EnvironmentSpec, engines: readonly string[] = []): Promise<void> {
  const built = { stdout: '', stderr: '' };
  const code = await runImagesCli(['--base-stand-in', '--environment', environment.name, ...engines.flatMap((engine) => ['--engine', engine])], {
    stdout: (t) => { built.stdout += t; }, stderr: (t) => { built.stderr += t; }, env: process.env,
  });
  if (code !== 0) throw new Error(`npm run images failed:\n${built.stdout}${built.stderr}`);
}

/** The stores' stand-in images, under the catalog's references (scripts/images/store-stand-ins.sh). */
export function buildStoreStandIns(): void {
  const standIns = spawnSync('bash', [STAND_INS,
    '--redis', PLATFORM_DATA_STORES.redis.image, '--exporter', REDIS_EXPORTER.image, '--timescaledb', PLATFORM_DATA_STORES.timescaledb.image,
  ], { encoding: 'utf8' });
  if (standIns.status !== 0) throw new Error(`store stand-ins failed:\n${standIns.stderr}`);
}

/**
 * Synthesizes `environment` as `npm run synth` does (the engines' own image tags), into `dist`,
 * and returns its objects.
 */
export function synthesizeEnvironment(
  dist: string,
  environment: EnvironmentSpec,
  catalog: readonly EngineSpec[] = PLATFORM_ENGINES,
  stores: readonly DataStoreSpec[] = Object.values(PLATFORM_DATA_STORES),
): ManifestObject[] {
  const names = catalog.map((e) => e.name);
  const tags = readEngineTags(ROOT, names);
  if (Array.isArray(tags)) throw new Error(JSON.stringify(tags));
  synthesizePlatform({
    catalog, stores, environments: [environment], imageTags: tags, imageLock: {}, engineSources: readEngineSources(ROOT, names),
  }, dist, platformCharts);
  return readManifestDirectory(path.join(dist, environment.name));
}
