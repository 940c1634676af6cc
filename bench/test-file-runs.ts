import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

/** One run of a test file: what it printed, and how long it took. */
export interface TestFileRun {
  readonly output: string;
  readonly wallSeconds: number;
}

/**
 * Runs the jest test file `test` (relative to the repository) as many times as `--runs N` in
 * `args` says (3 by default), one run after the other, each in a jest process of its own, and
 * reads each run's figures with `figures` (which throws when a figure is missing). Throws with
 * the end of the output when a run fails: the benchmarks that use it take their figures from
 * tests that assert the behaviour.
 */
export function repeatTestFile<T>(test: string, args: readonly string[], figures: (output: string) => T): Array<T & { wallSeconds: number }> {
  const runsIndex = args.indexOf('--runs');
  const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number of at least 1, got ${args[runsIndex + 1]}`);
  const results: Array<T & { wallSeconds: number }> = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`run ${i + 1} of ${runs} ...\n`);
    const started = Date.now();
    const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), test], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const wallSeconds = (Date.now() - started) / 1000;
    const output = `${result.stdout}\n${result.stderr}`;
    if (result.status !== 0) throw new Error(`${test} failed (exit ${result.status}):\n${output.slice(-4000)}`);
    try {
      results.push({ ...figures(output), wallSeconds });
    } catch (error) {
      throw new Error(`${test} passed but ${error instanceof Error ? error.message : String(error)}:\n${output.slice(-4000)}`);
    }
  }
  return results;
}
