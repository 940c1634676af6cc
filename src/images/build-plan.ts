import { EngineSpec } from '../catalog/engine-spec';
import { ConfigurationError, ConfigurationProblem } from '../model/errors';
import { ENGINES_CONTEXT } from './engine-sources';

/** The platforms every engine image is built for: the general pools are amd64, the GPU pool (GH200) arm64. */
export const IMAGE_PLATFORMS: readonly string[] = ['linux/amd64', 'linux/arm64'];

/** One image to build: a row of the CI matrix. */
export interface ImageBuild {
  /** The engine (and image) name. */
  readonly engine: string;
  /** The repository the image is pushed to: `<repositoryPrefix>/<engine>`, or the engine name alone. */
  readonly image: string;
  /** The content tag (`sha-...`) the manifests reference. */
  readonly tag: string;
  /** The build context, relative to the repository root. */
  readonly context: string;
  /** The Dockerfile, relative to the repository root. */
  readonly dockerfile: string;
  /** Comma-separated, as `docker buildx build --platform` takes it. */
  readonly platforms: string;
}

/**
 * The build plan written to dist/images/build-plan.json: a GitHub Actions style matrix
 * (`strategy.matrix: ${{ fromJSON(...) }}`), one row per engine in catalog order.
 */
export interface ImageBuildPlan {
  readonly include: readonly ImageBuild[];
}

/**
 * The images to build for a catalog, each tagged with its content tag. Every engine of the
 * catalog gets a row, whichever environments deploy it: an image is built once and promoted.
 *
 * @param tags content tag per engine name (see `readEngineTags`)
 * @param repositoryPrefix registry and path the images are pushed under, e.g. `registry.example/nautilus`
 * @throws ConfigurationError naming every engine without a tag
 */
export function imageBuildPlan(
  engines: readonly EngineSpec[],
  tags: ReadonlyMap<string, string>,
  repositoryPrefix?: string,
): ImageBuildPlan {
  const problems: ConfigurationProblem[] = [];
  const include: ImageBuild[] = [];
  for (const engine of engines) {
    const tag = tags.get(engine.name);
    if (tag === undefined || !/^sha-[0-9a-f]+$/.test(tag)) {
      problems.push({
        rule: 'engine-image-tag', environment: 'catalog', subject: engine.name, field: 'image tag', value: String(tag),
        problem: 'the engine has no content tag to build its image under',
        fix: `compute the tags with readEngineTags() for every engine of the catalog (is ${ENGINES_CONTEXT}/${engine.name}/Dockerfile there?)`,
      });
      continue;
    }
    include.push({
      engine: engine.name,
      image: repositoryPrefix ? `${repositoryPrefix.replace(/\/+$/, '')}/${engine.name}` : engine.name,
      tag,
      context: ENGINES_CONTEXT,
      dockerfile: `${ENGINES_CONTEXT}/${engine.name}/Dockerfile`,
      platforms: IMAGE_PLATFORMS.join(','),
    });
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return { include };
}

/** The plan as the file dist/images/build-plan.json holds it (stable key order, trailing newline). */
export function renderImageBuildPlan(plan: ImageBuildPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
