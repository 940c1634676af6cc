/**
 * Patroni from PyPI, run outside pods against the test control plane: the Patroni configuration
 * and container environment are taken from the synthesized StatefulSet and ConfigMap, and only
 * addresses, ports and paths are remapped for one machine (plus the timescaledb preload, which
 * Debian's PostgreSQL does not ship). See test/cluster/README.md.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { TIMESCALEDB, TIMESCALEDB_PATRONI } from '../../src/catalog/data-stores';
import { ManagedProcess, httpGet } from '../contract/processes';
import { postgresBinDir, unprivilegedAccount } from '../contract/data-stores';
import { ManifestObject } from './apply';

const INSTALL_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'install-patroni.sh');

/**
 * The Patroni virtualenv (installed by scripts/install-patroni.sh on first use, cached outside
 * the repository). Returns its directory.
 */
export function ensurePatroni(): string {
  const result = spawnSync('bash', [INSTALL_SCRIPT], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (result.status !== 0) {
    throw new Error(`${INSTALL_SCRIPT} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  }
  return result.stdout.trim().split('\n').pop()!;
}

/** A container environment variable as the manifests carry it. */
interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

/** What the kubelet would give one pod: its downward-API fields and the Secrets' values. */
export interface PodContext {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * The container environment the kubelet would build: downward-API fields, Secret values, and
 * `$(VAR)` references to earlier variables expanded.
 */
export function resolveContainerEnv(env: readonly EnvVar[], pod: PodContext): Record<string, string> {
  const resolved: Record<string, string> = {};
  const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace, 'status.podIP': pod.ip };
  for (const variable of env) {
    if (variable.value !== undefined) {
      resolved[variable.name] = variable.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => resolved[name] ?? whole);
    } else if (variable.valueFrom?.fieldRef) {
      const value = fields[variable.valueFrom.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${variable.name}: unsupported fieldRef ${variable.valueFrom.fieldRef.fieldPath}`);
      resolved[variable.name] = value;
    } else if (variable.valueFrom?.secretKeyRef) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const value = pod.secrets[name]?.[key];
      if (value === undefined) throw new Error(`${variable.name}: the test has no value for Secret ${name} key ${key}`);
      resolved[variable.name] = value;
    } else {
      throw new Error(`${variable.name}: neither a value nor a supported valueFrom`);
    }
  }
  return resolved;
}

/** The TimescaleDB objects of one environment's dist, as the failover test needs them. */
export interface TimescaleDbManifests {
  readonly statefulSet: ManifestObject;
  readonly configMap: ManifestObject;
  /** Everything to apply before the pods: namespace, priority class, RBAC, Services, PDB, ConfigMap. */
  readonly prerequisites: ManifestObject[];
}

/** Picks TimescaleDB's objects (and what they need) out of an environment's manifests. */
export function timescaleDbManifests(manifests: readonly ManifestObject[], namespace: string): TimescaleDbManifests {
  const ofStore = (object: ManifestObject) =>
    object.metadata?.namespace === namespace && (object.metadata?.labels as Record<string, string> | undefined)?.['app.kubernetes.io/name'] === 'timescaledb';
  const statefulSet = manifests.find((o) => o.kind === 'StatefulSet' && ofStore(o));
  const configMap = manifests.find((o) => o.kind === 'ConfigMap' && ofStore(o));
  if (!statefulSet || !configMap) throw new Error('dist has no TimescaleDB StatefulSet or ConfigMap: run `npm run synth`');
  const priorityClass = (statefulSet.spec as { template: { spec: { priorityClassName: string } } }).template.spec.priorityClassName;
  const prerequisites = [
    ...manifests.filter((o) => o.kind === 'Namespace' && o.metadata?.name === namespace),
    ...manifests.filter((o) => o.kind === 'PriorityClass' && o.metadata?.name === priorityClass),
    // Not its ServiceMonitor: this API server has no monitoring CRDs (the test scrapes Patroni's endpoint itself).
    ...manifests.filter((o) => ofStore(o) && o.kind !== 'StatefulSet' && o.kind !== 'ServiceMonitor'),
  ];
  return { statefulSet, configMap, prerequisites };
}

/** One Patroni member on this machine: its ports and directories. */
export class PatroniMember {
  public process?: ManagedProcess;
  public readonly dataDir: string;
  public readonly configDir: string;
  public readonly socketDir: string;

