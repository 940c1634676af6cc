/**
 * Time from load start to the first scale-out, on the real node: runs
 * test/cluster/real-node-autoscaling.test.ts (metrics-server, dev with autoscaling, real HTTP load
 * on frontend and smart-order-router) several times, one after the other (one real node at a time
 * on a machine), and collects the figures each run prints: seconds from load start to each
 * Deployment's first scale-out, the CPU utilization the HPA read at that sync, the requests
 * answered, and how long after the load stopped the scale-down was seen held back. Figures only,
 * never asserted here (the test asserts the behaviour); they depend on the machine and its load.
 * Each run takes about 2 minutes with the caches warm.
 *
 *   npm run bench:autoscaling                           three runs, print the table
 *   npm run bench:autoscaling -- --runs 5 --record      five runs, also write bench/AUTOSCALING-RESULTS.md
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { METRICS_RESOLUTION_SECONDS, METRICS_SERVER_VERSION } from '../test/cluster/metrics-server';
import { repeatTestFile } from './test-file-runs';

const TEST = 'test/cluster/real-node-autoscaling.test.ts';
const RESULTS = path.join(__dirname, 'AUTOSCALING-RESULTS.md');

interface Run {
  readonly scaleOut: ReadonlyArray<{ engine: string; seconds: number; from: number; to: number; cpu: string }>;
  readonly answered: number;
  readonly loadSeconds: number;
  readonly heldAfter: number;
  readonly wallSeconds: number;
}

/** The figures one run printed. */
function figures(output: string): Omit<Run, 'wallSeconds'> {
  const scaleOutLine = /autoscaling on real load: first scale-out after (.*) from load start/.exec(output)?.[1];
  const heldLine = /autoscaling on real load: (\d+) requests answered in ([\d.]+) s .*; ([\d.]+) s after the load stopped/.exec(output);
  if (!scaleOutLine || !heldLine) throw new Error('it printed no figures');
  const scaleOut = [...scaleOutLine.matchAll(/([a-z-]+) ([\d.]+) s \((\d+) -> (\d+), CPU (\S+)% of request\)/g)]
    .map((m) => ({ engine: m[1], seconds: Number(m[2]), from: Number(m[3]), to: Number(m[4]), cpu: m[5] }));
  return { scaleOut, answered: Number(heldLine[1]), loadSeconds: Number(heldLine[2]), heldAfter: Number(heldLine[3]) };
}

function main(): void {
  const args = process.argv.slice(2);
  const results: Run[] = repeatTestFile(TEST, args, figures);
  const runs = results.length;
  const rows = results.map((run, i) => `| ${i + 1} | ${run.scaleOut.map((s) => `${s.engine} ${s.seconds.toFixed(1)} s (${s.from} → ${s.to}, CPU ${s.cpu} % of request)`).join('; ')} `
    + `| ${run.answered} in ${run.loadSeconds.toFixed(1)} s (${Math.round(run.answered / run.loadSeconds)}/s) | ${run.heldAfter.toFixed(1)} s | ${run.wallSeconds.toFixed(0)} s |`);
  const firsts = results.flatMap((run) => run.scaleOut.map((s) => s.seconds)).sort((a, b) => a - b);
  const table = [
    `# Autoscaling on real load (bench/autoscaling-bench.ts)`,
    '',
    `${TEST} run ${runs} times on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}: metrics-server ${METRICS_SERVER_VERSION} scraping the kubelet every ${METRICS_RESOLUTION_SECONDS} s,`,
    'kube-controller-manager\'s HPA sync every 2 s, the generated HPAs of frontend (CPU) and smart-order-router (CPU and',
    '`requests_per_second`, unreadable here) with the pod-network tiers\' behavior, staging\'s replica bounds (2 to 3).',
    '',
    '| run | first scale-out after load start | requests answered | scale-down seen held back after the load stopped | whole test file |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `First scale-out: ${firsts[0].toFixed(1)} to ${firsts[firsts.length - 1].toFixed(1)} s over ${firsts.length} Deployments. What sets it is metrics-server's`,
    `resolution (the HPA sees the load once a kubelet scrape taken under load is rated against the one before) and the HPA`,
    'sync period; with upstream\'s defaults (60 s and 15 s) expect up to about 75 s. Held back: frontend\'s HPA',
    '`ScaleDownStabilized` (the tier\'s 10-minute window),',
    'smart-order-router\'s `ScalingActive=False FailedGetPodsMetric` (no lower count while a metric is missing).',
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (args.includes('--record')) fs.writeFileSync(RESULTS, table);
}

main();
