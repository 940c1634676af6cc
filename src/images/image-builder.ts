import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageBuild } from './build-plan';

/**
 * Which program builds the images. Docker with buildx where it is installed (what a user's CI
 * runs); otherwise buildah, which needs no daemon.
 */
export type BuilderKind = 'docker' | 'buildah';

/** How a build runs: where the context is, what to tag, and what the build container may read. */
export interface BuildRequest {
  /** The plan's row: engine, context, Dockerfile and platforms. */
  readonly build: ImageBuild;
  /** Every reference the image is tagged with; the first is the one built, the others are tags of it. */
  readonly references: readonly string[];
  /** The repository root the plan's paths are relative to. */
  readonly repositoryRoot: string;
  /**
   * Build for every platform of the plan and push the result (a manifest list) to the first
   * reference's registry, instead of building the local platform into the local image store.
   */
  readonly push: boolean;
  /** Build even when the references are already in the image store. */
  readonly rebuild: boolean;
  /** Receives the builder's output line by line, when the caller wants it shown. */
  readonly onOutput?: (line: string) => void;
  /** The builder's process environment (for buildah, `CONTAINERS_CONF` names the project's containers.conf). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** What happened to one engine's image. */
export interface BuildOutcome {
  readonly engine: string;
  readonly references: readonly string[];
  /** `built`, or `present` when every reference was already in the store (nothing to do). */
  readonly result: 'built' | 'present' | 'pushed';
  readonly seconds: number;
}

/** A failed build: names the engine, the Dockerfile and the step that failed, with the builder's last lines. */
export class ImageBuildError extends Error {
  constructor(
    readonly engine: string,
    readonly dockerfile: string,
    readonly step: string | undefined,
    readonly outputTail: readonly string[],
    reason: string,
  ) {
    super(
      `image of ${engine} failed to build from ${dockerfile}` +
      `${step ? ` at ${step}` : ''}: ${reason}\n` +
      `${outputTail.map((line) => `    ${line}`).join('\n')}`,
    );
    this.name = 'ImageBuildError';
  }
}

/** Lines of builder output kept for an error message. */
const OUTPUT_TAIL_LINES = 25;

/**
 * Finds the builder: Docker when `docker buildx version` answers, else buildah on PATH.
 * Returns the problems instead when neither can build here, each with how to fix it.
 */
export function detectBuilder(env: Readonly<Record<string, string | undefined>>): BuilderKind | string[] {
  if (spawnSync('docker', ['buildx', 'version'], { stdio: 'ignore', env: env as NodeJS.ProcessEnv }).status === 0) return 'docker';
  const problems: string[] = [];
  if (spawnSync('buildah', ['--version'], { stdio: 'ignore', env: env as NodeJS.ProcessEnv }).status !== 0) {
    problems.push('neither Docker with buildx nor buildah is installed: install Docker with the buildx plugin, or buildah (Debian: bash scripts/install-container-tools.sh)');
  } else if (process.getuid?.() !== 0) {
    problems.push('buildah builds into the system image store (/var/lib/containers), which needs root: run as root');
  }
  return problems.length > 0 ? problems : 'buildah';
}

/**
 * Builds (or skips, when already built) one engine image. The Dockerfile is used as committed:
 * the same file and context a user's CI gives to `docker buildx build`.
 *
 * @throws ImageBuildError when the builder fails, naming the engine, the Dockerfile and the step
 */
export async function buildImage(builder: BuilderKind, request: BuildRequest, present: ReadonlySet<string>): Promise<BuildOutcome> {
  const { build, references } = request;
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  if (!request.push && !request.rebuild && references.every((reference) => present.has(reference))) {
    return { engine: build.engine, references, result: 'present', seconds: seconds() };
  }
  const context = path.join(request.repositoryRoot, build.context);
  const dockerfile = path.join(request.repositoryRoot, build.dockerfile);
  const buildMounts = npmBuildMounts();
  try {
    if (builder === 'docker') {
      const platform = request.push ? ['--platform', build.platforms, '--push'] : ['--load'];
      await run(request, 'docker', [
        'buildx', 'build', '--progress=plain', ...platform,
        ...references.flatMap((reference) => ['--tag', reference]),
        '--file', dockerfile, context,
      ]);
    } else if (request.push) {
      // A manifest list of every platform of the plan. The Dockerfiles' build stage runs on the
      // build platform and the final stage only copies, so no emulator is needed.
      const [first] = references;
      spawnSync('buildah', ['manifest', 'rm', first], { stdio: 'ignore', env: request.env as NodeJS.ProcessEnv });
      await run(request, 'buildah', [
        'bud', '--layers', '--force-rm', '--network', 'host', ...buildMounts.flags,
        '--platform', build.platforms, '--manifest', first, '--file', dockerfile, context,
      ]);
      for (const reference of references) {
        await run(request, 'buildah', ['manifest', 'push', '--all', first, `docker://${reference}`]);
      }
    } else {
      await run(request, 'buildah', [
        // --layers reuses the steps every engine shares (the runtime's npm ci); host networking
        // and the npm mounts let `npm ci` reach the registry the machine uses.
        'bud', '--layers', '--force-rm', '--network', 'host', '--pull=missing', ...buildMounts.flags,
        '--tag', references[0], '--file', dockerfile, context,
      ]);
      for (const reference of references.slice(1)) {
        await run(request, 'buildah', ['tag', references[0], reference]);
      }
    }
  } finally {
    buildMounts.cleanup();
  }
  return { engine: build.engine, references, result: request.push ? 'pushed' : 'built', seconds: seconds() };
}

/** Every `repository:tag` in the local image store. */
export function localImages(builder: BuilderKind, env: Readonly<Record<string, string | undefined>>): Set<string> {
  const [command, args] = builder === 'docker'
    ? ['docker', ['images', '--format', '{{.Repository}}:{{.Tag}}']]
    : ['buildah', ['images', '--format', '{{.Name}}:{{.Tag}}']];
  const result = spawnSync(command, args, { encoding: 'utf8', env: env as NodeJS.ProcessEnv });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return new Set(result.stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.includes('<none>')));
}