  constructor(
    public readonly name: string,
    public readonly dir: string,
    public readonly pgPort: number,
    public readonly apiPort: number,
  ) {
    this.dataDir = path.join(dir, 'data');
    this.configDir = path.join(dir, 'config');
    this.socketDir = path.join(dir, 'run');
  }

  /** The member's Patroni REST API answer to `GET path` (status and JSON body), or undefined when down. */
  public async api(pathname: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
    try {
      const answer = await httpGet(this.apiPort, pathname, 2000);
      return { status: answer.status, body: answer.body ? JSON.parse(answer.body) as Record<string, unknown> : {} };
    } catch {
      return undefined;
    }
  }

  /** PID of the running postmaster, from postmaster.pid. */
  public postmasterPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Options for {@link PatroniMachine}. */
export interface PatroniMachineOptions {
  readonly manifests: TimescaleDbManifests;
  /** Directory for members, the backup repository and the kubeconfig. */
  readonly workDir: string;
  /** Path of a kubeconfig whose context `patroni` authenticates as the store's ServiceAccount. */
  readonly kubeconfig: string;
  /** Test values of the Secrets the manifests reference. */
  readonly secrets: PodContext['secrets'];
  readonly namespace: string;
}

/**
 * Runs Patroni members on one machine from the synthesized manifests. Files are owned by, and
 * processes run as, the unprivileged account PostgreSQL needs when the test runs as root.
 */
export class PatroniMachine {
  public readonly repository: string;
  private readonly account = unprivilegedAccount();
  private readonly pythonPath: string;
  private readonly binDir = postgresBinDir();

  constructor(private readonly options: PatroniMachineOptions, venv: string) {
    this.repository = path.join(options.workDir, 'backup-repository');
    fs.mkdirSync(this.repository, { recursive: true, mode: 0o750 });
    // The venv may sit in a home directory the unprivileged account cannot enter: its packages are
    // copied next to the members and run with the same (distribution) interpreter.
    const sitePackages = fs.readdirSync(path.join(venv, 'lib')).map((v) => path.join(venv, 'lib', v, 'site-packages')).find((p) => fs.existsSync(p));
    if (!sitePackages) throw new Error(`no site-packages in ${venv}`);
    this.pythonPath = path.join(options.workDir, 'patroni-site-packages');
    fs.cpSync(sitePackages, this.pythonPath, { recursive: true });
    fs.chmodSync(options.workDir, 0o755);
    this.chown(options.workDir);
    this.python = fs.realpathSync(path.join(venv, 'bin', 'python3'));
  }

  /** The interpreter Patroni runs under (the venv's, resolved to the distribution's binary). */
  public readonly python: string;

  /** The generated files, from the ConfigMap. */
  private get files(): Record<string, string> {
    return this.options.manifests.configMap.data as Record<string, string>;
  }

  /** The Patroni container of the StatefulSet's pod template. */
  private get container(): { env: EnvVar[]; command: string[] } {
    const spec = this.options.manifests.statefulSet.spec as { template: { spec: { containers: Array<{ name: string; env: EnvVar[]; command: string[] }> } } };
    return spec.template.spec.containers[0];
  }

