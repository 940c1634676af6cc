/**
 * Entry point of `nautilus` (`npm run deploy|diff|status|preflight -- <env>`, `nautilus
 * promote|abort <env> <engine>`): the only module of the tool that reads arguments, the process
 * environment and files. Reads `dist/<env>/` (synthesizing it first when missing or older than the
 * sources) and talks to the cluster of the current kubeconfig context.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { PLATFORM_ENVIRONMENTS } from '../environments/platform-environments';
import { runApplyCommand } from './apply-command';
import { TOOLING_NAME } from './applyset';
import { Cluster, clusterFailure, PooledKubeConfig } from './cluster';
import { CliIo, processIo } from './io';
import { describeObject, KubeObject, ManifestEntry } from './objects';
import { DEFAULT_HISTORY_LIMIT, historyLines, listRevisions, revisionManifests, revisionStatus } from './revisions';
import { runRelease } from './release';
import { rollbackTarget } from './rollback';
import { environmentStatus } from './status';
import { USAGE } from './usage';

export { FIELD_MANAGER } from './apply-command';
export { CliIo, processIo } from './io';

const REPOSITORY = path.resolve(__dirname, '..', '..');
/** The tool's commands. */
const COMMANDS = ['preflight', 'diff', 'deploy', 'rollback', 'status', 'history', 'promote', 'abort'] as const;
/** Commands that act on one engine's release: `<command> <env> <engine>`. */
const RELEASE_COMMANDS: readonly string[] = ['promote', 'abort'];

