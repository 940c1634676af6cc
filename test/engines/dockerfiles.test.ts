/**
 * Static checks of every engine's Dockerfile against the catalog, and of the engine directories
 * against the generator (scripts/generate-engines.ts). No Docker needed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineSpec } from '../../src/catalog/engine-spec';
import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { readBuildInput } from '../../src/images/engine-sources';
import { renderEngineFiles, staleEngineFiles } from '../../scripts/generate-engines';
import { DOCKERFILE_RULES, ImageExpectation, checkDockerfile } from './dockerfile-rules';
import { parseStages } from './dockerfile';

const ROOT = path.join(__dirname, '..', '..');
const ENGINES_DIR = path.join(ROOT, 'src', 'engines');

function expectation(engine: EngineSpec): ImageExpectation {
  const workload = engine.workload;
  return workload.kind === 'service'
    ? { engine: engine.name, port: workload.port, healthPaths: [workload.health.liveness, workload.health.readiness] }
    : { engine: engine.name, healthPaths: [] };
}

function dockerfileOf(engine: string): string {
  const file = path.join(ENGINES_DIR, engine, 'Dockerfile');
  if (!fs.existsSync(file)) throw new Error(`src/engines/${engine}/Dockerfile is missing: run npx ts-node scripts/generate-engines.ts`);
  return fs.readFileSync(file, 'utf8');
}

describe('engine Dockerfiles agree with the catalog', () => {
  const cases = PLATFORM_ENGINES.flatMap((engine) => DOCKERFILE_RULES.map((rule) => [engine.name, rule.name, engine, rule] as const));
  test.each(cases)('%s: %s', (_name, _ruleName, engine, rule) => {
    const text = dockerfileOf(engine.name);
    expect(rule.check(parseStages(text), expectation(engine), text)).toEqual([]);
  });
});

describe('engine directories', () => {
  test('every catalog engine has a directory, and every directory but runtime/ is a catalog engine', () => {
    const dirs = fs.readdirSync(ENGINES_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(dirs).toEqual([...PLATFORM_ENGINES.map((e) => e.name), 'runtime'].sort());
  });

  test('engine.json, Dockerfile and README.md are what scripts/generate-engines.ts renders from the catalog', () => {
    // On failure: npx ts-node scripts/generate-engines.ts, and review the diff.
    expect(staleEngineFiles(ENGINES_DIR)).toEqual([]);
  });

  test.each(PLATFORM_ENGINES.map((e) => [e.name, e] as const))('%s: its image\'s build input is the runtime and its own directory only', (name) => {
    const input = readBuildInput(ROOT, name);
    if (!Array.isArray(input)) throw new Error(input.problem);
    const tops = [...new Set(input.map((file) => file.path.split('/')[0]))].sort();
    expect(tops).toEqual([name, 'runtime'].sort());
    expect(input.map((f) => f.path)).toEqual(expect.arrayContaining([`${name}/Dockerfile`, `${name}/main.ts`, `${name}/engine.json`, 'runtime/index.ts']));
  });

  test('the generator writes main.ts only where it is missing (it holds the engine\'s own code)', () => {
    const files = renderEngineFiles(PLATFORM_ENGINES[0]);
    expect(files.filter((f) => f.seedOnly).map((f) => path.basename(f.path))).toEqual(['main.ts']);
  });
});

describe('each Dockerfile rule fails where it should', () => {
  const good = dockerfileOf('risk-engine');
  const expected: ImageExpectation = { engine: 'risk-engine', port: 8200, healthPaths: ['/health/live', '/health/ready'] };
  const failing: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['an unpinned base image', good.replace(/^FROM node:[^\s]+$/m, 'FROM node:latest'), /not pinned/],
    ['a major-only base tag', good.replace(/^FROM node:[^\s]+$/m, 'FROM node:20-bookworm-slim'), /not pinned/],
    ['a root USER', good.replace(/^USER .*$/m, 'USER 0:0'), /is root/],
    ['a named USER', good.replace(/^USER .*$/m, 'USER node'), /not numeric/],
    ['no USER', good.replace(/^USER .*$/m, ''), /runs? as root/],
    ['another port', good.replace(/^EXPOSE .*$/m, 'EXPOSE 8080'), /EXPOSE 8080, but the catalog says 8200/],
    ['a HEALTHCHECK on another path', `${good}HEALTHCHECK CMD node -e "fetch('http://localhost:8200/healthz')"\n`, /does not probe/],
    ['a COPY of another engine', good.replace('COPY risk-engine/ risk-engine/', 'COPY risk-engine/ risk-engine/\nCOPY order-manager/ order-manager/'), /order-manager/],
    ['a COPY of the whole context', good.replace('COPY risk-engine/ risk-engine/', 'COPY . .'), /only runtime\//],
    ['a shell-form ENTRYPOINT', good.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node /app/risk-engine/main.js'), /shell form/],
  ];
  test('the committed Dockerfile passes every rule', () => {
    expect(checkDockerfile(good, expected)).toEqual([]);
  });
  test.each(failing)('%s is reported', (_what, text, message) => {
    expect(checkDockerfile(text, expected).join('\n')).toMatch(message);
  });
  test('a HEALTHCHECK on the catalog port and path is accepted', () => {
    expect(checkDockerfile(`${good}HEALTHCHECK CMD node -e "fetch('http://127.0.0.1:8200/health/live')"\n`, expected)).toEqual([]);
  });
  test('a batch engine exposes nothing', () => {
    expect(checkDockerfile(good, { engine: 'risk-engine', healthPaths: [] }).join('\n')).toMatch(/none: a batch engine/);
  });
});
