/**
 * Runs an engine's compiled runtime as the image would: the command the manifest's container
 * gets (its command/args, or the image's ENTRYPOINT/CMD from the engine's Dockerfile), with
 * container paths mapped to the locally compiled tree.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execForm, lastOf, parseStages } from '../engines/dockerfile';
import { ManifestContainer } from './manifests';
import { ManagedProcess } from './processes';

/**
 * Compiles src/engines (runtime and every engine entry point) once, with the repository's pinned
 * tsc. The runtime's own dependencies (ioredis, pg) come from `src/engines/runtime/node_modules`,
 * installed from its lock file by `npm test`'s pretest step, as the image's build stage does;
 * the compiled runtime finds them through a link, as the image's `/app/runtime/node_modules`.
 */
export function compileEngines(repositoryRoot: string): string {
  const runtimeModules = path.join(repositoryRoot, 'src', 'engines', 'runtime', 'node_modules');
  if (!fs.existsSync(path.join(runtimeModules, 'ioredis')) || !fs.existsSync(path.join(runtimeModules, 'pg'))) {
    throw new Error('src/engines/runtime/node_modules lacks the runtime\'s dependencies: run `npm ci --prefix src/engines/runtime` (npm test does it in pretest)');
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-engines-'));
  const tsc = path.join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '--project', path.join(repositoryRoot, 'src', 'engines', 'runtime', 'tsconfig.json'), '--outDir', out], { stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: Buffer; message: string };
    throw new Error(`compiling src/engines failed: ${e.message}\n${e.stdout?.toString() ?? ''}`);
  }
  // The engine runs as the pod's unprivileged user: it may read the tree, never write it.
  for (const entry of [out, ...fs.readdirSync(out, { recursive: true }).map((p) => path.join(out, String(p)))]) {
    fs.chmodSync(entry, fs.statSync(entry).isDirectory() ? 0o755 : 0o644);
  }
  fs.symlinkSync(runtimeModules, path.join(out, 'runtime', 'node_modules'), 'dir');
  return out;
}

/** The image's start command and where its files are, read from the final stage of a Dockerfile. */
export interface ImageStart {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Directory the build output is copied to (`COPY --from=<stage> <src> <dest>`). */
  readonly appDir: string;
  readonly workdir: string;
}

/** Reads the final stage's ENTRYPOINT, CMD, app directory and WORKDIR. */
export function imageStart(dockerfile: string): ImageStart {
  const stages = parseStages(dockerfile);
  const final = stages[stages.length - 1];
  const form = (keyword: string) => {
    const instruction = lastOf(final, keyword);
    if (!instruction) return [];
    const args = execForm(instruction.args);
    if (!args) throw new Error(`${keyword} ${instruction.args} is shell form; the contract test needs exec form`);
    return args;
  };
  const copy = final.instructions.find((i) => i.keyword === 'COPY' && /--from=/.test(i.args));
  if (!copy) throw new Error('the final stage copies no build output (COPY --from=...)');
  const appDir = copy.args.split(/\s+/).pop()!;
  return { entrypoint: form('ENTRYPOINT'), cmd: form('CMD'), appDir, workdir: lastOf(final, 'WORKDIR')?.args ?? '/' };
}

/** The engine directory an image reference builds from: the repository's last path segment. */
export function engineOfImage(image: string): string {
  const withoutDigest = image.split('@')[0];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repository = colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
  return repository.slice(repository.lastIndexOf('/') + 1);
}

/** argv as Kubernetes composes it: command replaces ENTRYPOINT, args replace CMD. */
export function containerArgv(container: ManifestContainer, start: ImageStart): string[] {
  if (container.command && container.command.length > 0) return [...container.command, ...(container.args ?? [])];
  return [...start.entrypoint, ...(container.args ?? start.cmd)];
}

/** Maps a container path under the image's app directory to the compiled tree. */
function mapPath(value: string, start: ImageStart, compiled: string): string {
  const app = start.appDir.endsWith('/') ? start.appDir : `${start.appDir}/`;
  if (value === app.slice(0, -1) || value === app) return compiled;
  return value.startsWith(app) ? path.join(compiled, value.slice(app.length)) : value;
}

/** How to start one engine container locally. */
export interface LocalCommand {
  readonly executable: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** argv as the container would run it, for messages. */
  readonly containerArgv: readonly string[];
}

/** The local command for a manifest container: `node` is this Node, /app/... the compiled tree. */
export function localCommand(repositoryRoot: string, compiled: string, container: ManifestContainer): LocalCommand {
  const engine = engineOfImage(container.image);
  const dockerfilePath = path.join(repositoryRoot, 'src', 'engines', engine, 'Dockerfile');
  if (!fs.existsSync(dockerfilePath)) throw new Error(`${container.name}: image ${container.image} is built from src/engines/${engine}/Dockerfile, which does not exist`);
  const start = imageStart(fs.readFileSync(dockerfilePath, 'utf8'));
  const argv = containerArgv(container, start);
  if (argv.length === 0) throw new Error(`${container.name}: neither the manifest nor the image gives a command`);
  if (argv[0] !== 'node' && argv[0] !== '/usr/local/bin/node') throw new Error(`${container.name}: the container runs ${argv[0]}; the contract test runs node engines only`);
  const cwdInImage = mapPath(start.workdir, start, compiled);
  return {
    executable: process.execPath,
    args: argv.slice(1).map((arg) => mapPath(arg, start, compiled)),
    cwd: cwdInImage.startsWith(compiled) ? cwdInImage : compiled,
    containerArgv: argv,
  };
}

/** Starts an engine with exactly `env`, as the pod's user when the test runs as root. */
export function startEngine(label: string, command: LocalCommand, env: Record<string, string>, user?: { uid?: number; gid?: number }): ManagedProcess {
  const asUser = process.getuid?.() === 0 && user?.uid !== undefined ? { uid: user.uid, gid: user.gid ?? user.uid } : {};
  return new ManagedProcess(label, command.executable, command.args, { cwd: command.cwd, env, ...asUser });
}
