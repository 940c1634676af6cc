#!/usr/bin/env node
/**
 * `nautilus <command> <env>`: runs the deploy tool (src/deploy/cli.ts) as one bundled file.
 *
 * Why a bundle: @kubernetes/client-node is published as about a thousand ES modules, which Node
 * takes 1.5 to 2 s to load one by one, and running the tool's TypeScript through tsx at every start
 * costs as much again (3.5 s for `--help`). esbuild bundles the tool and its dependencies into one
 * CommonJS file in under half a second, and that file starts in about 0.15 s.
 *
 * The bundle is kept in .cache/nautilus/<hash>.js. <hash> covers the tool's own sources (the
 * project files esbuild read for the last bundle), the names of the files beside them (a new file
 * can change how an import resolves), package-lock.json, the tsconfig files, this launcher and the
 * checkout's path, so
 * an unchanged checkout reuses it and an edited source is bundled again. A bundle is written to a
 * temporary file and renamed into place, so two starts at once never load half a file. Before a
 * bundle is made the tool is type-checked (`tsc -p tsconfig.deploy.json`, incremental): a type
 * error stops it with the compiler's lines, as it stops synthesis, and nothing runs.
 *
 * Plain JavaScript with Node's standard library and esbuild only, like scripts/synth.js.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const CACHE = path.join(ROOT, '.cache', 'nautilus');
const LATEST = path.join(CACHE, 'latest.json');
/** Bundles kept besides the current one (by last use), for switching branches back and forth. */
const KEEP = 3;
const ENTRY_NAME = '<nautilus entry>';
const ENTRY = [
  "const { runCli, processIo } = require('./src/deploy/cli');",
  'runCli(process.argv.slice(2), processIo()).then((code) => { process.exitCode = code; });',
].join('\n');

/** The hash of the tool's sources as `inputs` lists them, or undefined when one is gone. */
function sourcesHash(inputs) {
  const hash = crypto.createHash('sha256');
  hash.update(`${ROOT}\n`);
  for (const file of [...inputs, 'package-lock.json', 'bin/nautilus.js', 'tsconfig.json', 'tsconfig.deploy.json']) {
    let content;
    try {
      content = fs.readFileSync(path.join(ROOT, file));
    } catch {
      return undefined;
    }
    hash.update(`${file}\n${content.length}\n`).update(content);
  }
  for (const folder of [...new Set(inputs.map((file) => path.posix.dirname(file)))].sort()) {
    let names;
    try {
      names = fs.readdirSync(path.join(ROOT, folder)).sort();
    } catch {
      return undefined;
    }
    hash.update(`${folder}/\n${names.join('\n')}\n`);
  }
  return hash.digest('hex').slice(0, 20);
}

/** The bundle of the current sources, if it was made already. */
function currentBundle() {
  let latest;
  try {
    latest = JSON.parse(fs.readFileSync(LATEST, 'utf8'));
  } catch {
    return undefined;
  }
  const hash = Array.isArray(latest.inputs) ? sourcesHash(latest.inputs) : undefined;
  const file = hash && path.join(CACHE, `${hash}.js`);
  return file && fs.existsSync(file) ? file : undefined;
}

/** Type-checks the tool; returns the compiler's error lines (none when it compiles). */
function typeErrors() {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const result = require('child_process').spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.deploy.json'), '--pretty', 'false'], {
    cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result.status === 0 ? [] : `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
}

/** Bundles the tool; returns the bundle's path, or undefined after printing the errors. */
function bundle() {
  const esbuild = require('esbuild');
  fs.mkdirSync(CACHE, { recursive: true });
  process.stderr.write('nautilus: type-checking and bundling the tool (first start, or its sources changed)...\n');
  const errors = typeErrors();
  if (errors.length > 0) {
    const count = errors.filter((line) => / error TS\d+:/.test(line)).length;
    process.stderr.write(`nautilus: the tool does not compile (${count} type error${count === 1 ? '' : 's'}); nothing was run:\n`
      + errors.map((line) => `  ${line}\n`).join('')
      + 'Fix: correct the code at the lines above (`npx tsc --noEmit` reports the same).\n');
    return undefined;
  }
  const temporary = path.join(CACHE, `tmp-${process.pid}-${Date.now()}.js`);
  let result;
  try {
    result = esbuild.buildSync({
      stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: ENTRY_NAME, loader: 'js' },
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: temporary,
      metafile: true,
      logLevel: 'silent',
      // The tool finds the repository (dist/, package.json) from its own folder.
      define: { __dirname: JSON.stringify(path.join(ROOT, 'src', 'deploy')) },
    });
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    process.stderr.write(`nautilus: bundling src/deploy/cli.ts failed:\n${(error.errors ?? [error]).map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text ?? e.message}\n`).join('')}`);
    return undefined;
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((file) => file !== ENTRY_NAME && !file.split('/').includes('node_modules') && !path.isAbsolute(file) && !file.startsWith('..'))
    .sort();
  const hash = sourcesHash(inputs);
  if (!hash) return temporary; // a source vanished while bundling: run this bundle once, keep nothing
  const file = path.join(CACHE, `${hash}.js`);
  fs.renameSync(temporary, file);
  const latest = `${LATEST}.${process.pid}`;
  fs.writeFileSync(latest, `${JSON.stringify({ hash, inputs }, null, 2)}\n`);
  fs.renameSync(latest, LATEST);
  removeOldBundles(file);
  return file;
}

/** Removes bundles beyond the newest KEEP besides `current`, and temporary files of dead starts. */
function removeOldBundles(current) {
  const entries = fs.readdirSync(CACHE).filter((name) => name.endsWith('.js') && path.join(CACHE, name) !== current);
  for (const name of entries.filter((n) => n.startsWith('tmp-'))) {
    const pid = Number(name.split('-')[1]);
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (error.code === 'ESRCH') fs.rmSync(path.join(CACHE, name), { force: true });
    }
  }
  const bundles = entries.filter((name) => /^[0-9a-f]{20}\.js$/.test(name))
    .map((name) => ({ name, used: fs.statSync(path.join(CACHE, name)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const old of bundles.slice(KEEP)) fs.rmSync(path.join(CACHE, old.name), { force: true });
}

const file = currentBundle() ?? bundle();
if (file) {
  const now = new Date();
  fs.utimesSync(file, now, now); // last use, for removeOldBundles
  require(file);
} else {
  process.exitCode = 1;
}
