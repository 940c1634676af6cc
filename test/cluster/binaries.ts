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

/** The cache directory build.sh uses for the pinned versions (it may not exist yet). */
export function controlPlaneCacheDir(): string {
  const result = spawnSync('bash', [BUILD_SCRIPT, '--print-dir'], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${BUILD_SCRIPT} --print-dir failed (exit ${result.status}): ${result.stderr}`);
  }
  return result.stdout.trim();
}

function layoutOf(dir: string): ControlPlaneBinaries {
  return { dir, binDir: path.join(dir, 'bin'), stagesDir: path.join(dir, 'stages') };
}

let pending: Promise<ControlPlaneBinaries> | undefined;

/**
 * Returns the control-plane binaries, building them first with build.sh when the
 * cache is missing. A cold build compiles Kubernetes from source (tens of
 * minutes on 2 cores); its progress is streamed to stderr so a first `npm test`
 * does not look hung.
 */
export function ensureControlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  const dir = controlPlaneCacheDir();
  if (fs.existsSync(path.join(dir, STAMP_FILE))) {
    return Promise.resolve(layoutOf(dir));
  }
  pending ??= new Promise<ControlPlaneBinaries>((resolve, reject) => {
    process.stderr.write(`control-plane binaries missing from ${dir}; building them now (a cold build takes tens of minutes)\n`);
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && fs.existsSync(path.join(dir, STAMP_FILE))) {
        resolve(layoutOf(dir));
      } else {
        pending = undefined;
        reject(new Error(`${BUILD_SCRIPT} failed (exit ${code ?? signal}); see its output above. Run it by hand to retry.`));
      }
    });
  });
  return pending;
}
