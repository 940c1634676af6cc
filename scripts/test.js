#!/usr/bin/env node
/**
 * Entry of `npm test` after `tsc --noEmit`: runs jest's projects in two lanes side by side, each
 * one test file at a time: the unit and control-plane projects (the control-plane project: cluster
 * tests on a control plane with fake nodes, see jest.config.js) in one lane, the cluster project
 * (every real node, and more control planes) in the other. It exits non-zero when either lane fails. With arguments (`npm test --
 * <path or flags>`) it runs one plain jest with them instead.
 *
 * Why two processes: most of the cluster tests' time is spent waiting (a control plane or a
 * kubelet starting, a rollout, a failover), and most of the unit project's is spent in local
 * servers and compilers, so on two cores they overlap well; the control-plane tests fill the unit
 * lane, which would otherwise end long before the cluster lane. Each lane stays
 * serial, because the unit tests that run engines on their manifests' own ports must take turns
 * (see the README), and the cluster tests take every port they use from the kernel, so the two
 * lanes never collide.
 *
 * Each line of output is prefixed with its lane's projects; the summary of both comes last. Ctrl-C at a
 * terminal reaches both jest processes directly (same process group), which stop their servers and
 * nodes as usual; a SIGTERM sent to this process alone is passed on to both.
 * Plain JavaScript with Node's standard library only, like scripts/synth.js.
 */
'use strict';
const childProcess = require('child_process');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
/** The lanes, each one jest process running its projects one test file at a time. */
const LANES = [['unit', 'control-plane'], ['cluster']];

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

function runSideBySide() {
  const started = Date.now();
  const runs = LANES.map((projects) => {
    const project = projects.join('+');
    const child = childProcess.spawn(process.execPath, [JEST, '--selectProjects', ...projects, '--maxWorkers=1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Plain text: the two outputs are interleaved line by line.
      env: { ...process.env, FORCE_COLOR: '0' },
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
    for (const { child } of runs) if (child.exitCode === null) child.kill('SIGTERM');
  });
  // The terminal's Ctrl-C reaches both jest processes itself; this process only waits for them.
  process.on('SIGINT', () => {});
  Promise.all(runs.map((run) => run.done)).then((results) => {
    process.stderr.write(`\nnpm test: both jest lanes finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    for (const { project, code, summary } of results) {
      process.stderr.write(`  ${project}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}\n${summary.map((line) => `    ${line}\n`).join('')}`);
    }
    process.exit(results.every((result) => result.code === 0) ? 0 : 1);
  });
}
