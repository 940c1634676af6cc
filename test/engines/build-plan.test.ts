import { PLATFORM_ENGINES } from '../../src/catalog/platform-catalog';
import { IMAGE_PLATFORMS, imageBuildPlan, renderImageBuildPlan } from '../../src/images/build-plan';
import { ConfigurationError } from '../../src/model/errors';
import { lockEntries, mergeLock, parseBuildMetadata, parseDigestLines, renderLock } from '../../scripts/record-image-digests';

const tags = new Map(PLATFORM_ENGINES.map((e, i) => [e.name, `sha-${i.toString(16).padStart(16, '0')}`]));
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('image build plan', () => {
  const plan = imageBuildPlan(PLATFORM_ENGINES, tags, 'registry.example/nautilus/');

  test('one row per catalog engine, in catalog order, batch engines included', () => {
    expect(plan.include.map((r) => r.engine)).toEqual(PLATFORM_ENGINES.map((e) => e.name));
  });

  test('a row names the image, its content tag, the shared context, its own Dockerfile and both platforms', () => {
    expect(plan.include[0]).toEqual({
      engine: 'risk-engine',
      image: 'registry.example/nautilus/risk-engine',
      tag: tags.get('risk-engine'),
      context: 'src/engines',
      dockerfile: 'src/engines/risk-engine/Dockerfile',
      platforms: 'linux/amd64,linux/arm64',
    });
    expect(IMAGE_PLATFORMS).toContain('linux/arm64'); // the GPU pool
  });

  test('without a prefix the image is the engine name', () => {
    expect(imageBuildPlan(PLATFORM_ENGINES.slice(0, 1), tags).include[0].image).toBe('risk-engine');
  });

  test('renders deterministically with a trailing newline', () => {
    expect(renderImageBuildPlan(plan)).toBe(renderImageBuildPlan(imageBuildPlan(PLATFORM_ENGINES, new Map(tags), 'registry.example/nautilus')));
    expect(renderImageBuildPlan(plan).endsWith('}\n')).toBe(true);
  });

  test('an engine without a content tag fails, naming it', () => {
    const missing = new Map(tags);
    missing.delete('factor');
    expect(() => imageBuildPlan(PLATFORM_ENGINES, missing)).toThrow(ConfigurationError);
    expect(() => imageBuildPlan(PLATFORM_ENGINES, missing)).toThrow(/factor: image tag = undefined/);
  });
});

describe('recording image digests (scripts/record-image-digests.ts)', () => {
  const plan = imageBuildPlan(PLATFORM_ENGINES, tags, 'registry.example/nautilus');
  const tagOf = (engine: string) => tags.get(engine)!;

  test('reads docker buildx bake metadata, one entry per target', () => {
    const metadata = {
      'risk-engine': { 'containerimage.digest': digest(1), 'image.name': `registry.example/nautilus/risk-engine:${tagOf('risk-engine')}` },
      frontend: { 'containerimage.digest': digest(2), 'image.name': `registry.example/nautilus/frontend:${tagOf('frontend')},registry.example/nautilus/frontend:main` },
      'buildx.build.warnings': [],
    };
    expect(() => lockEntries(plan, parseBuildMetadata(metadata))).toThrow(/frontend:main has tag main/);
    metadata.frontend['image.name'] = `registry.example/nautilus/frontend:${tagOf('frontend')}`;
    expect(lockEntries(plan, parseBuildMetadata(metadata))).toEqual({
      'risk-engine': { tag: tagOf('risk-engine'), digest: digest(1) },
      frontend: { tag: tagOf('frontend'), digest: digest(2) },
    });
  });

  test('reads a single build\'s metadata', () => {
    const records = parseBuildMetadata({ 'containerimage.digest': digest(3), 'image.name': `registry.example/nautilus/factor:${tagOf('factor')}` });
    expect(lockEntries(plan, records)).toEqual({ factor: { tag: tagOf('factor'), digest: digest(3) } });
  });

  test('reads "name digest" lines: engine names take the plan\'s tag', () => {
    const records = parseDigestLines(`# built by CI\nbackend ${digest(4)}\n\nregistry.example/nautilus/strategy:${tagOf('strategy')} ${digest(5)}\n`);
    expect(lockEntries(plan, records)).toEqual({
      backend: { tag: tagOf('backend'), digest: digest(4) },
      strategy: { tag: tagOf('strategy'), digest: digest(5) },
    });
  });

  test('rejects malformed digests, unknown images and stale tags, naming the line', () => {
    expect(() => parseDigestLines('backend sha256:abc')).toThrow(/line 1: digest is "sha256:abc"/);
    expect(() => lockEntries(plan, parseDigestLines(`not-an-engine ${digest(1)}`))).toThrow(/no engine of the build plan/);
    expect(() => lockEntries(plan, parseDigestLines(`backend:sha-0000000000000000 ${digest(1)}`))).toThrow(/rebuild from the current plan/);
  });

  test('merging keeps engines not rebuilt, replaces rebuilt ones and drops engines gone from the plan', () => {
    const existing = {
      backend: { tag: 'sha-old', digest: digest(7) },
      frontend: { tag: tagOf('frontend'), digest: digest(8) },
      'retired-engine': { tag: 'sha-1', digest: digest(9) },
    };
    const merged = mergeLock(existing, plan, { backend: { tag: tagOf('backend'), digest: digest(10) } });
    expect(merged).toEqual({ backend: { tag: tagOf('backend'), digest: digest(10) }, frontend: existing.frontend });
    expect(renderLock(merged)).toBe(`${JSON.stringify(merged, null, 2)}\n`);
  });
});
