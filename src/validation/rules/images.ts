import { DEVICE_PLUGIN_IMAGE, DEVICE_PLUGIN_NAME } from '../../catalog/third-party';
import { poolForRole } from '../../environments/environment';
import { ENGINES_DIR, renderEngineFiles } from '../../images/engine-files';
import { hasDigest, imageRegistryProblem, pinnedImageProblem } from '../../model/domains';
import { planDataStore } from '../../planning/plan';
import { Finding } from '../../model/errors';
import { ValidationRule, defineRule } from '../rule';

/** Fix text for the generator. */
const RUN_GENERATOR = 'run the generator (npx ts-node scripts/generate-engines.ts) and commit what it writes';

/** Images and sources: registries, pinned third-party images, engine Dockerfiles and generated files in step with the catalog. */
export const IMAGE_RULES: readonly ValidationRule[] = [
  defineRule('image-registry', ({ environment }) => {
    const problem = imageRegistryProblem(environment.imageRegistry);
    return problem
      ? [{
        subject: 'environment', field: 'imageRegistry', value: JSON.stringify(environment.imageRegistry),
        problem: `not a registry images can be pulled from: ${problem}`, fix: 'use "host[:port]/path" in lower case, e.g. "registry.prod.nautilus.internal/nautilus"',
      }]
      : [];
  }),
  defineRule('store-images-pinned', ({ stores }) =>
    stores.flatMap((store) => {
      const problem = pinnedImageProblem(store.image);
      return problem
        ? [{
          subject: store.name, field: 'image', value: JSON.stringify(store.image),
          problem: `not an image pinned to a version: ${problem}`, fix: 'use "repository:version" or "repository:version@sha256:<digest>"',
        }]
        : [];
    })),
  defineRule('store-data-format', ({ stores, environment }) =>
    stores.filter((store) => !pinnedImageProblem(store.image) && planDataStore(store, environment).dataFormat === undefined).map((store) => ({
      subject: store.name, field: 'image', value: JSON.stringify(store.image),
      problem: 'its tag does not name the server\'s version, so the deploy tool cannot tell whether a rollback would move the data format backwards',
      fix: 'use the upstream version tag (TimescaleDB "pg16.6-ts2.17.2", Redis "7.4.1-alpine"), optionally with @sha256:<digest>',
    }))),
  defineRule('third-party-images', ({ stores, environment }) => {
    const problems: Finding[] = [];
    const mirrorProblem = environment.thirdPartyMirror !== undefined ? imageRegistryProblem(environment.thirdPartyMirror) : undefined;
    if (mirrorProblem) {
      problems.push({
        subject: 'environment', field: 'thirdPartyMirror', value: JSON.stringify(environment.thirdPartyMirror),
        problem: `not a registry images can be pulled from: ${mirrorProblem}`, fix: 'use "host[:port]/path" in lower case, e.g. "registry.prod.nautilus.internal/mirror"',
      });
    }
    if (environment.requireImageDigests) {
      const images: Array<[string, string]> = [
        ...stores.map((s): [string, string] => [s.name, s.image]),
        // The exporters beside a store's members (planned by their kind) come from the same mirror.
        ...stores.flatMap((s) => planDataStore(s, environment).monitoring.exporters
          .flatMap((exporter): Array<[string, string]> => (exporter.image ? [[`${s.name}-exporter`, exporter.image]] : []))),
        ...(poolForRole(environment, 'gpu') ? [[DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_IMAGE] as [string, string]] : []),
      ];
      for (const [subject, image] of images.filter(([, i]) => !hasDigest(i))) {
        problems.push({
          subject, field: 'image', value: JSON.stringify(image),
          problem: 'the environment requires third-party images pinned by digest (requireImageDigests) and this reference has none',
          fix: `append the upstream digest: "${image}@sha256:<digest>" (docker buildx imagetools inspect ${image})`,
        });
      }
    }
    return problems;
  }),
  defineRule('engine-dockerfile-present', ({ catalog, sources }) =>
    sources
      ? catalog.filter((e) => sources.get(e.name)?.dockerfile === undefined).map((e) => ({
        subject: e.name, field: 'image', value: `${ENGINES_DIR}/${e.name}/Dockerfile`,
        problem: 'the engine has no Dockerfile, so it has no image to deploy', fix: RUN_GENERATOR,
      }))
      : []),
  defineRule('generated-engine-files-current', ({ catalog, sources }) =>
    sources
      ? catalog.flatMap((engine) => {
        const committed = sources.get(engine.name);
        if (committed?.dockerfile === undefined) return [];
        const rendered = new Map(renderEngineFiles(engine).map((f) => [f.path, f.content]));
        return ([['engine.json', committed.engineJson], ['Dockerfile', committed.dockerfile]] as const)
          .filter(([file, content]) => content !== rendered.get(`${engine.name}/${file}`))
          .map(([file, content]) => ({
            subject: engine.name, field: file, value: `${ENGINES_DIR}/${engine.name}/${file}${content === undefined ? ' (missing)' : ''}`,
            problem: 'out of step with the catalog (port, probe paths or dependencies): the image would serve something other than the manifests expect, under an unchanged tag',
            fix: RUN_GENERATOR,
          }));
      })
      : []),
];
