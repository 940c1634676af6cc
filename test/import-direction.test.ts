import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');

/** Every .ts file under `dir` (relative to the repository root), engine images excluded (they are separate programs). */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(child);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        out.push(child);
      }
    }
  };
  walk(dir);
  return out;
}

/** The repository-relative targets of a file's relative imports, parsed by TypeScript. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, false);
  return importedFiles
    .map((i) => i.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.posix.normalize(path.posix.join(path.posix.dirname(file), name)));
}

/** `from` files importing anything under one of `forbidden`, as "file -> target" lines. */
function violations(from: string, forbidden: readonly string[]): string[] {
  return sources(from).flatMap((file) =>
    importsOf(file)
      .filter((target) => forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
      .map((target) => `${file} -> ${target}`));
}

// Imports run one way: catalog → planning → constructs → charts → synth (and the entry point).
describe('import direction', () => {
  test('the parser finds relative imports (the checks below would pass vacuously otherwise)', () => {
    expect(importsOf('charts/platform-charts.ts')).toEqual(expect.arrayContaining(['charts/cluster-chart', 'src/planning/environment-plan']));
    expect(violations('charts', ['src/planning'])).not.toEqual([]);
  });

  test('nothing under src/ imports the top-level charts/, main.ts, bench/ or test/', () => {
    expect(violations('src', ['charts', 'main', 'bench', 'test'])).toEqual([]);
  });

  test('planning imports neither constructs nor synthesis', () => {
    expect(violations('src/planning', ['src/constructs', 'src/synth'])).toEqual([]);
  });

  test('planning, validation and what they read speak no Kubernetes shapes (imports/, cdk8s, cdk8s-plus): the constructs render plain data', () => {
    const below = ['src/model', 'src/catalog', 'src/environments', 'src/planning', 'src/validation'];
    const packages = ['cdk8s', 'cdk8s-plus-27'];
    const packageImports = below.flatMap(sources).flatMap((file) =>
      ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, false).importedFiles
        .map((i) => i.fileName).filter((name) => packages.includes(name)).map((name) => `${file} -> ${name}`));
    expect([...below.flatMap((dir) => violations(dir, ['imports'])), ...packageImports]).toEqual([]);
  });

  test('constructs and charts do not import synthesis', () => {
    expect([...violations('src/constructs', ['src/synth']), ...violations('charts', ['src/synth'])]).toEqual([]);
  });

  test('the catalog imports nothing above it', () => {
    expect(violations('src/catalog', ['src/planning', 'src/constructs', 'src/synth', 'src/validation', 'src/images', 'src/deploy', 'charts'])).toEqual([]);
  });

  test('the images and the deploy tool read the catalog and environments, never planning, constructs or synthesis', () => {
    // The uid the images and the pods share is the catalog's, so images need no plan; the deploy
    // tool works on the rendered manifests.
    const layers = ['src/planning', 'src/constructs', 'src/synth', 'src/validation'];
    expect([...violations('src/images', layers), ...violations('src/deploy', layers)]).toEqual([]);
  });

  test('below the entry points nothing reads the platform\'s own catalog, stores or environments', () => {
    // Those are inputs: synthesis, validation and planning take them as parameters, so a test or a
    // benchmark can pass its own. Only their definitions and the tools' entry points name them.
    const owners = new Set(['src/catalog/platform-catalog.ts', 'src/catalog/data-stores.ts', 'src/environments/platform-environments.ts',
      'src/deploy/cli.ts', 'src/images/cli.ts']);
    const readers = sources('src').filter((file) => !owners.has(file) && !file.startsWith('src/engines/'))
      .filter((file) => /\bPLATFORM_(ENGINES|DATA_STORES|ENVIRONMENTS)\b/.test(fs.readFileSync(path.join(ROOT, file), 'utf8')));
    expect(readers).toEqual([]);
  });
});
