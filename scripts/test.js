#!/usr/bin/env node
/**
 * Entry of `npm test` after `tsc --noEmit`: runs jest's three projects (jest.config.js) as three
 * lanes side by side, each one test file at a time: unit, control-plane (cluster tests on a
 * control plane with fake nodes) and real-node (cluster tests with real kubelets). It exits
 * non-zero when any lane fails. With arguments (`npm test -- <path or flags>`) it runs one plain
 * jest with them instead.
 *
 * Why side by side on two cores: most of the cluster tests' time is spent waiting (a control plane
 * or a kubelet starting, a rollout, an analysis window, a failover), and most of the unit
 * project's in local servers and compilers, so the lanes overlap well (one lane of real nodes
 * alone keeps the machine about a third busy). Each lane stays serial: the unit tests that run
 * engines on their manifests' own ports must take turns (see the README), and real nodes must not
 * overlap (each changes the machine's kernel settings); the cluster tests take every port they
 * use from the kernel, so the lanes never collide.
 *
 * On a cold cache the builds only a late test needs (the edge's programs) start at once in the
 * background at the lowest priority (see PREFETCH), so their compiling fills idle cores instead of
 * lengthening the longest lane.
 *
 * Each line of output is prefixed with its lane's project; the summary of every lane comes last.
 * Ctrl-C at a terminal reaches every jest process directly (same process group), which stop their
 * servers and nodes as usual; a SIGTERM sent to this process alone is passed on to them.
 * Plain JavaScript with Node's standard library only, like scripts/synth.js.
 */
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
/**
 * The lanes, each one jest process running its projects one test file at a time. On a cold cache
 * the control-plane lane is the longest (its binaries come first, then every test waits on them),
 * so the real-node lane's builds (the node's programs, which its first file builds in a hook of its
 * own) run below it: at niceness 15 instead of 10 (test/cluster/binaries.ts), taking the cores the
 * control plane's compiles leave. A build the control-plane lane then waits for is raised to its
 * priority (scripts/lib/kubernetes-build.sh).
 */
const LANES = [
  { projects: ['unit'], env: {} },
  { projects: ['control-plane'], env: {} },
  { projects: ['real-node'], env: { NAUTILUS_BUILD_NICENESS: '15' } },
];

/**
 * Cached builds a lane needs only late in a cold run (the edge's programs, about 19 minutes of
 * compiling on 2 cores), started at once in the background at the lowest priority: they take the
 * cores the lanes leave idle (a control plane starting, a rollout, a failover) instead of adding
 * their minutes to the end of the longest lane. The tests still run the same scripts: with the
 * cache complete those return at once, and while a prefetch holds a script's lock they wait for it
 * (and report a failure themselves). Nothing is started when every cache is complete.
 */
const PREFETCH = ['scripts/edge/build-cert-manager.sh', 'scripts/edge/build-pebble.sh', 'scripts/edge/build-traefik.sh', 'scripts/edge/build-vault.sh',
  'scripts/edge/build-external-secrets.sh'];

const args = process.argv.slice(2);
if (args.length > 0) {
  const child = childProcess.spawn(process.execPath, [JEST, ...args], { cwd: ROOT, stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  // The terminal's Ctrl-C reaches jest itself; this process only waits for it to finish.
  process.on('SIGINT', () => {});
} else {
  runSideBySide();
}

/** Starts the builds of PREFETCH whose cache is incomplete, one after the other; the child, or undefined. */
function startPrefetch() {
  const missing = PREFETCH.filter((script) => {
    const dir = childProcess.spawnSync('bash', [path.join(ROOT, script), '--print-dir'], { encoding: 'utf8' }).stdout.trim();
    return dir === '' || !fs.existsSync(path.join(dir, '.complete'));
  });
  if (missing.length === 0) return undefined;
  process.stderr.write(`npm test: building in the background, at the lowest priority: ${missing.join(', ')}\n`);
  const child = childProcess.spawn('nice', ['-n', '19', 'bash', '-c', 'for script; do bash "$script" >/dev/null 2>&1 || true; done', 'prefetch',
    ...missing.map((script) => path.join(ROOT, script))], { cwd: ROOT, detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

/** Stops a prefetch still running (its whole process group: the script and its compilers). */
function stopPrefetch(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

function runSideBySide() {
  const started = Date.now();
  const prefetch = startPrefetch();
  const runs = LANES.map(({ projects, env }) => {
    const project = projects.join('+');
    const child = childProcess.spawn(process.execPath, [JEST, '--selectProjects', ...projects, '--maxWorkers=1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Plain text: the two outputs are interleaved line by line.
      env: { ...process.env, ...env, FORCE_COLOR: '0' },
    });
    const summary = [];
    const prefix = `[${project}] `;
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.on('data', (chunk) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) {
          (stream === child.stdout ? process.stdout : process.stderr).write(`${prefix}${line}\n`);
          if (/^(Test Suites|Tests|Snapshots|Time):/.test(line)) summary.push(line);
        }
      });
      stream.on('end', () => {
        if (pending) (stream === child.stdout ? process.stdout : process.stderr).write(`${prefix}${pending}\n`);
      });
    }
    const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ project, code: signal ? 1 : code ?? 1, summary })));
    return { child, done };
  });
  process.on('SIGTERM', () => {
    stopPrefetch(prefetch);
    for (const { child } of runs) if (child.exitCode === null) child.kill('SIGTERM');
  });
  // The terminal's Ctrl-C reaches every jest process itself; this process only waits for them,
  // after stopping the prefetch (its own process group, which the terminal does not signal).
  process.on('SIGINT', () => stopPrefetch(prefetch));
  Promise.all(runs.map((run) => run.done)).then((results) => {
    process.stderr.write(`\nnpm test: the jest lanes finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    for (const { project, code, summary } of results) {
      process.stderr.write(`  ${project}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}\n${summary.map((line) => `    ${line}\n`).join('')}`);
    }
    stopPrefetch(prefetch);
    process.exit(results.every((result) => result.code === 0) ? 0 : 1);
  });
}
