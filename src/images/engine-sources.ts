import * as fs from 'fs';
import * as path from 'path';
import dockerignore from '@balena/dockerignore';
import { ConfigurationProblem } from '../model/errors';
import { BuildInputFile, ImageLock, contentTag, dockerfileContextSources } from './image-reference';

/** The build context every engine image is built from, relative to the repository root. */
export const ENGINES_CONTEXT = 'src/engines';

/** Name of the lock file of built digests, at the repository root. */
export const IMAGE_LOCK_FILE = 'images.lock.json';

/**
 * The build context's `.dockerignore`, matched by @balena/dockerignore (a port of Docker's own
 * matcher, as aws-cdk uses), so Docker's idea of the build context and ours agree: `*`, `?`,
 * `**`, `!` exceptions (last match wins), and a path matched when a parent directory is.
 * Honouring it keeps tags independent of local builds and installs (node_modules, *.js).
 */
interface DockerIgnore {
  /** Whether the context-relative path (file or directory) is left out of the build context. */
  readonly ignores: (relativePath: string) => boolean;
  /** The `!` exception patterns, cleaned as Docker cleans them. */
  readonly exceptions: readonly string[];
}

/** Parses a `.dockerignore` file's content. */
export function parseDockerIgnore(content: string): DockerIgnore {
  const matcher = dockerignore().add(content);
  const exceptions = content.split(/\r?\n/).map((line) => line.trim())
    .filter((line) => line.startsWith('!'))
    .map((line) => path.posix.normalize(line.slice(1).trim().replace(/^\/+/, '')));
  return { ignores: (relativePath) => matcher.ignores(relativePath), exceptions };
}

/**
 * Context files under `relative`. An ignored directory is skipped as Docker skips it when it
 * builds the context: unless an exception pattern names a path inside it (moby
 * pkg/archive TarWithOptions), so `!runtime/generated/schema.ts` re-includes that file even
 * though `runtime/generated` is ignored, while node_modules is never walked.
 */
function filesUnder(root: string, relative: string, ignore: DockerIgnore): string[] {
  const absolute = path.join(root, relative);
  if (!fs.existsSync(absolute)) return [];
  if (fs.statSync(absolute).isFile()) return ignore.ignores(relative) ? [] : [relative];
  if (relative !== '' && ignore.ignores(relative) && !ignore.exceptions.some((p) => `${p}/`.startsWith(`${relative}/`))) return [];
  return fs.readdirSync(absolute).sort().flatMap((entry) => filesUnder(root, path.posix.join(relative, entry), ignore));
}

/**
 * Reads one engine's build input from the repository: its Dockerfile and every context file the
 * Dockerfile copies (directories recursively, `.` meaning the whole context), less what the
 * context's `.dockerignore` leaves out of the build.
 */
export function readBuildInput(repositoryRoot: string, engineName: string): BuildInputFile[] | ConfigurationProblem {
  const context = path.join(repositoryRoot, ENGINES_CONTEXT);
  const dockerfilePath = path.posix.join(engineName, 'Dockerfile');
  if (!fs.existsSync(path.join(context, dockerfilePath))) {
    return {
      rule: 'engine-dockerfile-present', environment: 'catalog', subject: engineName, field: 'image', value: `${ENGINES_CONTEXT}/${dockerfilePath}`,
      problem: 'the engine has no Dockerfile, so it has no image to deploy',
      fix: `create ${ENGINES_CONTEXT}/${engineName}/ with a Dockerfile (see ${ENGINES_CONTEXT}/README.md)`,
    };
  }
  const dockerfile = fs.readFileSync(path.join(context, dockerfilePath), 'utf8');
  const dockerignorePath = path.join(context, '.dockerignore');
  const ignore = parseDockerIgnore(fs.existsSync(dockerignorePath) ? fs.readFileSync(dockerignorePath, 'utf8') : '');
  const paths = new Set<string>([dockerfilePath]);
  for (const source of dockerfileContextSources(dockerfile)) {
    const normalized = path.posix.normalize(source.replace(/^\/+/, '')).replace(/\/+$/, '');
    for (const file of filesUnder(context, normalized === '.' ? '' : normalized, ignore)) paths.add(file);
  }
  return [...paths].sort().map((p) => ({ path: p, content: fs.readFileSync(path.join(context, p)) }));
}

/** The content tag of every named engine, or the problems that prevent computing them. */
export function readEngineTags(repositoryRoot: string, engineNames: readonly string[]): Map<string, string> | ConfigurationProblem[] {
  const tags = new Map<string, string>();
  const problems: ConfigurationProblem[] = [];
  for (const name of engineNames) {
    const input = readBuildInput(repositoryRoot, name);
    if (Array.isArray(input)) tags.set(name, contentTag(input));
    else problems.push(input);
  }
  return problems.length > 0 ? problems : tags;
}

/** Reads images.lock.json; an absent lock file pins nothing. */
export function readImageLock(repositoryRoot: string): ImageLock {
  const file = path.join(repositoryRoot, IMAGE_LOCK_FILE);
  if (!fs.existsSync(file)) return {};
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { tag?: unknown; digest?: unknown }>;
  for (const [engine, entry] of Object.entries(parsed)) {
    if (typeof entry?.tag !== 'string' || typeof entry.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(entry.digest)) {
      throw new Error(`${IMAGE_LOCK_FILE}: entry ${JSON.stringify(engine)} must be { "tag": "sha-...", "digest": "sha256:<64 hex>" }`);
    }
  }
  return parsed as ImageLock;
}

/** The committed generated files of one engine directory that synthesis checks against the catalog. */
export interface EngineSourceFiles {
  /** `src/engines/<engine>/Dockerfile`, absent when the file is. */
  readonly dockerfile?: string;
  /** `src/engines/<engine>/engine.json`, absent when the file is. */
  readonly engineJson?: string;
}

/** Reads each named engine's Dockerfile and engine.json (what validation compares with the generator's output). */
export function readEngineSources(repositoryRoot: string, engineNames: readonly string[]): Map<string, EngineSourceFiles> {
  const read = (file: string): string | undefined => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);
  return new Map(engineNames.map((name) => {
    const dir = path.join(repositoryRoot, ENGINES_CONTEXT, name);
    return [name, { dockerfile: read(path.join(dir, 'Dockerfile')), engineJson: read(path.join(dir, 'engine.json')) }];
  }));
}
