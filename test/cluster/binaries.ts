import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Where the pinned control-plane binaries and kwok stage files live. */
export interface ControlPlaneBinaries {
  /** Cache directory for this exact version set, e.g. `<cache>/control-plane/k8s-v1.36.3_etcd-v3.6.16_kwok-v0.8.0`. */
  readonly dir: string;
  /** Directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok. */
  readonly binDir: string;
  /** Directory holding the kwok Stage files (node-initialize.yaml, pod-ready.yaml, ...). */
  readonly stagesDir: string;
}

/** The build script; it owns the version pins and the cache layout. */
export const BUILD_SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'control-plane', 'build.sh');

/** Written by build.sh as the last step, so its presence means the cache is complete. */
const STAMP_FILE = '.complete';

function layoutOf(dir: string): ControlPlaneBinaries {
  return { dir, binDir: path.join(dir, 'bin'), stagesDir: path.join(dir, 'stages') };
}

/**
 * Returns the control-plane binaries, building them first with build.sh when the
 * cache is missing. A cold build compiles Kubernetes from source (about five
 * minutes on 2 cores); its progress is streamed to stderr so a first `npm test`
 * does not look hung.
 */
export function ensureControlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  return ensureCachedBuild(BUILD_SCRIPT, 'control-plane binaries').then(layoutOf);
}

/**
 * The niceness cached builds run at (see ensureCachedBuild): 10, or NAUTILUS_BUILD_NICENESS, which
 * `npm test` sets higher for the lane that is not the longest on a cold cache (scripts/test.js).
 */
const BUILD_NICENESS = Number(process.env.NAUTILUS_BUILD_NICENESS ?? 10);

const pendingBuilds = new Map<string, Promise<string>>();

/**
 * Runs a cache-building script of the same contract as build.sh (`--print-dir` prints the cache
 * directory; without arguments it builds what is missing, with progress on stderr, and writes
 * `.complete` last) and resolves with the directory once it is complete.
 */
export function ensureCachedBuild(script: string, what: string): Promise<string> {
  const printed = spawnSync('bash', [script, '--print-dir'], { encoding: 'utf8' });
  if (printed.status !== 0) return Promise.reject(new Error(`${script} --print-dir failed (exit ${printed.status}): ${printed.stderr}`));
  const dir = printed.stdout.trim();
  if (fs.existsSync(path.join(dir, STAMP_FILE))) return Promise.resolve(dir);
  let pendingBuild = pendingBuilds.get(script);
  if (!pendingBuild) {
    pendingBuild = new Promise<string>((resolve, reject) => {
      process.stderr.write(`${what} missing from ${dir}; building them now\n`);
      // At a lower priority: a cold cache's compiles run beside the other lanes' tests, whose
      // timing-sensitive parts (a release's latency analysis, a failover's clock) must not starve.
      const child = spawn('nice', ['-n', String(BUILD_NICENESS), 'bash', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        pendingBuilds.delete(script);
        if (code === 0 && fs.existsSync(path.join(dir, STAMP_FILE))) resolve(dir);
        else reject(new Error(`${script} failed (exit ${code ?? signal}); see its output above. Run it by hand to retry.`));
      });
    });
    pendingBuilds.set(script, pendingBuild);
  }
  return pendingBuild;
}
