import { Yaml } from 'cdk8s';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { PLATFORM_ENVIRONMENTS } from '../src/environments/platform-environments';
import { buildEnvironmentApp, renderManifests } from '../src/synth/synthesize';
import { ManifestYaml } from '../src/synth/manifest-yaml';
import { PLATFORM_ENGINES } from '../src/catalog/platform-catalog';
const template = PLATFORM_ENGINES.find((e) => e.name === 'analytics')!;
const catalog = [...PLATFORM_ENGINES, ...Array.from({ length: 984 }, (_, i) => ({ ...template, name: `analytics-copy-${i}` }))];
const input = { catalog, stores: Object.values(PLATFORM_DATA_STORES), environments: PLATFORM_ENVIRONMENTS, imageTags: new Map(catalog.map((e) => [e.name, 'sha-0123456789abcdef'])), imageLock: {} };
const cpu = (label: string, f: () => unknown) => { const c0 = process.cpuUsage(); const r = f(); const c = process.cpuUsage(c0); console.log(label, ((c.user + c.system) / 1000).toFixed(0), 'ms cpu'); return r; };
const files = cpu('render (plan+build+toJson)', () => PLATFORM_ENVIRONMENTS.map((e) => renderManifests(buildEnvironmentApp(input, e)))) as ReturnType<typeof renderManifests>[];
const all = files.flat().flatMap((f) => f.objects);
const a = cpu('cdk8s Yaml.stringify', () => Yaml.stringify(...all)) as string;
const b = cpu('ManifestYaml', () => new ManifestYaml().stringify(all)) as string;
console.log('same', a === b);
const al = a.split('\n'), cl = b.split('\n');
let shown = 0;
for (let i = 0; i < al.length && shown < 10; i++) if (al[i] !== cl[i]) { console.log(i, JSON.stringify(al[i]), '|', JSON.stringify(cl[i])); shown++; }
