/**
 * The store exporters, for real, produce the series the store alerts and dashboards read:
 *
 * - redis_exporter (Debian's `prometheus-redis-exporter` 1.45.0, the release prod's image pins:
 *   the Go module proxy refuses github.com/oliver006/redis_exporter) beside each of prod's three
 *   Redis members (redis-server and redis-sentinel from Debian, started from the generated files
 *   as redis-members.ts does), started with its container's own arguments and the password file
 *   start.sh renders, scraped on every endpoint of the generated ServiceMonitor. The scraped
 *   samples, labelled as the ServiceMonitor labels them, are then fed to `promtool test rules`
 *   with prod's rules: the Redis alerts stay silent on the healthy cluster, and
 *   NautilusDataStoreReplicaDisconnected fires once a replica is killed.
 * - backup-metrics.py, taken from prod's TimescaleDB ConfigMap, against a real pgBackRest
 *   repository (Debian's PostgreSQL and pgBackRest): no backup yet, then a full backup, then a
 *   configuration pgBackRest rejects.
 *
 * Patroni's own /metrics are scraped by test/cluster/timescaledb-failover.test.ts on a real
 * Patroni cluster.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { AlertingRule, isAlertingRule } from '../../src/constructs/monitoring/prometheus-rules';
import { PLATFORM_ENVIRONMENTS } from '../../src/environments/platform-environments';
import { planEnvironment } from '../../src/planning/environment-plan';
import { STORE_PROCESS_LABEL, storeMetricsServiceName } from '../../src/planning/store-monitoring';
import { REDIS_METRICS } from '../../src/planning/stores/redis-monitoring';
import { TIMESCALEDB_METRICS } from '../../src/planning/stores/timescaledb-monitoring';
import { K8sObject, find, platformInput, synthObjects } from '../support/platform';
import { prometheusBinary, promtool, scratchDir, writeRuleFile } from '../monitoring/promtool';
import { onPath, postgresBinDir, unprivilegedAccount } from './data-stores';
import { ManagedProcess, freePort, poll } from './processes';
import { MetricFamily, parsePrometheusText } from './prometheus-text';
import { RedisMember, RedisMembers, loadRedisManifest } from './redis-members';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
const prod = PLATFORM_ENVIRONMENTS.find((e) => e.name === 'prod')!;
const objects = synthObjects(prod);
const plans = planEnvironment(platformInput(), prod);
const INSTALL_HINT = 'install it with: bash scripts/install-test-services.sh';

function binary(name: string, pkg: string): string {
  const found = onPath(name);
  if (!found) throw new Error(`${name} not found on PATH; ${INSTALL_HINT} (Debian package \`${pkg}\`)`);
  return found;
}

/** The samples of `family` (empty when the scrape has none). */
function samples(scrape: Map<string, MetricFamily>, family: string) {
  return scrape.get(family)?.samples ?? [];
}

async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

