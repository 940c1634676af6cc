/**
 * Entry point of `nautilus` (`npm run deploy|diff|status|preflight -- <env>`): the only module of
 * the tool that reads arguments, the process environment and files. Reads `dist/<env>/`
 * (synthesizing it first when missing or older than the sources) and talks to the cluster of the
 * current kubeconfig context.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { parseArgs } from 'util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { PLATFORM_ENVIRONMENTS } from '../environments/platform-environments';
import { kubectlApplySetFlag, TOOLING_NAME } from './applyset';
import { Cluster, clusterFailure } from './cluster';
import { deploy } from './deploy';
import { applyOrder, describeObject, isWorkload, KubeObject, ManifestEntry } from './objects';
import { makePlan, renderPlan, summarize } from './plan';
import { preflight } from './preflight';
import { USAGE } from './usage';
import { DEFAULT_HISTORY_LIMIT, historyLines, listRevisions, recordRevision, revisionManifests, RevisionOutcome } from './revisions';
import { waitForRollout } from './rollout';
import { environmentStatus } from './status';

/** Field manager of every apply the tool makes. */
export const FIELD_MANAGER = TOOLING_NAME;

const REPOSITORY = path.resolve(__dirname, '..', '..');


/** Where the CLI writes and what it reads from its environment (the process's, or a test's). */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Answers a yes/no question; `undefined` when there is no terminal to ask on. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Registers a Ctrl-C handler for the duration of a deploy; returns its remover. */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** Rewrites one progress line in place (a terminal) instead of printing it. */
  readonly progressInPlace?: boolean;
}

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
        'ignore-autoscaler-metrics': { type: 'boolean', default: false },
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
  const [command, environment] = positionals;
  if (!['preflight', 'diff', 'deploy', 'status', 'history'].includes(command ?? '') || !environment || positionals.length > 2) {
    io.stderr(`expected a command and an environment, got "${positionals.join(' ')}"\n\n${USAGE}`);
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

  let removeHandler: (() => void) | undefined;
  let cluster: Cluster | undefined;
  try {
    // History, and a diff against a recorded revision, read the cluster only: no dist/ needed.
    const fromCluster = command === 'history' || revision !== undefined;
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
    const manifests = entries.map((entry) => entry.object);

    if (command === 'history') {
      io.stdout(`${historyLines(await listRevisions(cluster, environment)).join('\n')}\n`);
      return 0;
    }

    if (command === 'status') {
      const status = await environmentStatus(cluster, manifests, { ignoreAutoscalerMetrics: values['ignore-autoscaler-metrics'] });
      io.stdout(`${status.lines.join('\n')}\n`);
      return status.healthy ? 0 : 1;
    }

    const problems = await preflight(cluster, manifests);
    if (problems.length > 0 && command === 'diff') {
      // A diff changes nothing: show what a deploy would refuse, and diff anyway.
      io.stderr(`warning: preflight found ${problems.length} problem(s) a deploy would stop at:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    } else if (problems.length > 0) {
      io.stderr(`preflight failed: ${problems.length} problem(s); nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 1;
    }
    if (command === 'preflight') {
      io.stdout(`preflight ${environment}: ok (API server, ${new Set(manifests.map((m) => m.kind)).size} kinds served, referenced Secrets present)\n`);
      return 0;
    }

    // From here on Ctrl-C is handled: before the first change it stops cleanly, during the
    // deploy it stops between two objects, while waiting it stops waiting.
    let interrupted = false;
    removeHandler = command !== 'deploy' ? undefined : io.onInterrupt?.(() => {
      interrupted = true;
      io.stderr('\ninterrupt: finishing the request under way, then stopping (again to abort at once)\n');
    });
    const force = values['force-conflicts'];
    const live = cluster;
    // What was applied is recorded however the deploy ends; a record that cannot be written is
    // reported but does not change the deploy's own outcome.
    const record = async (outcome: RevisionOutcome): Promise<void> => {
      try {
        const revision = await recordRevision(live, {
          environment, time: new Date().toISOString(), user: live.kubeConfig.getCurrentUser()?.name ?? 'unknown',
          context: live.kubeConfig.getCurrentContext(), commit: values.dist ? undefined : sourceCommit(),
          tooling: `${TOOLING_NAME}/${packageVersion()}`, outcome,
        }, manifests, historyLimit, FIELD_MANAGER);
        io.stderr(`recorded as revision ${revision} of ${environment} (${outcome}); see nautilus history ${environment}\n`);
      } catch (error) {
        io.stderr(`warning: the deploy (${outcome}) could not be recorded in the history: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    };
    const plan = await makePlan(cluster, environment, applyOrder(entries), { fieldManager: FIELD_MANAGER, force });
    io.stdout(renderPlan(plan));
    const counts = summarize(plan);
    const changes = counts.create + counts.change + counts.prune;
    if (command === 'diff') return changes > 0 ? 1 : 0;

    if (plan.conflicts.length > 0) {
      io.stderr(`deploy refused: ${plan.conflicts.length} object(s) have fields owned by another field manager (listed above); ` +
        'nothing was changed. Fix: make that manager drop them, or rerun with --force-conflicts to take them over\n');
      return 1;
    }
    if (values['dry-run']) {
      io.stderr('dry run: nothing was changed\n');
      return 0;
    }
    const prune = !values['no-prune'];
    if (prune && counts.prune > 0 && confirmsPrunes(environment) && !values.yes) {
      const question = `prune ${counts.prune} object(s) from ${environment} (listed above)? [y/N] `;
      const confirmed = io.confirm ? await io.confirm(question) : undefined;
      if (confirmed !== true) {
        io.stderr(confirmed === undefined
          ? `deploy refused: ${environment} asks before pruning and there is no terminal to ask on; nothing was changed. Fix: rerun with --yes, or --no-prune\n`
          : 'deploy cancelled; nothing was changed\n');
        return 1;
      }
    }

    if (interrupted) {
      io.stderr('interrupted before any change; nothing was changed\n');
      return 130;
    }
    if (changes > 0) {
      const result = await deploy(cluster, plan, {
        fieldManager: FIELD_MANAGER,
        tooling: `${TOOLING_NAME}/${packageVersion()}`,
        force,
        prune,
        log: (line) => io.stderr(`${line}\n`),
        interrupted: () => interrupted,
      });
      if (result.interrupted) {
        await record('interrupted');
        return 130;
      }
    } else {
      io.stderr('nothing to apply\n');
    }
    if (values['no-wait']) {
      if (changes > 0) await record('applied, not waited for');
      return 0;
    }
    const workloads = manifests.filter(isWorkload);
    let lastLine = '';
    const waited = await waitForRollout(cluster, workloads, {
      timeoutMs: timeoutSeconds * 1000,
      interrupted: () => interrupted,
      progress: (ready, total, pending) => {
        const line = `rollout: ${ready}/${total} workloads ready${pending.length > 0 ? `; waiting for ${pending.slice(0, 3).map((p) => `${p.object} (${p.detail})`).join(', ')}${pending.length > 3 ? ', ...' : ''}` : ''}`;
        if (line === lastLine) return;
        lastLine = line;
        io.stderr(io.progressInPlace ? `\r\x1b[K${line}` : `${line}\n`);
      },
    });
    if (io.progressInPlace) io.stderr('\n');
    if (waited.interrupted) {
      io.stderr('interrupted while waiting: everything was applied; the rollout continues on the cluster\n');
      if (changes > 0) await record('interrupted');
      return 130;
    }
    if (!waited.ok) {
      const details = waited.notReady.map((w) => `  - ${w.object}: ${w.detail}${[...w.events, ...w.containers].map((e) => `\n      ${e}`).join('')}`).join('\n');
      io.stderr(waited.failed
        ? `deploy ${environment}: ${waited.notReady.filter((w) => w.failed).length} workload(s) failed, which waiting will not change; not ready:\n${details}\n`
        : `deploy ${environment}: ${waited.notReady.length} workload(s) did not become ready within ${timeoutSeconds} s:\n${details}\n`);
      if (changes > 0) await record('failed');
      return 1;
    }
    io.stdout(`deploy ${environment}: done, ${workloads.length} workloads rolled out (ApplySet: kubectl --applyset=${kubectlApplySetFlag(environment)})\n`);
    if (changes > 0) await record('rolled out');
    return 0;
  } catch (error) {
    const failure = cluster && clusterFailure(error, { server: cluster.server, context: cluster.kubeConfig.getCurrentContext() });
    io.stderr(`${command} ${environment} failed: ${failure ?? (error instanceof Error ? error.message : String(error))}\n`);
    // diff keeps kubectl diff's codes: 1 means "changes", so a failure is 2.
    return command === 'diff' ? 2 : 1;
  } finally {
    removeHandler?.();
  }
}

/** Whether the environment asks before pruning (its `confirmPrunes`). */
function confirmsPrunes(environment: string): boolean {
  return PLATFORM_ENVIRONMENTS.find((spec) => spec.name === environment)?.confirmPrunes ?? false;
}

/** How to point the tool at a cluster, for the errors that find none. */
const POINT_AT_A_CLUSTER = 'point it at a cluster with --kubeconfig <file> (and --context <name>), or KUBECONFIG=<file>, as for kubectl';

function loadKubeConfig(file: string | undefined, context: string | undefined, env: CliIo['env']): KubeConfig {
  const kc = new KubeConfig();
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

/** The process's own terminal and signals. */
export function processIo(): CliIo {
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    progressInPlace: process.stderr.isTTY === true,
    confirm: interactive
      ? (question) => new Promise((resolve) => {
        const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
        rl.question(question, (answer) => {
          rl.close();
          resolve(/^y(es)?$/i.test(answer.trim()));
        });
      })
      : undefined,
    onInterrupt: (handler) => {
      let count = 0;
      const listener = () => {
        count += 1;
        if (count > 1) process.exit(130);
        handler();
      };
      process.on('SIGINT', listener);
      process.on('SIGTERM', listener);
      return () => {
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
      };
    },
  };
}

if (require.main === module) {
  runCli(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code;
  });
}