  /** Writes the member's configuration, remapped for this machine. */
  public prepare(member: PatroniMember): void {
    const p = TIMESCALEDB_PATRONI;
    for (const dir of [member.dir, member.configDir, member.socketDir, path.join(member.dir, 'pgbackrest-lock')]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const config = parse(this.files['patroni.yaml']);
    config.restapi.listen = `127.0.0.1:${member.apiPort}`;
    config.kubernetes.context = 'patroni';
    config.postgresql.listen = `127.0.0.1:${member.pgPort}`;
    config.postgresql.data_dir = member.dataDir;
    config.postgresql.bin_dir = this.binDir;
    config.postgresql.pgpass = path.join(member.dir, 'pgpass');
    config.postgresql.parameters.unix_socket_directories = member.socketDir;
    // Not a Debian package: the one setting that is not an address, port or path.
    config.postgresql.parameters.shared_preload_libraries = '';
    config.bootstrap.post_bootstrap = String(config.bootstrap.post_bootstrap).replace(p.configDirectory, member.configDir);
    fs.writeFileSync(path.join(member.configDir, 'patroni.yaml'), stringify(config, { version: '1.1' }));
    for (const [name, content] of Object.entries(this.files)) {
      if (name === 'patroni.yaml') continue;
      fs.writeFileSync(path.join(member.configDir, name), name === 'pgbackrest.conf' ? this.pgbackrestConf(content, member) : content);
    }
    this.chown(member.dir);
  }

  /**
   * pgBackRest's file with a filesystem repository standing in for the bucket, and the member's
   * data directory, port, socket and lock directory.
   */
  public pgbackrestConf(content: string, member: PatroniMember): string {
    const p = TIMESCALEDB_PATRONI;
    const lines = content.split('\n')
      .filter((line) => !line.startsWith('repo1-s3-'))
      .map((line) => line
        .replace(/^repo1-type=s3$/, 'repo1-type=posix')
        .replace(/^repo1-path=.*$/, `repo1-path=${this.repository}`)
        .replace(`pg1-path=${p.dataDirectory}`, `pg1-path=${member.dataDir}`)
        .replace(/^pg1-port=\d+$/, `pg1-port=${member.pgPort}`)
        .replace(`pg1-socket-path=${p.socketDirectory}`, `pg1-socket-path=${member.socketDir}`));
    lines.splice(lines.indexOf('[global]') + 1, 0, `lock-path=${path.join(member.dir, 'pgbackrest-lock')}`);
    return lines.join('\n');
  }

  /** The member's process environment: the container's, resolved for this pod and remapped. */
  public environment(member: PatroniMember, podIp = '127.0.0.1'): Record<string, string> {
    const p = TIMESCALEDB_PATRONI;
    const env = resolveContainerEnv(this.container.env, {
      name: member.name, namespace: this.options.namespace, ip: podIp, secrets: this.options.secrets,
    });
    const ports: Record<string, number> = { [String(TIMESCALEDB.port)]: member.pgPort, [String(p.restApiPort)]: member.apiPort };
    for (const [name, value] of Object.entries(env)) {
      env[name] = value
        .replace(/^(\d+\.\d+\.\d+\.\d+):(\d+)$/, (whole, host: string, port: string) => (ports[port] ? `${host}:${ports[port]}` : whole))
        .replace(p.configDirectory, member.configDir);
    }
    // The bucket's credentials: the filesystem repository needs none.
    delete env.PGBACKREST_REPO1_S3_KEY;
    delete env.PGBACKREST_REPO1_S3_KEY_SECRET;
    return {
      ...env,
      PATH: `${this.binDir}:/usr/local/bin:/usr/bin:/bin`,
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      HOME: member.dir,
      KUBECONFIG: this.options.kubeconfig,
      PYTHONPATH: this.pythonPath,
      PYTHONDONTWRITEBYTECODE: '1',
    };
  }

  /** Starts the member's Patroni (the container's command, `patroni <config>`). */
  public start(member: PatroniMember): ManagedProcess {
    const [command, configPath] = this.container.command;
    if (command !== 'patroni') throw new Error(`the container runs ${command}, not patroni`);
    const config = configPath.replace(TIMESCALEDB_PATRONI.configDirectory, member.configDir);
    member.process = new ManagedProcess(`patroni ${member.name}`, this.python, ['-m', 'patroni', config], {
      ...this.runAs(), env: this.environment(member), cwd: member.dir,
    });
    return member.process;
  }

  /** Runs a program as the member would (its environment and account), returning stdout. */
  public run(member: PatroniMember, command: string, args: readonly string[], timeoutMs = 120_000, podIp?: string): string {
    try {
      return execFileSync(command, args, { ...this.runAs(), env: this.environment(member, podIp), cwd: member.dir, encoding: 'utf8', stdio: 'pipe', timeout: timeoutMs });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  /** uid/gid options for processes that must not run as root. */
  public runAs(): { uid?: number; gid?: number } {
    return this.account ? { uid: this.account.uid, gid: this.account.gid } : {};
  }

  /** Makes `target` (recursively) owned by the account the servers run as. */
  public chown(target: string): void {
    if (!this.account) return;
    execFileSync('chown', ['-R', `${this.account.uid}:${this.account.gid}`, target]);
  }
}

/** A fresh temporary directory the unprivileged account can enter. */
export function workDirectory(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}
