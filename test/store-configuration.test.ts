/**
 * The configuration files synthesis generates are checked by the real servers (Debian's
 * redis-server and PostgreSQL, installed by scripts/install-test-services.sh), not by string
 * matching: each server parses the file exactly as it would in the pod.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { postgresqlConf, redisConf } from '../src/constructs/store-configuration';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { planDataStore } from '../src/planning/plan';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function findBinary(name: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const debian = fs.existsSync('/usr/lib/postgresql')
    ? fs.readdirSync('/usr/lib/postgresql').sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin/${name}`).find((p) => fs.existsSync(p))
    : undefined;
  if (!debian) throw new Error(`${name} not found: run bash scripts/install-test-services.sh`);
  return debian;
}

/** PostgreSQL refuses to run as root: when root, run it as the `postgres` user Debian's package creates. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()));
  return { uid, gid };
}

/** Stops a child process, escalating to SIGKILL, and resolves once it has exited. */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

jest.setTimeout(60_000);

const environments = [DEV, STAGING, PROD];
let workdir: string;
beforeAll(() => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-store-conf-'));
  fs.chmodSync(workdir, 0o777);
});
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }));

describe.each(environments.map((e) => [e.name, e] as const))('redis.conf of %s', (name, environment) => {
  test('a real redis-server starts with it, with AOF on and no eviction', async () => {
    const plan = planDataStore(PLATFORM_DATA_STORES.redis, environment);
    const dir = fs.mkdtempSync(path.join(workdir, `redis-${name}-`));
    const conf = path.join(dir, 'redis.conf');
    const generated = redisConf(plan.memory, plan.store.port);
    // Only what differs on a test machine changes: the data directory (Redis enters it while
    // reading the file, so the line itself is replaced) and the port.
    expect(generated).toMatch(/^dir \/data$/m);
    fs.writeFileSync(conf, generated.replace(/^dir \/data$/m, `dir ${dir}`));
    const port = await freePort();
    const server = spawn(findBinary('redis-server'), [conf, '--port', String(port), '--requirepass', 'test-only'], { stdio: 'pipe' });
    let output = '';
    server.stdout.on('data', (d) => { output += d; });
    server.stderr.on('data', (d) => { output += d; });
    const cli = (...args: string[]) =>
      execFileSync(findBinary('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', '-a', 'test-only', ...args], { encoding: 'utf8' }).trim();
    try {
      let answer = '';
      for (let i = 0; i < 50 && answer !== 'PONG'; i++) {
        if (server.exitCode !== null) throw new Error(`redis-server exited ${server.exitCode} with this configuration:\n${output}`);
        try { answer = cli('ping'); } catch { await new Promise((r) => setTimeout(r, 100)); }
      }
      expect(answer).toBe('PONG');
      expect(cli('config', 'get', 'appendonly')).toBe('appendonly\nyes');
      expect(cli('config', 'get', 'maxmemory-policy')).toBe('maxmemory-policy\nnoeviction');
      expect(Number(cli('config', 'get', 'maxmemory').split('\n')[1])).toBe(Math.floor(plan.memory.mebibytes * 0.8) * 1024 * 1024);
      expect(cli('config', 'get', 'latency-monitor-threshold')).toBe('latency-monitor-threshold\n1');
    } finally {
      await stop(server, 'SIGTERM');
    }
  });
});

describe('postgresql.conf', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = path.join(workdir, 'pgdata');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dataDir]);
    execFileSync(findBinary('initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'pipe', ...postgresUser() });
  }, 120_000);

  test.each(environments.map((e) => [e.name, e] as const))('%s: a real PostgreSQL parses it and starts with it', async (name, environment) => {
    const plan = planDataStore(PLATFORM_DATA_STORES.timescaledb, environment);
    const conf = path.join(workdir, `postgresql-${name}.conf`);
    fs.writeFileSync(conf, postgresqlConf(plan.memory, plan.store.port));
    fs.chmodSync(conf, 0o644);
    const postgres = findBinary('postgres');
    // -C parses the whole file and prints one setting, before any library is loaded.
    const show = (setting: string) => {
      return execFileSync(postgres, ['-D', dataDir, '-c', `config_file=${conf}`, '-C', setting], {
        encoding: 'utf8', stdio: 'pipe', ...postgresUser(),
      }).trim();
    };
    expect(show('shared_preload_libraries')).toBe('timescaledb');
    // -C reports shared_buffers in 8kB pages.
    expect(Number(show('shared_buffers')) * 8).toBe(Math.floor(plan.memory.mebibytes * 0.25) * 1024);
    expect(show('wal_level')).toBe('replica');

    // A real start. timescaledb itself is not a Debian package, so its preload is the one setting
    // overridden; the socket directory and port are a test machine's.
    const socketDir = fs.mkdtempSync(path.join(workdir, `socket-${name}-`));
    fs.chmodSync(socketDir, 0o777);
    const port = await freePort();
    const server = spawn(postgres, [
      '-D', dataDir, '-c', `config_file=${conf}`, '-c', 'shared_preload_libraries=', '-c', `unix_socket_directories=${socketDir}`,
      '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1',
    ], { stdio: 'pipe', ...postgresUser() });
    let output = '';
    server.stderr.on('data', (d) => { output += d; });
    try {
      for (let i = 0; i < 100 && !/ready to accept connections/.test(output); i++) {
        if (server.exitCode !== null) throw new Error(`postgres exited ${server.exitCode} with this configuration:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(output).toMatch(/ready to accept connections/);
    } finally {
      await stop(server, 'SIGINT');
    }
  }, 60_000);
});
