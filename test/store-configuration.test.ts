/**
 * The configuration files synthesis generates are checked by the real servers (Debian's
 * redis-server and PostgreSQL, installed by scripts/install-test-services.sh), not by string
 * matching: each server parses the file as it would in the pod.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { redisConf } from '../src/constructs/redis-configuration';
import { postgresqlParameters } from '../src/constructs/timescaledb-configuration';
import { DEV, PROD, STAGING } from '../src/environments/platform-environments';
import { planDataStore } from '../src/planning/plan';
import { onPath, postgresBinDir, unprivilegedAccount } from './contract/data-stores';
import { ManagedProcess, freePort, killAll, poll } from './contract/processes';
import { RedisMembers, loadRedisManifest } from './contract/redis-members';
import Redis from 'ioredis';

jest.setTimeout(60_000);

const environments = [DEV, STAGING, PROD];
let workdir: string;
beforeAll(() => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-store-conf-'));
  fs.chmodSync(workdir, 0o755);
});
afterAll(() => {
  killAll();
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe.each(environments.map((e) => [e.name, e] as const))('redis.conf of %s', (name, environment) => {
  test('a real redis-server starts with it, with AOF on, no eviction and the planned memory cap', async () => {
    const plan = planDataStore(PLATFORM_DATA_STORES.redis, environment);
    const server = onPath('redis-server');
    const cli = onPath('redis-cli');
    if (!server || !cli) throw new Error('redis-server not found; install it with: bash scripts/install-test-services.sh');
    const dir = fs.mkdtempSync(path.join(workdir, `redis-${name}-`));
    const conf = path.join(dir, 'redis.conf');
    const generated = redisConf(plan.memory, plan.store.port, plan.replicas > 1);
    // Only what differs on a test machine changes: the data directory (Redis enters it while
    // reading the file, so the line itself is replaced), the included file start.sh renders (here
    // with the password only: the replication lines are run by test/contract/redis-failover) and
    // the port.
    expect(generated).toMatch(/^dir \/data$/m);
    expect(generated).toMatch(/^include \/run\/redis\/redis\.conf$/m);
    const rendered = path.join(dir, 'rendered.conf');
    fs.writeFileSync(rendered, 'requirepass "test-only"\n');
    fs.writeFileSync(conf, generated.replace(/^dir \/data$/m, `dir ${dir}`).replace(/^include .*$/m, `include ${rendered}`));
    const port = await freePort();
    const redis = new ManagedProcess('redis', server, [conf, '--port', String(port)], {});
    const ask = (...args: string[]) =>
      execFileSync(cli, ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', '-a', 'test-only', ...args], { encoding: 'utf8', stdio: 'pipe' }).trim();
    try {
      const answer = await poll(async () => {
        if (!redis.running) throw new Error(`redis-server rejected the configuration:\n${redis.log}`);
        try { return ask('ping'); } catch { return undefined; }
      }, Date.now() + 15_000);
      expect(answer).toBe('PONG');
      expect(ask('config', 'get', 'appendonly')).toBe('appendonly\nyes');
      expect(ask('config', 'get', 'maxmemory-policy')).toBe('maxmemory-policy\nnoeviction');
      expect(Number(ask('config', 'get', 'maxmemory').split('\n')[1])).toBe(Math.floor(plan.memory.mebibytes * 0.8) * 1024 * 1024);
      expect(ask('config', 'get', 'latency-monitor-threshold')).toBe('latency-monitor-threshold\n1');
      // Replication settings only where there are replicas.
      expect(ask('config', 'get', 'min-replicas-to-write')).toBe(`min-replicas-to-write\n${plan.replicas > 1 ? 1 : 0}`);
    } finally {
      await redis.stop();
    }
  });
});

describe('postgresql.conf', () => {
  const account = unprivilegedAccount();
  const as = account ?? {};
  let dataDir: string;
  beforeAll(() => {
    dataDir = path.join(workdir, 'pgdata');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    if (account) fs.chownSync(dataDir, account.uid, account.gid);
    execFileSync(path.join(postgresBinDir(), 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'pipe', ...as });
  }, 120_000);

  test.each(environments.map((e) => [e.name, e] as const))('%s: a real PostgreSQL parses it and starts with it', async (name, environment) => {
    const plan = planDataStore(PLATFORM_DATA_STORES.timescaledb, environment);
    const conf = path.join(workdir, `postgresql-${name}.conf`);
    // Patroni writes every parameter as `name = 'value'`; so does this file.
    const parameters = postgresqlParameters(plan.memory, environment.timescaledb.backup);
    const quoted = (value: string | number) => `'${String(value).replace(/'/g, "''")}'`;
    fs.writeFileSync(conf, Object.entries(parameters).map(([k, v]) => `${k} = ${quoted(v)}\n`).join(''), { mode: 0o644 });
    const postgres = path.join(postgresBinDir(), 'postgres');
    // -C parses the whole file and prints one setting, before any library is loaded.
    const show = (setting: string) =>
      execFileSync(postgres, ['-D', dataDir, '-c', `config_file=${conf}`, '-C', setting], { encoding: 'utf8', stdio: 'pipe', ...as }).trim();
    expect(show('shared_preload_libraries')).toBe('timescaledb');
    // -C reports shared_buffers in 8kB pages.
    expect(Number(show('shared_buffers')) * 8).toBe(Math.floor(plan.memory.mebibytes * 0.25) * 1024);
    expect(show('wal_level')).toBe('replica');
    expect(show('wal_log_hints')).toBe('on');
    // WAL is archived to pgBackRest wherever the environment declares a bucket.
    const archiving = environment.timescaledb.backup.kind === 'object-store';
    expect(show('archive_mode')).toBe(archiving ? 'on' : 'off');
    if (archiving) expect(show('archive_command')).toBe('pgbackrest --stanza=timescaledb archive-push %p');

    // A real start. timescaledb itself is not a Debian package, so its preload is the one setting
    // overridden; the socket directory and port are a test machine's.
    const port = await freePort();
    const server = new ManagedProcess('postgres', postgres, [
      '-D', dataDir, '-c', `config_file=${conf}`, '-c', 'shared_preload_libraries=', '-c', 'unix_socket_directories=',
      '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1',
    ], as);
    try {
      const started = await poll(async () => {
        if (!server.running) throw new Error(`postgres rejected the configuration:\n${server.log}`);
        return /ready to accept connections/.test(server.log) ? true : undefined;
      }, Date.now() + 30_000);
      expect(started).toBe(true);
    } finally {
      server.signal('SIGINT');
      if (!(await server.waitForExit(15_000))) await server.stop(1000);
    }
  });
});

describe('Redis start.sh (dev: a single server), run as its container runs it', () => {
  const ROOT = path.join(__dirname, '..');

  test('starts a redis-server that requires the password from the mounted Secret', async () => {
    const members = await RedisMembers.create(loadRedisManifest(ROOT, 'dev'), 'start-sh-password');
    try {
      expect(members.members).toHaveLength(1);
      const [member] = members.members;
      members.start(member);
      expect(member.sentinel).toBeUndefined();
      await members.waitForServer(member, Date.now() + 15_000);
      const anonymous = new Redis({ host: member.address, port: 6379, lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      anonymous.on('error', () => undefined);
      try {
        await anonymous.connect();
        await expect(anonymous.get('k')).rejects.toThrow(/NOAUTH/);
      } finally {
        anonymous.disconnect();
      }
      expect((await members.role(member)).role).toBe('master');
    } finally {
      await members.dispose();
    }
  });

  test('refuses a password Redis would parse as syntax, exiting 78 with the reason', async () => {
    const members = await RedisMembers.create(loadRedisManifest(ROOT, 'dev'), 'has"quote');
    try {
      const [member] = members.members;
      members.start(member);
      const exit = await member.server!.waitForExit(10_000);
      expect(exit?.code).toBe(78);
      expect(member.server!.log).toContain('contains a quote or backslash');
    } finally {
      await members.dispose();
    }
  });
});
