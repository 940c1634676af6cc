import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import { Yaml } from 'cdk8s';
import { toMatchFile } from 'jest-file-snapshot';
import { ConfigurationError } from '../src/model/errors';
import { Cpu } from '../src/model/quantities';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { platformCharts } from '../charts/platform-charts';
import { newBuild, publishBuild, restorePublished } from '../src/synth/publish';
import { synthesizePlatform } from '../src/synth/synthesize';
import { platformInput, synthObjects, withEngine } from './support/platform';

expect.extend({ toMatchFile });

/**
 * The rendered manifests, committed for review: one file per environment and output file, exactly
 * as synthesis writes dist/ (with a fixed image tag per engine). A change to one engine shows in
 * review as a diff of that engine's objects. `npx jest test/synthesis.test.ts -u` rewrites them.
 */
const RENDERED_DIR = path.join(__dirname, '__rendered__');

function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(dir, relative)).sort()) {
      const child = path.join(relative, entry);
      if (fs.statSync(path.join(dir, child)).isDirectory()) walk(child);
      else out[child] = createHash('sha256').update(fs.readFileSync(path.join(dir, child))).digest('hex');
    }
  };
  walk('');
  return out;
}

describe('synthesis', () => {
  let workdir: string;
  beforeEach(() => { workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-synth-')); });
  afterEach(() => fs.rmSync(workdir, { recursive: true, force: true }));

  describe('rendered manifests for review (test/__rendered__/)', () => {
    let dist: string;
    beforeAll(() => {
      dist = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-rendered-'));
      synthesizePlatform(platformInput(), path.join(dist, 'dist'), platformCharts);
    });
    afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

    test.each([DEV.name, STAGING.name, PROD.name, 'images'])('%s/ matches the committed files, file by file', (directory) => {
      const files = fs.readdirSync(path.join(dist, 'dist', directory)).sort();
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(fs.readFileSync(path.join(dist, 'dist', directory, file), 'utf8')).toMatchFile(path.join(RENDERED_DIR, directory, file));
      }
      // A file synthesis no longer writes must not linger in review.
      const stale = fs.readdirSync(path.join(RENDERED_DIR, directory)).filter((f) => !files.includes(f));
      expect(stale.map((f) => `test/__rendered__/${directory}/${f} is no longer synthesized: delete it`)).toEqual([]);
    });
  });

  test('writes dist/<env>/ for every environment, files numbered in apply order, namespaces first', () => {
    const dist = path.join(workdir, 'dist');
    const results = synthesizePlatform(platformInput(), dist, platformCharts);
    expect(results.map((r) => r.environment)).toEqual(['dev', 'staging', 'prod']);
    expect(fs.readdirSync(dist)).toEqual(['dev', 'images', 'prod', 'staging']);
    const buildPlan = JSON.parse(fs.readFileSync(path.join(dist, 'images', 'build-plan.json'), 'utf8'));
    expect(buildPlan.include.map((b: { engine: string }) => b.engine)).toEqual(platformInput().catalog.map((e) => e.name));
    for (const env of ['dev', 'staging', 'prod']) {
      expect(fs.readdirSync(path.join(dist, env))).toEqual([
        '0000-cluster.yaml', '0001-secrets.yaml', '0002-network-policies.yaml', '0003-data-stores.yaml', '0004-engines.yaml', '0005-edge.yaml', '0006-monitoring.yaml', 'SUMMARY.txt',
      ]);
      const cluster = Yaml.load(path.join(dist, env, '0000-cluster.yaml')) as Array<{ kind: string }>;
      expect(cluster.slice(0, 3).every((o) => o.kind === 'Namespace')).toBe(true);
    }
  });

  test('is deterministic: two runs give byte-identical trees', () => {
    synthesizePlatform(platformInput(), path.join(workdir, 'a'), platformCharts);
    synthesizePlatform(platformInput(), path.join(workdir, 'b'), platformCharts);
    expect(treeDigest(path.join(workdir, 'a'))).toEqual(treeDigest(path.join(workdir, 'b')));
  });

  test('is atomic: invalid input exits with the clear error and leaves dist/ exactly as it was', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist, platformCharts);
    fs.writeFileSync(path.join(dist, 'marker'), 'kept');
    const before = treeDigest(dist);
    const bad = platformInput({ catalog: withEngine('risk-engine', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.cores(1.5) } })) });
    expect(() => synthesizePlatform(bad, dist, platformCharts)).toThrow(ConfigurationError);
    expect(() => synthesizePlatform(bad, dist, platformCharts)).toThrow(/\[staging, prod\] risk-engine: resources\.cpu = 1500m/);
    expect(treeDigest(dist)).toEqual(before);
    expect(fs.readdirSync(workdir)).toEqual(['.dist-builds', 'dist']);
    expect(fs.readdirSync(path.join(workdir, '.dist-builds'))).toHaveLength(1);
  });

  test('a failure after validation (during synthesis) also leaves dist/ untouched and no staging folder behind', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist, platformCharts);
    const before = treeDigest(dist);
    const input = platformInput();
    const missingTag = { ...input, imageTags: new Map([...input.imageTags].filter(([name]) => name !== 'frontend')) };
    expect(() => synthesizePlatform(missingTag, dist, platformCharts)).toThrow(/no image tag for engine frontend/);
    expect(treeDigest(dist)).toEqual(before);
    expect(fs.readdirSync(workdir)).toEqual(['.dist-builds', 'dist']);
    expect(fs.readdirSync(path.join(workdir, '.dist-builds'))).toHaveLength(1);
  });

  test('dist/ is readable by everyone: folders 0755, files 0644', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist, platformCharts);
    for (const folder of [dist, path.join(dist, 'prod'), path.join(dist, 'images')]) expect(fs.statSync(folder).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dist, 'prod', '0004-engines.yaml')).mode & 0o777).toBe(0o644);
  });

  test('dist/ never goes missing while new builds replace it', async () => {
    const dist = path.join(workdir, 'dist');
    const build = (n: number) => {
      const folder = newBuild(dist);
      fs.mkdirSync(path.join(folder, 'prod'));
      fs.writeFileSync(path.join(folder, 'prod', 'objects.yaml'), `build ${n}\n`);
      return folder;
    };
    publishBuild(build(0), dist);
    // Another process reads dist/ in a tight loop, as kubectl or a deploy job might, and counts the
    // reads that found nothing; the loop is bounded by time and stops on a signal file.
    const stop = path.join(workdir, 'stop');
    const file = path.join(dist, 'prod', 'objects.yaml');
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('fs'); let reads = 0, missing = 0; const until = Date.now() + 60000;
      process.stdout.write('ready\\n');
      while (!fs.existsSync(${JSON.stringify(stop)}) && Date.now() < until) {
        reads++; try { fs.readFileSync(${JSON.stringify(file)}); } catch { missing++; }
      }
      process.stdout.write(JSON.stringify({ reads, missing }));
    `]);
    let output = '';
    reader.stdout.on('data', (chunk) => { output += chunk; });
    const exited = new Promise((resolve) => reader.on('exit', resolve));
    while (!output.startsWith('ready')) await new Promise((resolve) => setTimeout(resolve, 10));
    // Publishes follow each other closely (a real synthesis takes seconds), so a read spans at most one.
    for (let i = 1; i <= 150; i++) {
      publishBuild(build(i), dist);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    fs.writeFileSync(stop, '');
    await exited;
    const { reads, missing } = JSON.parse(output.slice('ready\n'.length)) as { reads: number; missing: number };
    expect(reads).toBeGreaterThan(100);
    expect(missing).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe('build 150\n');
    // The current build and the one before it (kept for readers that resolved the old link).
    expect(fs.readdirSync(path.join(workdir, '.dist-builds'))).toHaveLength(2);
  }, 120000);

  test('a publish keeps the builds of another running synthesis and removes those of finished ones', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist, platformCharts);
    const builds = path.join(workdir, '.dist-builds');
    // The test runner's parent process is running; no process has the largest pid Linux allows.
    const running = path.join(builds, `build-${process.ppid}-inprogress`);
    const finished = path.join(builds, 'build-4194304-finished');
    fs.mkdirSync(running);
    fs.mkdirSync(finished);
    synthesizePlatform(platformInput(), dist, platformCharts);
    expect(fs.existsSync(running)).toBe(true);
    expect(fs.existsSync(finished)).toBe(false);
    expect(fs.readdirSync(builds)).toHaveLength(3);
  });

  test('a dist/ removed from outside (as the cdk8s CLI does) is pointed back at the last finished build', () => {
    const dist = path.join(workdir, 'dist');
    expect(restorePublished(dist)).toBe(false); // nothing published yet
    synthesizePlatform(platformInput(), dist, platformCharts);
    const published = fs.readlinkSync(dist);
    expect(restorePublished(dist)).toBe(false); // dist/ is there: left alone
    fs.rmSync(dist);
    // A build another running synthesis is still writing is newer, but not finished.
    fs.mkdirSync(path.join(workdir, '.dist-builds', `build-${process.ppid}-inprogress`));
    expect(restorePublished(dist)).toBe(true);
    expect(fs.readlinkSync(dist)).toBe(published);
    expect(fs.existsSync(path.join(dist, 'prod', '0004-engines.yaml'))).toBe(true);
  });

  test('a dist/ left as a plain folder by an older version is replaced by the published build', () => {
    const dist = path.join(workdir, 'dist');
    fs.mkdirSync(path.join(dist, 'stale'), { recursive: true });
    synthesizePlatform(platformInput(), dist, platformCharts);
    expect(fs.lstatSync(dist).isSymbolicLink()).toBe(true);
    expect(fs.readdirSync(dist)).not.toContain('stale');
    synthesizePlatform(platformInput(), dist, platformCharts);
    expect(fs.readdirSync(path.join(workdir, '.dist-builds'))).toHaveLength(2);
    expect(fs.readdirSync(path.join(workdir, '.dist-builds')).some((b) => b.endsWith('.replaced'))).toBe(false);
  });

  test('the summary counts objects by kind and names the secrets to provision', () => {
    const [dev] = synthesizePlatform(platformInput(), path.join(workdir, 'dist'), platformCharts);
    const deployments = synthObjects(DEV).filter((o) => o.kind === 'Deployment').length;
    expect(dev.summary).toMatch(new RegExp(`^ +${deployments}  Deployment$`, 'm'));
    expect(dev.summary).toContain('timescaledb-credentials [username, password]');
    expect(dev.summary.split('\n').length).toBeLessThan(30);
  });
});
