import * as fs from 'fs';
import * as path from 'path';
import { ConfigurationProblem } from '../model/errors';
import { BuildInputFile, ImageLock, contentTag, dockerfileContextSources } from './image-reference';

/** The build context every engine image is built from, relative to the repository root. */
export const ENGINES_CONTEXT = 'src/engines';

/** Name of the lock file of built digests, at the repository root. */
export const IMAGE_LOCK_FILE = 'images.lock.json';

/**
 * The build context's `.dockerignore` as a predicate over context-relative paths. Supports what
 * Docker's matcher does for the patterns we use: `*`, `?`, `**`, and `!` exceptions (last match
 * wins). Honouring it keeps tags independent of local builds and installs (node_modules, *.js).
 */
export function dockerIgnoreMatcher(dockerignore: string): (relativePath: string) => boolean {
  const rules = dockerignore.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const negated = line.startsWith('!');
    const pattern = path.posix.normalize((negated ? line.slice(1) : line).replace(/^\/+/, ''));
    const source = pattern.split('/').map((part) => (part === '**'
      ? '(?:.*)'
      : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/').replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
    return { negated, regex: new RegExp(`^${source}(?:/.*)?$`) };
  });
  return (relativePath) => rules.reduce((ignored, rule) => (rule.regex.test(relativePath) ? !rule.negated : ignored), false);
}

function filesUnder(root: string, relative: string, ignored: (p: string) => boolean): string[] {
  if (relative !== '' && ignored(relative)) return [];
  const absolute = path.join(root, relative);
  if (!fs.existsSync(absolute)) return [];
  if (fs.statSync(absolute).isFile()) return [relative];
  return fs.readdirSync(absolute).sort().flatMap((entry) => filesUnder(root, path.posix.join(relative, entry), ignored));
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
      environment: 'catalog', subject: engineName, field: 'image', value: `${ENGINES_CONTEXT}/${dockerfilePath}`,
      problem: 'the engine has no Dockerfile, so it has no image to deploy',
      fix: `create ${ENGINES_CONTEXT}/${engineName}/ with a Dockerfile (see ${ENGINES_CONTEXT}/README.md)`,
    };
  }
  const dockerfile = fs.readFileSync(path.join(context, dockerfilePath), 'utf8');
  const dockerignorePath = path.join(context, '.dockerignore');
  const ignored = dockerIgnoreMatcher(fs.existsSync(dockerignorePath) ? fs.readFileSync(dockerignorePath, 'utf8') : '');
  const paths = new Set<string>([dockerfilePath]);
  for (const source of dockerfileContextSources(dockerfile)) {
    const normalized = path.posix.normalize(source.replace(/^\/+/, '')).replace(/\/+$/, '');
    for (const file of filesUnder(context, normalized === '.' ? '' : normalized, ignored)) paths.add(file);
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
