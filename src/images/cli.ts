/**
 * Entry point of `npm run images`: builds every engine image from src/engines/ with its committed
 * Dockerfile, tagged with the content tag synthesis puts in the manifests (the build plan's tag,
 * dist/images/build-plan.json), under each environment's registry. An engine whose tagged image
 * is already in the local image store is not built again: the tag is a hash of the image's inputs.
 * The only module of the image tool that reads arguments, the process environment and files.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { parseArgs } from 'util';
import { PLATFORM_ENGINES } from '../catalog/platform-catalog';
import { PLATFORM_ENVIRONMENTS } from '../environments/platform-environments';
import { imageBuildPlan } from './build-plan';
import { readEngineTags } from './engine-sources';
import { BuildOutcome, buildImage, detectBuilder, ImageBuildError, localImages } from './image-builder';
import { formatImageReference, resolveImage } from './image-reference';

const REPOSITORY = path.resolve(__dirname, '..', '..');
const BASE_IMAGE_SCRIPT = path.join(REPOSITORY, 'scripts', 'images', 'base-image.sh');
/** podman's and buildah's configuration for this project: runc, and ulimits root may set here. */
const CONTAINERS_CONF = path.join(REPOSITORY, 'scripts', 'images', 'containers.conf');

const USAGE = `Usage: npm run images -- [options]

Builds every engine image from src/engines/ with its committed Dockerfile, tagged
<registry>/<engine>:<content tag> for each environment's registry (the references the
manifests of dist/<env>/ use). An image already in the local store under all its
references is not rebuilt. Uses Docker with buildx where installed, else buildah.

Options:
  --environment <env>   tag for this environment's registry only (repeatable; default: every environment)
  --engine <name>       build this engine only (repeatable; default: every engine of the catalog)
  --push                build every platform of the build plan and push to the environment's registry
  --rebuild             build even when the image is already in the local store
  --base-stand-in       first build the local stand-in for the Dockerfiles' base image
                        (scripts/images/base-image.sh), for machines without a container registry
  --verbose             show the builder's output
  -h, --help            this help
`;

/** Where the CLI writes. */
export interface ImagesIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Runs the image build; returns the exit code (0 done, 1 a build failed or a prerequisite is missing, 2 usage). */
export async function runImagesCli(argv: readonly string[], io: ImagesIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'environment': { type: 'string', multiple: true },
        'engine': { type: 'string', multiple: true },
        'push': { type: 'boolean', default: false },
        'rebuild': { type: 'boolean', default: false },
        'base-stand-in': { type: 'boolean', default: false },
        'verbose': { type: 'boolean', default: false },
        'help': { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    io.stderr(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const unknownEnvironments = (values.environment ?? []).filter((name) => !PLATFORM_ENVIRONMENTS.some((e) => e.name === name));
  const unknownEngines = (values.engine ?? []).filter((name) => !PLATFORM_ENGINES.some((e) => e.name === name));
  if (unknownEnvironments.length > 0 || unknownEngines.length > 0) {
    io.stderr([
      ...unknownEnvironments.map((name) => `--environment ${name}: no such environment (known: ${PLATFORM_ENVIRONMENTS.map((e) => e.name).join(', ')})`),
      ...unknownEngines.map((name) => `--engine ${name}: no such engine in the catalog (known: ${PLATFORM_ENGINES.map((e) => e.name).join(', ')})`),
    ].join('\n') + '\n');
    return 2;
  }
  const environments = PLATFORM_ENVIRONMENTS.filter((e) => values.environment === undefined || values.environment.includes(e.name));
  const engines = PLATFORM_ENGINES.filter((e) => values.engine === undefined || values.engine.includes(e.name));

  const env = { ...io.env, CONTAINERS_CONF: io.env.CONTAINERS_CONF ?? CONTAINERS_CONF };
  const builder = detectBuilder(env);
  if (Array.isArray(builder)) {
    io.stderr(`images: cannot build images here:\n${builder.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  if (values['base-stand-in']) {
    if (builder === 'docker') {
      io.stderr('images: --base-stand-in imports the stand-in into the buildah/podman image store; with Docker, pull the base image from its registry instead\n');
      return 2;
    }
    const base = spawnSync('bash', [BASE_IMAGE_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'], env: env as NodeJS.ProcessEnv });
    if (base.status !== 0) {
      io.stderr(`images: the stand-in base image could not be built (${BASE_IMAGE_SCRIPT} exited ${base.status}); see its output above\n`);
      return 1;
    }
  }

  const tags = readEngineTags(REPOSITORY, engines.map((e) => e.name));
  if (Array.isArray(tags)) {
    io.stderr(`images: ${tags.map((p) => `${p.subject}: ${p.problem} (${p.value}); ${p.fix}`).join('\n')}\n`);
    return 1;
  }
  const plan = imageBuildPlan(engines, tags);
  const started = Date.now();
  const present = values.push ? new Set<string>() : localImages(builder, env);
  const outcomes: BuildOutcome[] = [];
  io.stderr(`images: ${plan.include.length} engine image(s) with ${builder}, for ${environments.map((e) => e.name).join(', ')}${values.push ? ', pushing' : ''}\n`);
  for (const build of plan.include) {
    // The environments' registries, each once (two environments may share one).
    const references = [...new Set(environments.map((environment) =>
      formatImageReference(resolveImage(build.engine, environment.imageRegistry, build.tag, {}))))];
    try {
      const outcome = await buildImage(builder, {
        build, references, repositoryRoot: REPOSITORY, push: values.push, rebuild: values.rebuild, env,
        onOutput: values.verbose ? (line) => io.stderr(`  | ${line}\n`) : undefined,
      }, present);
      outcomes.push(outcome);
      const what = outcome.result === 'present' ? 'already built' : `${outcome.result} in ${outcome.seconds.toFixed(1)} s`;
      io.stdout(`  ${build.engine.padEnd(20)} ${build.tag}  ${what}\n`);
    } catch (error) {
      if (!(error instanceof ImageBuildError)) throw error;
      io.stderr(`images: ${error.message}\n`);
      if (/FROM /.test(error.step ?? '') && builder === 'buildah') {
        io.stderr('images: the base image could not be found or pulled; on a machine without a container registry build the local stand-in with --base-stand-in\n');
      }
      io.stderr(`images: stopped after ${outcomes.length} of ${plan.include.length} image(s)\n`);
      return 1;
    }
  }
  const built = outcomes.filter((o) => o.result !== 'present').length;
  io.stdout(`images: ${outcomes.length} image(s), ${built} ${values.push ? 'pushed' : 'built'}, ${outcomes.length - built} already built, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return 0;
}

if (require.main === module) {
  runImagesCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  }).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`images: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