/** Runs one command and returns the exit code: 0 done; 1 changes (diff) or a failure; 2 usage, or a failure of diff; 130 interrupted. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'context': { type: 'string' },
        'kubeconfig': { type: 'string' },
        'dist': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'no-prune': { type: 'boolean', default: false },
        'yes': { type: 'boolean', default: false },
        'force-conflicts': { type: 'boolean', default: false },
        'no-wait': { type: 'boolean', default: false },
        'timeout': { type: 'string', default: '300' },
        'history-limit': { type: 'string', default: String(DEFAULT_HISTORY_LIMIT) },
        'revision': { type: 'string' },
        'to': { type: 'string' },
        'ignore-autoscaler-metrics': { type: 'boolean', default: false },
        'full': { type: 'boolean', default: false },
        'help': { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.stderr(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [given, environment, engine] = positionals;
  const command = COMMANDS.find((c) => c === given);
  const release = command !== undefined && RELEASE_COMMANDS.includes(command);
  if (!command || !environment || positionals.length > (release ? 3 : 2)) {
    io.stderr(`expected a command and an environment${release ? ' and an engine' : ''}, got "${positionals.join(' ')}"\n\n${USAGE}`);
    return 2;
  }
  if (release && !engine) {
    io.stderr(`${command} ${environment}: which engine? expected nautilus ${command} ${environment} <engine> (nautilus status ${environment} lists the Rollouts)\n`);
    return 2;
  }
  if (values.full && command !== 'promote') {
    io.stderr(`--full is for promote: it skips the rest of a release's steps, pauses and analyses (nautilus promote ${environment} <engine> --full)\n`);
    return 2;
  }
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    io.stderr(`--timeout ${values.timeout}: expected a number of seconds above 0\n`);
    return 2;
  }
  const revision = values.revision === undefined ? undefined : Number(values.revision);
  if (revision !== undefined && (command !== 'diff' || !Number.isInteger(revision) || revision < 1)) {
    io.stderr(command !== 'diff'
      ? `--revision is for diff: it compares the cluster with a recorded revision (nautilus history ${environment} lists them)\n`
      : `--revision ${values.revision}: expected a revision number (nautilus history ${environment} lists them)\n`);
    return 2;
  }
  const to = values.to === undefined ? undefined : Number(values.to);
  if (to !== undefined && (command !== 'rollback' || !Number.isInteger(to) || to < 1)) {
    io.stderr(command !== 'rollback'
      ? `--to is for rollback: the revision to restore (nautilus history ${environment} lists them)\n`
      : `--to ${values.to}: expected a revision number (nautilus history ${environment} lists them)\n`);
    return 2;
  }
  const historyLimit = Number(values['history-limit']);
  if (!Number.isInteger(historyLimit) || historyLimit < 1) {
    io.stderr(`--history-limit ${values['history-limit']}: expected a whole number of revisions, at least 1\n`);
    return 2;
  }

  // The environment first: a name that cannot be right must not cost a synthesis.
  if (!values.dist && !PLATFORM_ENVIRONMENTS.some((spec) => spec.name === environment)) {
    io.stderr(`no environment "${environment}": the platform has ${PLATFORM_ENVIRONMENTS.map((e) => e.name).join(', ')} `
      + '(src/environments/platform-environments.ts); or give --dist <folder> holding <folder>/<environment>/\n');
    return 2;
  }

  let cluster: Cluster | undefined;
  try {
    // History, and a diff against a recorded revision, read the cluster only: no dist/ needed.
    // Status reads what the environment last had deployed, when the cluster keeps it.
    // promote and abort find the engine's Rollout where status looks.
    const fromCluster = command === 'history' || command === 'rollback' || revision !== undefined || ((command === 'status' || release) && !values.dist);
    let entries = fromCluster ? [] : readManifests(environment, values.dist, io);
    cluster = new Cluster(loadKubeConfig(values.kubeconfig, values.context, io.env));
    const target = `cluster ${cluster.server} (context ${cluster.kubeConfig.getCurrentContext()})`;
    if (!fromCluster) io.stderr(`${command} ${environment}: ${entries.length} objects, ${target}\n`);
    // Reachable, trusted and accepting the credentials, before any command reads or diffs.
    await cluster.version();
    if (revision !== undefined) {
      entries = (await revisionManifests(cluster, environment, revision)).map((object) => ({ object, file: '' }));
      io.stderr(`${command} ${environment}: revision ${revision}, ${entries.length} objects, ${target}\n`);
    }
    if (command === 'history') {
      io.stdout(`${historyLines(await listRevisions(cluster, environment)).join('\n')}\n`);
      return 0;
    }

    if (command === 'status' || command === 'promote' || command === 'abort') {
      // What the cluster last had deployed; its manifests unless --dist names others.
      const latest = (await listRevisions(cluster, environment)).pop();
      if (!latest && !values.dist) entries = readManifests(environment, values.dist, io);
      const manifests = latest && !values.dist ? latest.manifests : entries.map((entry) => entry.object);
      if (command !== 'status') {
        io.stdout(`${await runRelease(cluster, { command, environment, engine, full: values.full, manifests })}\n`);
        return 0;
      }
      const status = await environmentStatus(cluster, manifests, {
        ignoreAutoscalerMetrics: values['ignore-autoscaler-metrics'],
        revision: latest ? revisionStatus(latest) : undefined,
        environment,
      });
      io.stdout(`${status.lines.join('\n')}\n`);
      return status.healthy ? 0 : 1;
    }

    const restoring = command === 'rollback' ? rollbackTarget(await listRevisions(cluster, environment), environment, to) : undefined;
    if (restoring) {
      entries = restoring.manifests.map((object) => ({ object, file: '' }));
      io.stderr(`rollback ${environment}: to revision ${restoring.revision} (${restoring.outcome}, ${restoring.time}${restoring.commit ? `, commit ${restoring.commit.slice(0, 12)}` : ''}), ${entries.length} objects, ${target}\n`);
    }
    return await runApplyCommand(cluster, {
      command, environment, entries, restoring,
      dryRun: values['dry-run'], prune: !values['no-prune'], yes: values.yes,
      confirms: PLATFORM_ENVIRONMENTS.find((spec) => spec.name === environment)?.confirmPrunes ?? false, force: values['force-conflicts'], wait: !values['no-wait'],
      timeoutSeconds, historyLimit, tooling: `${TOOLING_NAME}/${packageVersion()}`,
      commit: restoring ? restoring.commit : values.dist ? undefined : sourceCommit(),
    }, io);
  } catch (error) {
    const failure = cluster && clusterFailure(error, { server: cluster.server, context: cluster.kubeConfig.getCurrentContext() });
    io.stderr(`${command} ${environment}${release ? ` ${engine}` : ''} failed: ${failure ?? (error instanceof Error ? error.message : String(error))}\n`);
    // diff keeps kubectl diff's codes: 1 means "changes", so a failure is 2.
    return command === 'diff' ? 2 : 1;
  }
}

/** How to point the tool at a cluster, for the errors that find none. */
const POINT_AT_A_CLUSTER = 'point it at a cluster with --kubeconfig <file> (and --context <name>), or KUBECONFIG=<file>, as for kubectl';