describe('redis_exporter beside prod\'s Redis members and Sentinels', () => {
  const PASSWORD = 'exporter-test-password';
  const statefulSet = find(objects, 'StatefulSet', 'redis');
  const exporterContainer = statefulSet.spec.template.spec.containers.find((c: { name: string }) => c.name === 'metrics');
  const monitor = find(objects, 'ServiceMonitor', storeMetricsServiceName('redis'));
  const redisPlan = plans.stores.find((s) => s.store.name === 'redis')!;
  let members: RedisMembers;
  const exporters = new Map<RedisMember, { process: ManagedProcess; port: number }>();

  /** The exporter container's arguments for a member on this machine: its loopback address and its runtime directory. */
  const localArgs = (member: RedisMember, port: number): string[] => (exporterContainer.args as string[]).map((arg) => arg
    .split('127.0.0.1').join(member.address)
    .split('/run/redis').join(member.local('/run/redis'))
    .replace(/^--web\.listen-address=:\d+$/, `--web.listen-address=${member.address}:${port}`));

  /** Every ServiceMonitor endpoint of one member, scraped: the series with the labels the operator adds. */
  async function scrapeMember(member: RedisMember): Promise<Array<{ process: string; scrape: Map<string, MetricFamily> }>> {
    const { port } = exporters.get(member)!;
    return Promise.all((monitor.spec.endpoints as Array<{ path: string; params?: Record<string, string[]>; relabelings: Array<{ replacement: string }> }>)
      .map(async (endpoint) => {
        const query = endpoint.params
          ? `?${new URLSearchParams(Object.entries(endpoint.params).flatMap(([k, vs]) => vs.map((v): [string, string] => [k, v.split('127.0.0.1').join(member.address)]))).toString()}`
          : '';
        const answer = await fetchText(`http://${member.address}:${port}${endpoint.path}${query}`);
        if (answer.status !== 200) throw new Error(`${member.podName} ${endpoint.path}: HTTP ${answer.status}\n${answer.body}`);
        return { process: endpoint.relabelings[0].replacement, scrape: parsePrometheusText(answer.body) };
      }));
  }

  beforeAll(async () => {
    const exporter = binary('prometheus-redis-exporter', 'prometheus-redis-exporter');
    binary('redis-server', 'redis-server');
    members = await RedisMembers.create(loadRedisManifest(ROOT, 'prod'), PASSWORD);
    for (const member of members.members) members.start(member);
    const deadline = Date.now() + 30_000;
    for (const member of members.members) await members.waitForServer(member, deadline);
    for (const member of members.members) {
      const port = await freePort();
      exporters.set(member, {
        port,
        process: new ManagedProcess(`${member.podName} metrics`, exporter, localArgs(member, port), { env: { PATH: process.env.PATH ?? '' } }),
      });
    }
    // Wait until replication and the Sentinels settle: two replicas online, every Sentinel sees all.
    const settled = await poll(async () => {
      const views = await Promise.all(members.members.map(scrapeMember));
      const sentinels = views.flat().filter((v) => v.process === 'sentinel');
      const servers = views.flat().filter((v) => v.process === 'server');
      const replicas = Math.max(...servers.map((s) => samples(s.scrape, REDIS_METRICS.redisConnectedReplicas)[0]?.value ?? 0));
      const okSentinels = Math.min(...sentinels.map((s) => samples(s.scrape, REDIS_METRICS.sentinelOkSentinels)[0]?.value ?? 0));
      // Sentinels learn the replicas from the primary's INFO, every 10 s.
      const okReplicas = Math.min(...sentinels.map((s) => samples(s.scrape, REDIS_METRICS.sentinelOkReplicas)[0]?.value ?? 0));
      return replicas === 2 && okSentinels === 3 && okReplicas === 2 ? views : undefined;
    }, Date.now() + 60_000, 500);
    if (settled instanceof Error) {
      throw new Error(`Redis, Sentinel or the exporters did not settle: ${settled.message}\n${[...exporters.values()].map((e) => e.process.log).join('\n')}`);
    }
  });

  afterAll(async () => {
    for (const { process } of exporters.values()) await process.stop(2000);
    await members?.dispose();
  });

  it('the exporter gets the password from the file start.sh renders, never from its arguments', () => {
    expect((exporterContainer.args as string[]).join(' ')).not.toContain(PASSWORD);
    expect(exporterContainer.args).toContain('--redis.password-file=/run/redis/exporter-passwords.json');
    for (const member of members.members) {
      const file = path.join(member.local('/run/redis'), 'exporter-passwords.json');
      expect(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')))).toEqual([`redis://${member.address}:6379`, `redis://${member.address}:26379`]);
      expect(fs.statSync(file).mode & 0o077).toBe(0);
    }
  });

  it('each server endpoint serves redis_up, its role, replicas and replication offsets; each Sentinel endpoint its view of the primary', async () => {
    const views = (await Promise.all(members.members.map(async (m) => ({ member: m, endpoints: await scrapeMember(m) }))));
    const roles: string[] = [];
    for (const { endpoints } of views) {
      const server = endpoints.find((e) => e.process === 'server')!.scrape;
      expect(samples(server, REDIS_METRICS.redisUp)[0].value).toBe(1);
      const info = samples(server, REDIS_METRICS.redisInstanceInfo)[0];
      roles.push(info.labels.role);
      expect(samples(server, REDIS_METRICS.redisPrimaryOffset)[0].value).toBeGreaterThanOrEqual(0);
      if (info.labels.role === 'master') {
        expect(samples(server, REDIS_METRICS.redisPrimaryOffset)[0].value).toBeGreaterThan(0);
        expect(samples(server, REDIS_METRICS.redisConnectedReplicas)[0].value).toBe(2);
        const offsets = samples(server, REDIS_METRICS.redisReplicaOffset);
        expect(offsets).toHaveLength(2);
        for (const offset of offsets) expect(Object.keys(offset.labels).sort()).toEqual(['slave_ip', 'slave_port', 'slave_state']);
      }
      const sentinel = endpoints.find((e) => e.process === 'sentinel')!.scrape;
      const status = samples(sentinel, REDIS_METRICS.sentinelMasterStatus)[0];
      expect(status.labels).toMatchObject({ master_name: 'nautilus', master_status: 'ok' });
      expect(status.labels.master_address).toMatch(/:6379$/);
      expect(samples(sentinel, REDIS_METRICS.sentinelOkSentinels)[0].value).toBe(3);
      expect(samples(sentinel, REDIS_METRICS.sentinelOkReplicas)[0].value).toBe(2);
      expect(samples(sentinel, REDIS_METRICS.sentinelQuorumCheck)[0].value).toBe(1);
    }
    expect(roles.sort()).toEqual(['master', 'slave', 'slave']);
  });

  /** prod's Redis alerts evaluated by promtool on the members' current scrapes, held for 10 minutes. */
  async function redisAlertsOnScrapes(alertnames: readonly string[]): Promise<Record<string, Array<{ labels: Record<string, string>; value: string }>>> {
    const input: Array<{ series: string; values: string }> = [];
    for (const member of members.members) {
      if (!member.server?.running) continue;
      for (const { process, scrape } of await scrapeMember(member)) {
        for (const family of scrape.values()) {
          for (const sample of family.samples) {
            const labels = { ...sample.labels, namespace: redisPlan.namespace, service: storeMetricsServiceName('redis'), pod: member.podName, [STORE_PROCESS_LABEL]: process };
            const text = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
            if (Number.isFinite(sample.value)) input.push({ series: `${sample.name}{${text}}`, values: `${sample.value}x20` });
          }
        }
      }
    }
    const ready = { series: `kube_statefulset_status_replicas_ready{namespace="${redisPlan.namespace}",statefulset="redis"}`, values: `${members.members.filter((m) => m.server?.running).length}x20` };
    const dir = scratchDir('nautilus-store-alerts-');
    try {
      const rules = objects.filter((o) => o.kind === 'PrometheusRule');
      const files = rules.map((rule: K8sObject) => path.basename(writeRuleFile(dir, rule)));
      const results: Record<string, Array<{ labels: Record<string, string>; value: string }>> = {};
      // promtool prints the alerts it got when they differ from the expectation: expect none, read what it got.
      for (const alertname of alertnames) {
        fs.writeFileSync(path.join(dir, 'test.yaml'), stringify({
          rule_files: files,
          evaluation_interval: '1m',
          tests: [{ interval: '1m', input_series: [...input, ready], alert_rule_test: [{ eval_time: '10m', alertname, exp_alerts: [] }] }],
        }, { lineWidth: 0 }));
        const result = promtool(['test', 'rules', 'test.yaml'], dir);
        const got = result.status === 0 ? [] : [...result.output.matchAll(/Labels:\{([^}]*)\}/g)].slice(0).map((m) => ({
          labels: Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])),
          value: '',
        }));
        if (result.status !== 0 && got.length === 0) throw new Error(`promtool failed:\n${result.output}`);
        results[alertname] = got.filter((a) => a.labels.store === 'redis');
      }
      return results;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const REDIS_ALERTS = ['NautilusDataStoreNoPrimary', 'NautilusDataStoreReplicaDisconnected', 'NautilusDataStoreReplicationLag',
    'NautilusDataStoreFailover', 'NautilusRedisSentinelDegraded', 'NautilusRedisSentinelQuorumLost', 'NautilusDataStoreDown', 'NautilusDataStoreMemberDown'];

  it('prod\'s rules on the real series: every Redis alert silent while the three members are healthy', async () => {
    expect(prometheusBinary('promtool')).toBeTruthy();
    const alerts = await redisAlertsOnScrapes(REDIS_ALERTS);
    expect(alerts).toEqual(Object.fromEntries(REDIS_ALERTS.map((a) => [a, []])));
  });

  it('prod\'s rules on the real series: a replica killed fires NautilusDataStoreReplicaDisconnected and NautilusDataStoreMemberDown', async () => {
    const roles = await Promise.all(members.members.map(async (m) => ({ member: m, role: (await members.role(m)).role })));
    const replica = roles.find((r) => r.role === 'replica')!.member;
    replica.server!.signal('SIGKILL');
    await replica.server!.exited;
    const primary = roles.find((r) => r.role === 'master')!.member;
    const dropped = await poll(async () => {
      const server = (await scrapeMember(primary)).find((e) => e.process === 'server')!.scrape;
      return samples(server, REDIS_METRICS.redisConnectedReplicas)[0]?.value === 1 ? true : undefined;
    }, Date.now() + 30_000, 500);
    expect(dropped).toBe(true);
    const alerts = await redisAlertsOnScrapes(['NautilusDataStoreReplicaDisconnected', 'NautilusDataStoreMemberDown', 'NautilusDataStoreNoPrimary']);
    expect(alerts.NautilusDataStoreReplicaDisconnected.map((a) => a.labels.alertname)).toEqual(['NautilusDataStoreReplicaDisconnected']);
    expect(alerts.NautilusDataStoreMemberDown.map((a) => a.labels.severity)).toEqual(['warning']);
    expect(alerts.NautilusDataStoreNoPrimary).toEqual([]);
  });
});

