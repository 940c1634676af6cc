/**
 * Real Redis and PostgreSQL servers for the contract test: Debian's redis-server and PostgreSQL
 * (scripts/install-test-services.sh installs them), each in a temp dir on a free loopback port,
 * with passwords, so the runtime's AUTH and SCRAM-SHA-256 handshakes are exercised for real.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { ManagedProcess, freePort, poll } from './processes';

const INSTALL_HINT = 'install them with: bash scripts/install-test-services.sh';

/** The path of `binary` on PATH, if any. */
export function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    if (dir !== '' && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Debian keeps the PostgreSQL server in /usr/lib/postgresql/<major>/bin, off PATH. */
export function postgresBinDir(): string {
  const fromPath = onPath('postgres');
  if (fromPath && onPath('initdb')) return path.dirname(fs.realpathSync(fromPath));
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`PostgreSQL server binaries (postgres, initdb) not found; ${INSTALL_HINT}`);
  return path.join(root, versions[0], 'bin');
}

/** The unprivileged account PostgreSQL runs as when the test runs as root (it refuses root). */
export function unprivilegedAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (line) {
      const [, , uid, gid] = line.split(':');
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody account exists to run PostgreSQL as');
}

function tempDir(prefix: string, owner?: { uid: number; gid: number }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** One PING over a fresh connection, no retries: resolves on PONG, rejects otherwise. */
export async function redisPing(host: string, port: number, password: string): Promise<void> {
  const client = new Redis({ host, port, password, lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`PING answered ${JSON.stringify(reply)}`);
  } finally {
    client.disconnect();
  }
}

/** A redis-server requiring a password. */
export class TestRedis {
  /** Starts one on a free port. */
  public static async start(password: string): Promise<TestRedis> {
    const binary = onPath('redis-server');
    if (!binary) throw new Error(`redis-server not found; ${INSTALL_HINT}`);
    const redis = new TestRedis(binary, await freePort(), password, tempDir('nautilus-redis-'));
    await redis.startServer();
    return redis;
  }

  private process?: ManagedProcess;

  private constructor(private readonly binary: string, public readonly port: number, public readonly password: string, private readonly dir: string) {}

  /** (Re)starts the server on the same port and waits until it answers PING. */
  public async startServer(): Promise<void> {
    this.process = new ManagedProcess('redis', this.binary, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--requirepass', this.password,
      '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning',
    ], {});
    const result = await poll(async () => {
      if (!this.process?.running) throw new Error(`redis-server exited:\n${this.process?.log}`);
      await redisPing('127.0.0.1', this.port, this.password);
      return true;
    }, Date.now() + 15_000);
    if (result instanceof Error) throw new Error(`redis-server did not answer on port ${this.port}: ${result.message}\n${this.process.log}`);
  }

  /** Stops the server (the data is thrown away: nothing is persisted). */
  public async stopServer(): Promise<void> {
    await this.process?.stop();
  }

  /** Stops it and removes its directory. */
  public async dispose(): Promise<void> {
    await this.stopServer();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A redis-sentinel (Debian's) monitoring a {@link TestRedis} under `masterName`, with the same
 * password, so engines of environments with Sentinel find their primary through it. Its
 * configuration is the test's own: the generated one is run by test/contract/redis-failover.test.ts.
 */
export class TestSentinel {
  /** Starts one on a free port and waits until it knows the primary. */
  public static async start(redis: TestRedis, masterName: string): Promise<TestSentinel> {
    const binary = onPath('redis-sentinel');
    if (!binary) throw new Error(`redis-sentinel not found; ${INSTALL_HINT}`);
    const dir = tempDir('nautilus-sentinel-');
    const port = await freePort();
    const conf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${redis.port} 1`,
      `sentinel auth-pass ${masterName} "${redis.password}"`,
      `requirepass "${redis.password}"`, '',
    ].join('\n'));
    const sentinel = new TestSentinel(new ManagedProcess('sentinel', binary, [conf], {}), port, dir);
    const known = await poll(async () => {
      if (!sentinel.process.running) throw new Error(`redis-sentinel exited:\n${sentinel.process.log}`);
      const client = new Redis({ host: '127.0.0.1', port, password: redis.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const address = await client.call('SENTINEL', 'get-master-addr-by-name', masterName) as string[] | null;
        return address && Number(address[1]) === redis.port ? true : undefined;
      } finally {
        client.disconnect();
      }
    }, Date.now() + 15_000);
    if (known instanceof Error) throw new Error(`redis-sentinel did not come up on port ${port}: ${known.message}\n${sentinel.process.log}`);
    return sentinel;
  }

  private constructor(private readonly process: ManagedProcess, public readonly port: number, private readonly dir: string) {}

  /** Stops it and removes its directory. */
  public async dispose(): Promise<void> {
    await this.process.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A PostgreSQL cluster with one password-authenticated (SCRAM-SHA-256) superuser. */
export class TestPostgres {
  /** Creates a cluster with `databases`, starts it on a free port. */
  public static async start(user: string, password: string, databases: readonly string[]): Promise<TestPostgres> {
    const bin = postgresBinDir();
    const account = unprivilegedAccount();
    const dir = tempDir('nautilus-postgres-', account);
    const data = path.join(dir, 'data');
    const passwordFile = path.join(dir, 'password');
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (account) fs.chownSync(passwordFile, account.uid, account.gid);
    const as = account ? { uid: account.uid, gid: account.gid } : {};
    const run = (binary: string, args: string[], input?: string) => {
      try {
        execFileSync(path.join(bin, binary), args, { ...as, input, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } });
      } catch (error) {
        const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
        throw new Error(`${binary} ${args.join(' ')} failed: ${e.message}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
      }
    };
    // Host (TCP) connections must authenticate by SCRAM-SHA-256, the method the runtime implements.
    run('initdb', ['-D', data, '-U', user, `--pwfile=${passwordFile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const sql = databases.map((db) => `CREATE DATABASE "${db.replace(/"/g, '""')}";\n`).join('');
    run('postgres', ['--single', '-D', data, '-F', 'template1'], sql);
    const postgres = new TestPostgres(bin, data, dir, as, await freePort(), user, password, databases);
    await postgres.startServer();
    return postgres;
  }

  private process?: ManagedProcess;

  private constructor(
    private readonly bin: string,
    private readonly data: string,
    private readonly dir: string,
    private readonly as: { uid?: number; gid?: number },
    public readonly port: number,
    public readonly user: string,
    public readonly password: string,
    private readonly databases: readonly string[],
  ) {}

  /** (Re)starts the server on the same port and waits until it accepts the user's password. */
  public async startServer(): Promise<void> {
    this.process = new ManagedProcess('postgres', path.join(this.bin, 'postgres'), [
      '-D', this.data, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
      '-c', 'fsync=off', '-c', 'shared_buffers=16MB', '-c', 'max_connections=60', '-c', 'log_min_messages=warning',
    ], { ...this.as, env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } });
    const result = await poll(async () => {
      if (!this.process?.running) throw new Error(`postgres exited:\n${this.process?.log}`);
      const client = new Client({
        host: '127.0.0.1', port: this.port, database: this.databases[0] ?? 'postgres', user: this.user, password: this.password,
        application_name: 'contract-test', connectionTimeoutMillis: 2000,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
      return true;
    }, Date.now() + 30_000, 200);
    if (result instanceof Error) throw new Error(`postgres did not accept connections on port ${this.port}: ${result.message}\n${this.process.log}`);
  }

  /** Stops the server (fast shutdown: SIGINT), keeping its data for a restart. */
  public async stopServer(): Promise<void> {
    if (!this.process) return;
    this.process.signal('SIGINT');
    if (!(await this.process.waitForExit(15_000))) await this.process.stop(1000);
  }

  /** Stops it and removes its directory. */
  public async dispose(): Promise<void> {
    await this.stopServer();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
