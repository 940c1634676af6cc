import { Yaml } from 'cdk8s';
import { platformCharts } from '../charts/platform-charts';
import { ManifestYaml } from '../src/synth/manifest-yaml';
import { buildEnvironmentApp, renderManifests } from '../src/synth/synthesize';
import { PLATFORM_ENVIRONMENTS, platformInput } from './support/platform';

describe('manifest YAML', () => {
  test.each(PLATFORM_ENVIRONMENTS.map((e) => [e.name, e] as const))('every file of %s is byte-identical to cdk8s Yaml.stringify', (_name, environment) => {
    const yaml = new ManifestYaml();
    const files = renderManifests(buildEnvironmentApp(platformInput(), environment, platformCharts));
    expect(files.length).toBeGreaterThan(0);
    for (const { objects } of files) expect(yaml.stringify(objects)).toBe(Yaml.stringify(...objects));
  });

  // Scalars whose style the library decides: YAML 1.1 booleans, numbers and timestamps as strings,
  // indicators, multi-line text (block scalars, kept and stripped final newlines, leading spaces,
  // blank lines), quotes, keys that need quoting, empty collections, null and undefined.
  const awkward = {
    'plain-key': 'value',
    'needs: quoting': 'x',
    '': 'empty key',
    'app.kubernetes.io/name': 'risk-engine',
    booleans: ['yes', 'No', 'on', 'OFF', 'y', 'n', 'true', 'False', '~', 'null', ''],
    numbers: ['0775', '1e3', '1_000', '0x1F', '.inf', '-.NaN', '190:20:30', '3.14', 8080, 0.5, -1, 1e21, 0],
    timestamps: ['2001-12-14', '2001-12-14t21:59:43.10-05:00'],
    indicators: ['-c', '-', '--requirepass', '- x', '? y', ': z', '#comment', 'a #b', 'a: b', '&anchor', '*alias', '!tag', '|', '>', '@at', '`tick', '%pct', "'single'", '"double"', '{brace}', '[bracket]', 'trailing ', ' leading', 'end:'],
    multiline: ['line one\nline two\n', 'no final newline\nsecond', 'kept\n\n\n', '  indented first\nsecond\n', 'blank\n\nlines\n', 'tab\there\n', '---\ndocument marker\n'],
    nested: [[1, [2, 3]], [], {}, { a: [] }, { b: {} }, [{ c: 'd', e: ['f', { g: 'h\ni\n' }] }]],
    control: 'bell\u0007',
    unicode: 'π ≈ 3.14159 — ünïcødé',
    nothing: null,
    missing: undefined,
    flag: false,
    deep: { a: { b: { c: { d: 'e\nf\n' } } } },
  };

  test('awkward scalars, keys and nesting come out exactly as the library writes them', () => {
    const documents = [awkward, { kind: 'Second', list: ['x'] }, 'a scalar document', ['a', 'top-level', 'sequence'], {}, []];
    expect(new ManifestYaml().stringify(documents)).toBe(Yaml.stringify(...documents));
  });

  test('memoised scalars are rendered for their context (map value or sequence item)', () => {
    const yaml = new ManifestYaml();
    const documents = [{ a: 'yes', b: ['yes', 'multi\nline\n'], c: 'multi\nline\n' }, { b: ['yes'], a: 'yes' }];
    const once = yaml.stringify(documents);
    expect(once).toBe(Yaml.stringify(...documents));
    expect(yaml.stringify(documents)).toBe(once);
  });
});