describe('backup-metrics.py from prod\'s TimescaleDB ConfigMap against a real pgBackRest repository', () => {
  const script = find(objects, 'ConfigMap', 'timescaledb-patroni').data['backup-metrics.py'] as string;
  const account = unprivilegedAccount();
  const as = account ? { uid: account.uid, gid: account.gid } : {};
  let dir = '';
  let postgres: ManagedProcess | undefined;
  let conf = '';

  const run = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { ...as, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', PGBACKREST_CONFIG: conf } }).toString();
    } catch (error) {
      const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
    }
  };

  /** Starts the script with `config` as the pod's PGBACKREST_CONFIG, scrapes /metrics once, stops it. */
  async function scrape(config: string): Promise<Map<string, MetricFamily>> {
    const port = await freePort();
    const exporter = new ManagedProcess('backup-metrics', 'python3', [path.join(dir, 'backup-metrics.py')], {
      ...as, env: { PATH: process.env.PATH ?? '', PGBACKREST_CONFIG: config, BACKUP_METRICS_PORT: String(port) },
    });
    try {
      const answer = await poll(async () => {
        if (!exporter.running) throw new Error(`backup-metrics.py exited:\n${exporter.log}`);
        return fetchText(`http://127.0.0.1:${port}/metrics`);
      }, Date.now() + 60_000, 200);
      if (answer instanceof Error) throw answer;
      expect(answer.status).toBe(200);
      // The probes' path answers without running pgBackRest.
      expect(await fetchText(`http://127.0.0.1:${port}/health`)).toEqual({ status: 200, body: 'ok\n' });
      return parsePrometheusText(answer.body);
    } finally {
      await exporter.stop(2000);
    }
  }

  beforeAll(async () => {
    binary('pgbackrest', 'pgbackrest');
    binary('python3', 'python3');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-backup-metrics-'));
    for (const sub of ['data', 'repo', 'lock', 'log', 'socket']) fs.mkdirSync(path.join(dir, sub), { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'backup-metrics.py'), script, { mode: 0o444 });
    const port = await freePort();
    conf = path.join(dir, 'pgbackrest.conf');
    fs.writeFileSync(conf, [
      '[global]', `repo1-path=${dir}/repo`, `lock-path=${dir}/lock`, `log-path=${dir}/log`, 'log-level-console=warn', 'log-level-file=off', 'start-fast=y', 'compress-type=none',
      '[timescaledb]', `pg1-path=${dir}/data`, `pg1-port=${port}`, `pg1-socket-path=${dir}/socket`, '',
    ].join('\n'));
    if (account) {
      for (const entry of ['', 'data', 'repo', 'lock', 'log', 'socket', 'pgbackrest.conf', 'backup-metrics.py']) fs.chownSync(path.join(dir, entry), account.uid, account.gid);
    }
    const bin = postgresBinDir();
    run(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions']);
    postgres = new ManagedProcess('postgres', path.join(bin, 'postgres'), [
      '-D', path.join(dir, 'data'), '-p', String(port), '-c', 'listen_addresses=', '-c', `unix_socket_directories=${dir}/socket`,
      '-c', 'fsync=off', '-c', 'archive_mode=on', '-c', `archive_command=pgbackrest --config=${conf} --stanza=timescaledb archive-push %p`,
    ], { ...as, env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', PATH: process.env.PATH ?? '' } });
    const up = await poll(async () => {
      if (!postgres?.running) throw new Error(`postgres exited:\n${postgres?.log}`);
      return fs.existsSync(path.join(dir, 'socket', `.s.PGSQL.${port}`)) ? true : undefined;
    }, Date.now() + 30_000, 200);
    if (up instanceof Error) throw up;
    run('pgbackrest', ['--stanza=timescaledb', 'stanza-create']);
  });

  afterAll(async () => {
    if (postgres) {
      postgres.signal('SIGINT');
      if (!(await postgres.waitForExit(15_000))) await postgres.stop(1000);
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('before any backup: the stanza reports "no valid backups" and no backup age is served', async () => {
    const scrapeBefore = await scrape(conf);
    expect(samples(scrapeBefore, TIMESCALEDB_METRICS.backupInfoStatus)).toEqual([{ name: TIMESCALEDB_METRICS.backupInfoStatus, labels: { stanza: 'timescaledb' }, value: 1 }]);
    expect(samples(scrapeBefore, TIMESCALEDB_METRICS.backupStanzaStatus)).toEqual([{ name: TIMESCALEDB_METRICS.backupStanzaStatus, labels: { stanza: 'timescaledb' }, value: 2 }]);
    expect(samples(scrapeBefore, TIMESCALEDB_METRICS.backupSinceLastCompletion)).toEqual([]);
  });

  it('after a full backup: its age by backup type (full counts for diff and incr too), stanza ok', async () => {
    run('pgbackrest', ['--stanza=timescaledb', '--type=full', 'backup']);
    const scrapeAfter = await scrape(conf);
    expect(samples(scrapeAfter, TIMESCALEDB_METRICS.backupStanzaStatus)[0].value).toBe(0);
    const ages = samples(scrapeAfter, TIMESCALEDB_METRICS.backupSinceLastCompletion);
    expect(ages.map((a) => a.labels).sort((a, b) => a.backup_type.localeCompare(b.backup_type))).toEqual(
      ['diff', 'full', 'incr'].map((type) => ({ backup_type: type, stanza: 'timescaledb' })));
    for (const age of ages) {
      expect(age.value).toBeGreaterThanOrEqual(0);
      expect(age.value).toBeLessThan(300);
    }
    // The alert's threshold is far above a fresh backup's age.
    const rule = objects.filter((o) => o.kind === 'PrometheusRule').flatMap((o) => o.spec.groups[0].rules)
      .filter(isAlertingRule).find((r: AlertingRule) => r.alert === 'NautilusDataStoreBackupTooOld')!;
    expect(rule.expr).toContain(`${TIMESCALEDB_METRICS.backupSinceLastCompletion}{`);
    expect(rule.expr).toContain('backup_type="full"');
  });

  it('a configuration pgBackRest rejects: pgbackrest_exporter_status 0 and no ages', async () => {
    const broken = path.join(dir, 'broken.conf');
    fs.writeFileSync(broken, `[global]\nrepo1-type=not-a-repository-type\n[timescaledb]\npg1-path=${dir}/data\n`);
    if (account) fs.chownSync(broken, account.uid, account.gid);
    const scrapeBroken = await scrape(broken);
    expect(samples(scrapeBroken, TIMESCALEDB_METRICS.backupInfoStatus)[0].value).toBe(0);
    expect(samples(scrapeBroken, TIMESCALEDB_METRICS.backupSinceLastCompletion)).toEqual([]);
  });
});
