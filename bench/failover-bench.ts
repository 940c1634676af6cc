/**
 * Time from a store member's disruption to writes acknowledged again, inside the cluster: runs
 * test/cluster/real-node-failover.test.ts (three real nodes, Redis with Sentinel and Patroni with
 * synchronous replication as pods) several times, one after the other (one real-node cluster at a
 * time on a machine), and collects the figures each run prints. Figures only, never asserted here
 * (the test asserts the behaviour: who is primary, that no acknowledged write is lost); they depend
 * on the machine and its load. Each run takes about 3.5 minutes with the caches warm.
 *
 *   npm run bench:failover                           three runs, print the table
 *   npm run bench:failover -- --runs 5 --record      five runs, also write bench/FAILOVER-RESULTS.md
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repeatTestFile } from './test-file-runs';

const TEST = 'test/cluster/real-node-failover.test.ts';
const RESULTS = path.join(__dirname, 'FAILOVER-RESULTS.md');

/** The figure lines the test prints, by column. */
const FIGURES = {
  redisPodDeleted: /Redis: primary pod deleted to a write acknowledged on the new primary: ([\d.]+) s \(([^;)]*)/,
  redisKilled: /Redis: server process killed \(SIGKILL\) to a write acknowledged again: ([\d.]+) s \(([^)]*)\)/,
  patroniPodDeleted: /TimescaleDB: leader pod deleted to the first commit acknowledged again: ([\d.]+) s \(([^)]*)\)/,
} as const;

type Figure = { readonly seconds: number; readonly detail: string };
type Run = Record<keyof typeof FIGURES, Figure> & { readonly wallSeconds: number };

/** The figures one run printed. */
function figures(output: string): Record<keyof typeof FIGURES, Figure> {
  return Object.fromEntries(Object.entries(FIGURES).map(([key, pattern]) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`it printed no figure matching ${pattern}`);
    return [key, { seconds: Number(match[1]), detail: match[2] }];
  })) as Record<keyof typeof FIGURES, Figure>;
}

function range(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0].toFixed(1)} to ${sorted[sorted.length - 1].toFixed(1)} s`;
}

function main(): void {
  const args = process.argv.slice(2);
  const results: Run[] = repeatTestFile(TEST, args, figures);
  const runs = results.length;
  const cell = (figure: Figure) => `${figure.seconds.toFixed(1)} s (${figure.detail})`;
  const table = [
    '# Store failover inside the cluster (bench/failover-bench.ts)',
    '',
    `${TEST} run ${runs} times on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}: three real nodes (a kubelet, containerd`,
    'and kube-proxy each) in three zones, Redis as three members with Sentinel (down-after 2 s) and TimescaleDB as three',
    'Patroni members with synchronous replication, all from the generated StatefulSets. Each figure runs from the',
    'disruption to the first write acknowledged again (Redis: `SET` then `WAIT 1` on the primary a client finds: the first Sentinel\'s answer, whose `ROLE` is master;',
    'TimescaleDB: an `INSERT` committed on the leader the role label names).',
    '',
    '| run | Redis: primary pod deleted | Redis: server process killed (SIGKILL) | TimescaleDB: leader pod deleted | whole test file |',
    '|---|---|---|---|---|',
    ...results.map((run, i) => `| ${i + 1} | ${cell(run.redisPodDeleted)} | ${cell(run.redisKilled)} | ${cell(run.patroniPodDeleted)} | ${run.wallSeconds.toFixed(0)} s |`),
    '',
    `Redis, pod deleted: ${range(results.map((r) => r.redisPodDeleted.seconds))} (goal: under 5 s); server killed: ${range(results.map((r) => r.redisKilled.seconds))};`,
    `TimescaleDB, pod deleted: ${range(results.map((r) => r.patroniPodDeleted.seconds))} (goal: under 30 s).`,
    'A deleted pod stops gracefully: the generated pre-stop hook hands the Redis primary role over through Sentinel, and',
    'Patroni demotes its PostgreSQL and gives up the leader key on SIGTERM, so neither waits for a timeout. A killed',
    'Redis server is restarted by the kubelet, usually before Sentinel\'s 2 s down-after, and stays primary. For the same',
    'servers as local processes (a SIGKILL, so a timeout: Sentinel\'s down-after, Patroni\'s 20 s leader TTL) see the',
    'README\'s failover tables.',
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (args.includes('--record')) fs.writeFileSync(RESULTS, table);
}

main();
