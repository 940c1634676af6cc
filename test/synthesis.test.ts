import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { Yaml } from 'cdk8s';
import { ConfigurationError } from '../src/model/errors';
import { Cpu } from '../src/model/quantities';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { synthesizePlatform } from '../src/synth/synthesize';
import { platformInput, synthObjects, withEngine } from './support/platform';

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

  test.each([DEV, STAGING, PROD].map((e) => [e.name, e] as const))('snapshot of %s for review', (_n, environment) => {
    const objects = synthObjects(environment);
    expect(objects.map(({ file, ...o }) => `# ${file}\n${Yaml.stringify(o)}`).join('---\n')).toMatchSnapshot();
  });

  test('writes dist/<env>/ for every environment, files numbered in apply order, namespaces first', () => {
    const dist = path.join(workdir, 'dist');
    const results = synthesizePlatform(platformInput(), dist);
    expect(results.map((r) => r.environment)).toEqual(['dev', 'staging', 'prod']);
    expect(fs.readdirSync(dist)).toEqual(['dev', 'images', 'prod', 'staging']);
    const buildPlan = JSON.parse(fs.readFileSync(path.join(dist, 'images', 'build-plan.json'), 'utf8'));
    expect(buildPlan.include.map((b: { engine: string }) => b.engine)).toEqual(platformInput().catalog.map((e) => e.name));
    for (const env of ['dev', 'staging', 'prod']) {
      expect(fs.readdirSync(path.join(dist, env))).toEqual([
        '0000-cluster.yaml', '0001-network-policies.yaml', '0002-data-stores.yaml', '0003-engines.yaml', '0004-monitoring.yaml', 'SUMMARY.txt',
      ]);
      const cluster = Yaml.load(path.join(dist, env, '0000-cluster.yaml')) as Array<{ kind: string }>;
      expect(cluster.slice(0, 3).every((o) => o.kind === 'Namespace')).toBe(true);
    }
  });

  test('is deterministic: two runs give byte-identical trees', () => {
    synthesizePlatform(platformInput(), path.join(workdir, 'a'));
    synthesizePlatform(platformInput(), path.join(workdir, 'b'));
    expect(treeDigest(path.join(workdir, 'a'))).toEqual(treeDigest(path.join(workdir, 'b')));
  });

  test('is atomic: invalid input exits with the clear error and leaves dist/ exactly as it was', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist);
    fs.writeFileSync(path.join(dist, 'marker'), 'kept');
    const before = treeDigest(dist);
    const bad = platformInput({ catalog: withEngine('risk-engine', (e) => ({ ...e, resources: { ...e.resources, cpu: Cpu.cores(1.5) } })) });
    expect(() => synthesizePlatform(bad, dist)).toThrow(ConfigurationError);
    expect(() => synthesizePlatform(bad, dist)).toThrow(/\[staging, prod\] risk-engine: resources\.cpu = 1500m/);
    expect(treeDigest(dist)).toEqual(before);
    expect(fs.readdirSync(workdir)).toEqual(['dist']);
  });

  test('a failure after validation (during synthesis) also leaves dist/ untouched and no staging folder behind', () => {
    const dist = path.join(workdir, 'dist');
    synthesizePlatform(platformInput(), dist);
    const before = treeDigest(dist);
    const input = platformInput();
    const missingTag = { ...input, imageTags: new Map([...input.imageTags].filter(([name]) => name !== 'frontend')) };
    expect(() => synthesizePlatform(missingTag, dist)).toThrow(/no image tag for engine frontend/);
    expect(treeDigest(dist)).toEqual(before);
    expect(fs.readdirSync(workdir)).toEqual(['dist']);
  });

  test('the summary counts objects by kind and names the secrets to provision', () => {
    const [dev] = synthesizePlatform(platformInput(), path.join(workdir, 'dist'));
    const deployments = synthObjects(DEV).filter((o) => o.kind === 'Deployment').length;
    expect(dev.summary).toMatch(new RegExp(`^ +${deployments}  Deployment$`, 'm'));
    expect(dev.summary).toContain('timescaledb-credentials [username, password]');
    expect(dev.summary.split('\n').length).toBeLessThan(30);
  });
});