/**
 * The machine's npm registry settings, lent to the build's `RUN npm ci` read-only and only
 * while it runs, never baked into a layer: a registry reached through a proxy with its own CA
 * (as on this project's machines) is otherwise refused inside the build container. Nothing is
 * mounted when the machine's npm uses the public registry with the default CAs.
 */
function npmBuildMounts(): { flags: string[]; cleanup: () => void } {
  const config = (key: string): string | undefined => {
    const result = spawnSync('npm', ['config', 'get', key], { encoding: 'utf8' });
    const value = result.status === 0 ? result.stdout.trim() : '';
    return value === '' || value === 'null' || value === 'undefined' ? undefined : value;
  };
  const cafile = config('cafile');
  const registry = config('registry');
  const lines = [
    'update-notifier=false',
    ...(cafile && fs.existsSync(cafile) ? [`cafile=${cafile}`] : []),
    ...(registry && registry !== 'https://registry.npmjs.org/' ? [`registry=${registry}`] : []),
  ];
  if (lines.length === 1) return { flags: [], cleanup: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-images-npmrc-'));
  const npmrc = path.join(dir, 'npmrc');
  fs.writeFileSync(npmrc, `${lines.join('\n')}\n`, { mode: 0o644 });
  // The build stage runs as the image's root user, so npm reads the user configuration at
  // /root/.npmrc inside the build container (a path of the image, not of this machine). npm's
  // global configuration (/usr/local/etc/npmrc) mounted read-only crashes npm 10.8 ("Exit handler
  // never called!"), so it is not used.
  const flags = ['--volume', `${npmrc}:/root/.npmrc:ro`];
  if (cafile && fs.existsSync(cafile)) flags.push('--volume', `${fs.realpathSync(cafile)}:${cafile}:ro`);
  return { flags, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs the builder, keeping the last lines and the last step it announced. buildah prints
 * `STEP 4/9: RUN ...`; buildx with plain progress prints `#8 [build 4/7] RUN ...`.
 */
function run(request: BuildRequest, command: string, args: readonly string[]): Promise<void> {
  const { build } = request;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: request.env as NodeJS.ProcessEnv });
    const tail: string[] = [];
    let step: string | undefined;
    // stdout and stderr each keep their own unfinished line, so the two never splice.
    const partial = { stdout: '', stderr: '' };
    const take = (stream: keyof typeof partial) => (chunk: Buffer) => {
      const lines = (partial[stream] + chunk.toString('utf8')).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) accept(line);
    };
    const accept = (line: string) => {
      const buildahStep = /^((?:\[\d+\/\d+\] )?STEP \d+\/\d+): (.*)$/.exec(line);
      const buildxStep = /^#\d+ \[([^\]]*\d+\/\d+)\] (.*)$/.exec(line);
      if (buildahStep) step = `${buildahStep[1].replace(/^\[(\d+\/\d+)\] STEP/, 'stage $1, step').replace(/^STEP/, 'step')} (${buildahStep[2]})`;
      else if (buildxStep) step = `step ${buildxStep[1]} (${buildxStep[2]})`;
      tail.push(line);
      if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      request.onOutput?.(line);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    child.on('error', (error) => reject(new ImageBuildError(build.engine, build.dockerfile, step, tail, `${command} could not start: ${error.message}`)));
    child.on('close', (code, signal) => {
      for (const rest of [partial.stdout, partial.stderr]) if (rest !== '') accept(rest);
      if (code === 0) resolve();
      else reject(new ImageBuildError(build.engine, build.dockerfile, step, tail, `${command} ${args[0]} exited ${code ?? signal}`));
    });
  });
}
