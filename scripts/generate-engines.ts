/**
 * (Re)generates the boilerplate of every engine directory under src/engines from the engine
 * catalog: engine.json (what the runtime serves: port, probe paths, dependencies), Dockerfile and
 * README.md. main.ts, where trading logic plugs in, is written only when missing: it is the
 * engine's own code after that.
 *
 *   npx ts-node scripts/generate-engines.ts           write
 *   npx ts-node scripts/generate-engines.ts --check   exit 1 listing files that differ
 *
 * test/engines checks the committed files equal what this renders.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { EngineSpec } from '../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../src/catalog/platform-catalog';
import { ENGINES_DIR, renderEngineFiles } from '../src/images/engine-files';

export { ENGINES_DIR, GeneratedFile, NODE_BASE_IMAGE, renderEngineFiles } from '../src/images/engine-files';

/** Generated files (not seed-only ones) whose content on disk differs, relative to src/engines. */
export function staleEngineFiles(enginesDir: string, engines: readonly EngineSpec[] = PLATFORM_ENGINES): string[] {
  const stale: string[] = [];
  for (const file of engines.flatMap(renderEngineFiles)) {
    const path = join(enginesDir, file.path);
    if (!existsSync(path)) stale.push(file.path);
    else if (!file.seedOnly && readFileSync(path, 'utf8') !== file.content) stale.push(file.path);
  }
  return stale;
}

function main(): void {
  const root = join(__dirname, '..');
  const enginesDir = join(root, ENGINES_DIR);
  if (process.argv.includes('--check')) {
    const stale = staleEngineFiles(enginesDir);
    if (stale.length > 0) {
      console.error(`engine files out of date with the catalog (run: npx ts-node scripts/generate-engines.ts):\n  ${stale.join('\n  ')}`);
      process.exit(1);
    }
    return;
  }
  for (const file of PLATFORM_ENGINES.flatMap(renderEngineFiles)) {
    const path = join(enginesDir, file.path);
    if (file.seedOnly && existsSync(path)) continue;
    mkdirSync(join(path, '..'), { recursive: true });
    if (!existsSync(path) || readFileSync(path, 'utf8') !== file.content) {
      writeFileSync(path, file.content);
      console.log(`wrote ${join(ENGINES_DIR, file.path)}`);
    }
  }
}

if (require.main === module) main();