function loadKubeConfig(file: string | undefined, context: string | undefined, env: CliIo['env']): KubeConfig {
  const kc = new PooledKubeConfig();
  const explicit = file ?? env.KUBECONFIG?.split(path.delimiter).find((entry) => entry !== '');
  const home = env.HOME ?? os.homedir();
  const defaultFile = path.join(home, '.kube', 'config');
  if (explicit) {
    if (!fs.existsSync(explicit)) {
      throw new Error(`kubeconfig ${explicit} (from ${file ? '--kubeconfig' : 'KUBECONFIG'}) does not exist; ${POINT_AT_A_CLUSTER}`);
    }
    kc.loadFromFile(explicit);
  } else if (fs.existsSync(defaultFile)) {
    kc.loadFromFile(defaultFile);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    // client-node would fall back to http://localhost:8080, which kubectl refuses to guess.
    throw new Error(`no kubeconfig: KUBECONFIG is not set, ${defaultFile} does not exist and this is not a pod of a cluster; ${POINT_AT_A_CLUSTER}`);
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new Error(`kubeconfig has no context "${context}" (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig\'s current context; pass --kubeconfig or --context');
  return kc;
}

/**
 * The manifests of `<dist>/<env>/`. With the default `dist/`, synthesizes first when the
 * directory is missing or older than any source it is made from.
 */
function readManifests(environment: string, distOption: string | undefined, io: CliIo): ManifestEntry[] {
  const distRoot = distOption ? path.resolve(distOption) : path.join(REPOSITORY, 'dist');
  const directory = path.join(distRoot, environment);
  if (!distOption && isStale(directory)) {
    io.stderr(`dist/${environment}/ is missing or older than the sources: running npm run synth\n`);
    const result = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: REPOSITORY, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...io.env } });
    if (result.status !== 0) throw new Error('npm run synth failed (see above)');
  }
  if (!fs.existsSync(directory)) {
    const shown = distOption ? path.join(distOption, environment) : path.join('dist', environment);
    throw new Error(`${shown}/ does not exist: no manifests of environment "${environment}" there`);
  }
  const files = fs.readdirSync(directory).filter((file) => /\.ya?ml$/.test(file)).sort();
  const entries: ManifestEntry[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(fs.readFileSync(path.join(directory, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
      const object = document.toJSON() as KubeObject | null;
      if (!object) continue;
      if (!object.apiVersion || !object.kind || !object.metadata?.name) throw new Error(`${file}: an object without apiVersion, kind or metadata.name`);
      entries.push({ object, file });
    }
  }
  if (entries.length === 0) throw new Error(`${directory} has no manifests`);
  const duplicates = entries.map((e) => describeObject(e.object)).filter((name, i, all) => all.indexOf(name) !== i);
  if (duplicates.length > 0) throw new Error(`${directory}: objects defined twice: ${[...new Set(duplicates)].join(', ')}`);
  return entries;
}

/** Sources synthesis reads; the deploy tool itself is not one of them. */
const SOURCES = ['main.ts', 'cdk8s.yaml', 'charts', 'imports', 'src'];

function isStale(directory: string): boolean {
  const stamp = path.join(directory, 'SUMMARY.txt');
  if (!fs.existsSync(stamp)) return true;
  const built = fs.statSync(stamp).mtimeMs;
  const newer = (entry: string): boolean => {
    if (entry === path.join(REPOSITORY, 'src', 'deploy') || !fs.existsSync(entry)) return false;
    const stat = fs.statSync(entry);
    if (!stat.isDirectory()) return stat.mtimeMs > built;
    return fs.readdirSync(entry).some((child) => newer(path.join(entry, child)));
  };
  return SOURCES.some((source) => newer(path.join(REPOSITORY, source)));
}

/** The checkout's commit, when the manifests come from this repository's dist/ and git knows it. */
function sourceCommit(): string | undefined {
  const result = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPOSITORY, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPOSITORY, 'package.json'), 'utf8')) as { version: string }).version;
}

if (require.main === module) {
  runCli(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code;
  });
}
