/**
 * Redis round trip with the generated configuration: a real redis-server (Debian's) started from
 * prod's redis.conf (data directory, bind address and the included password file remapped for
 * one machine, as in test/store-configuration.test.ts), measured two ways:
 *   - redis-benchmark, one client, no pipelining: PING and SET, its p50/p99 (ms);
 *   - the engine runtime's own client (ioredis, configured by src/engines/runtime/clients.ts):
 *     sequential PINGs timed with process.hrtime, p50/p99/p99.9 (µs).
 * Figures only, never asserted: they depend on the machine and its load.
 *
 *   npm run bench:redis              print the table
 *   npm run bench:redis -- --record  also write bench/REDIS-RESULTS.md
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PLATFORM_DATA_STORES } from '../src/catalog/data-stores';
import { redisConf } from '../src/constructs/redis-configuration';
import { createRedisClient } from '../src/engines/runtime/clients';
import { PROD } from '../src/environments/platform-environments';
import { planDataStore } from '../src/planning/plan';
import { onPath } from '../test/contract/data-stores';
import { ManagedProcess, freePort, poll } from '../test/contract/processes';

const PASSWORD = 'bench-password';
const REQUESTS = 50_000;
const CLIENT_PINGS = 20_000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const server = onPath('redis-server');
  const benchmark = onPath('redis-benchmark');
  if (!server || !benchmark) throw new Error('redis-server/redis-benchmark not found: bash scripts/install-test-services.sh');
  const plan = planDataStore(PLATFORM_DATA_STORES.redis, PROD);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nautilus-redis-bench-'));
  const port = await freePort();
  const rendered = path.join(dir, 'rendered.conf');
  fs.writeFileSync(rendered, `requirepass "${PASSWORD}"\n`);
  // Replication settings off: a lone primary with min-replicas-to-write would refuse writes.
  const conf = redisConf(plan.memory, port, false)
    .replace(/^bind .*$/m, 'bind 127.0.0.1')
    .replace(/^dir .*$/m, `dir ${dir}`)
    .replace(/^include .*$/m, `include ${rendered}`);
  fs.writeFileSync(path.join(dir, 'redis.conf'), conf);
  const redis = new ManagedProcess('redis', server, [path.join(dir, 'redis.conf')], {});
  try {
    const client = createRedisClient({ host: '127.0.0.1', port, password: PASSWORD }, 'bench');
    client.on('error', () => undefined);
    const up = await poll(async () => (client.status === 'ready' ? true : undefined), Date.now() + 15_000);
    if (up instanceof Error) throw new Error(`redis-server did not start:\n${redis.log}`);

    const rows: string[] = [];
    for (const test of ['ping_mbulk', 'set']) {
      // A throwaway password for a local server: redis-benchmark reads it from argv only.
      const csv = execFileSync(benchmark, ['-h', '127.0.0.1', '-p', String(port), '-a', PASSWORD, '-c', '1', '-n', String(REQUESTS), '-t', test, '--csv'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const [header, values] = csv.trim().split('\n').map((line) => line.split(',').map((cell) => cell.replace(/"/g, '')));
      const field = (name: string) => values[header.indexOf(name)];
      rows.push(`| redis-benchmark ${values[0]} (1 client, ${REQUESTS} requests) | ${field('p50_latency_ms')} ms | ${field('p99_latency_ms')} ms | ${field('max_latency_ms')} ms |`);
    }

    for (let i = 0; i < 2000; i++) await client.ping(); // warm-up: JIT and connection
    const samples: number[] = [];
    for (let i = 0; i < CLIENT_PINGS; i++) {
      const started = process.hrtime.bigint();
      await client.ping();
      samples.push(Number(process.hrtime.bigint() - started) / 1000);
    }
    client.disconnect();
    samples.sort((a, b) => a - b);
    const us = (value: number) => `${value.toFixed(1)} µs`;
    rows.push(`| runtime client (ioredis) PING, sequential, ${CLIENT_PINGS} | ${us(percentile(samples, 50))} | ${us(percentile(samples, 99))} | ${us(percentile(samples, 99.9))} (p99.9) |`);

    const table = [
      `Redis round trip on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, loopback, prod's redis.conf, Redis ${execFileSync(server, ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?'}`,
      '',
      '| measurement | p50 | p99 | max |',
      '|---|---|---|---|',
      ...rows,
      '',
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (process.argv.includes('--record')) fs.writeFileSync(path.join(__dirname, 'REDIS-RESULTS.md'), `# Redis latency (bench/redis-latency.ts)\n\n${table}`);
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
