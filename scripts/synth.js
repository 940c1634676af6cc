#!/usr/bin/env node
/**
 * Entry of `npm run synth` and `cdk8s synth` (cdk8s.yaml `app`): runs main.ts compiled, type-checked.
 *
 * The synthesis program (main.ts and everything it imports, as tsconfig.build.json defines it) is
 * compiled by `tsc` into `.cache/synth/<hash>/`, where <hash> covers the program's sources, the
 * TypeScript and JSON file names in every folder holding one (so an added file that could change
 * how an import resolves counts), the tsconfig files and package-lock.json. When nothing changed since the last build,
 * this costs a hash of about 1.6 MB and one `require` of the compiled main.js in this process: no
 * compiler, no second Node start. When something changed, `tsc` runs first (incrementally, seeded
 * with the last build); a type error fails synthesis like a configuration problem does, with the
 * compiler's lines, before anything is written.
 *
 * Safe by construction rather than by locking: a build is compiled in a private temporary folder
 * and renamed to its hash only when `tsc` succeeded, so a build folder is always complete; two
 * synths at once each compile and the second rename loses harmlessly; a build from another branch
 * or checkout has another hash; a compile interrupted by Ctrl-C leaves only a temporary folder,
 * removed by a later build. Sources edited while `tsc` ran are not recorded under a hash.
 *
 * Plain JavaScript (not TypeScript) because it is what starts before anything is compiled, and it
 * uses only Node's standard library so it starts in milliseconds.
 */
'use strict';
const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const BUILDS = path.join(ROOT, '.cache', 'synth');
const LATEST = path.join(BUILDS, 'latest');
const TSCONFIG = 'tsconfig.build.json';
/** Inputs of the compiled program besides its own sources (compiler options, compiler and library versions). */
const CONFIGURATION = ['tsconfig.json', TSCONFIG, 'package-lock.json'];
/** Recorded in each build: the program's sources and folders, relative to the repository. */
const SOURCES_FILE = 'sources.json';
const BUILD_INFO = 'program.tsbuildinfo';
/** Names of files an import could resolve to: one added beside the program's sources may shadow one. */
const RESOLVABLE = /\.(ts|tsx|json)$/;
/** Builds kept besides the latest, for a synth of another branch or one still loading a build. */
const KEEP = 3;

/** The hash of a program described by `sources` as it is now, or undefined when one is gone. */
function sourcesHash(sources) {
  const hash = crypto.createHash('sha256');
  try {
    for (const file of [...CONFIGURATION, ...sources.files]) {
      hash.update(`file ${file}\0`).update(fs.readFileSync(path.join(ROOT, file))).update('\0');
    }
    for (const folder of sources.folders) {
      const names = fs.readdirSync(path.join(ROOT, folder)).filter((name) => RESOLVABLE.test(name)).sort();
      hash.update(`folder ${folder}\0${names.join('\0')}\0`);
    }
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  }
  return hash.digest('hex').slice(0, 20);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

function readLatest() {
  try {
    return fs.readFileSync(LATEST, 'utf8').trim();
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Points `latest` at `name` (write and rename, so a reader sees the old name or the new one). */
function writeLatest(name) {
  const temporary = `${LATEST}.${process.pid}`;
  fs.writeFileSync(temporary, `${name}\n`);
  fs.renameSync(temporary, LATEST);
}

/** The complete build for the sources as they are now, found from the latest build's source list. */
function currentBuild() {
  const latest = readLatest();
  if (!latest) return undefined;
  const sources = readJson(path.join(BUILDS, latest, SOURCES_FILE));
  if (!sources) return undefined;
  const hash = sourcesHash(sources);
  if (!hash || !fs.existsSync(path.join(BUILDS, hash, SOURCES_FILE))) return undefined;
  if (hash !== latest) writeLatest(hash);
  return hash;
}

/** The folder of a build to seed an incremental compile with, if there is a complete one. */
function seedBuild() {
  const latest = readLatest();
  return latest && fs.existsSync(path.join(BUILDS, latest, SOURCES_FILE)) ? path.join(BUILDS, latest) : undefined;
}

/** The compiled output `tsc` writes for a program source (rootDir is the repository). */
function outputOf(file) {
  return file.endsWith('.json') ? file : file.replace(/\.tsx?$/, '.js');
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory()
    ? filesUnder(path.join(dir, entry.name), path.join(prefix, entry.name))
    : [path.join(prefix, entry.name)]));
}

/**
 * Runs `tsc` into `folder`. Returns the program's sources, or the compiler's error lines.
 * `--listFiles` prints every file of the program, one absolute path a line, beside any errors.
 */
function compile(folder) {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const result = childProcess.spawnSync(process.execPath, [tsc, '-p', TSCONFIG, '--outDir', folder,
    '--incremental', '--tsBuildInfoFile', path.join(folder, BUILD_INFO), '--pretty', 'false', '--listFiles'], {
    cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
  const listed = lines.filter((line) => path.isAbsolute(line) && fs.existsSync(line));
  if (result.status !== 0) {
    const errors = lines.filter((line) => !listed.includes(line));
    return { errors: errors.length > 0 ? errors : [`tsc exited with ${result.status ?? result.signal}`] };
  }
  const files = listed.map((file) => path.relative(ROOT, file))
    .filter((file) => !file.startsWith('..') && !file.split(path.sep).includes('node_modules') && !file.endsWith('.d.ts'))
    .map((file) => file.split(path.sep).join('/'))
    .sort();
  const folders = [...new Set(files.map((file) => path.posix.dirname(file)))].sort();
  return { sources: { files, folders } };
}

/**
 * Compiles the program into a new build folder and returns its name, or prints the type errors
 * and returns undefined.
 */
function build() {
  fs.mkdirSync(BUILDS, { recursive: true });
  const started = Date.now();
  const seed = seedBuild();
  const temporary = fs.mkdtempSync(path.join(BUILDS, `tmp-${process.pid}-`));
  let kept = false;
  try {
    if (seed) fs.cpSync(seed, temporary, { recursive: true });
    process.stderr.write(`compiling the synthesis program (${seed ? 'sources changed since the last build' : 'first build'})...\n`);
    let result = compile(temporary);
    if (result.sources && seed && !complete(temporary, result.sources)) {
      // A seed folder someone edited by hand: start again from nothing.
      fs.rmSync(temporary, { recursive: true, force: true });
      fs.mkdirSync(temporary);
      result = compile(temporary);
    }
    if (result.errors) {
      const count = result.errors.filter((line) => / error TS\d+:/.test(line)).length;
      process.stderr.write(`synthesis failed: the program does not compile (${count} type error${count === 1 ? '' : 's'}); nothing was written:\n`
        + result.errors.map((line) => `  ${line}\n`).join('')
        + 'Fix: correct the code at the lines above (`npx tsc --noEmit` reports the same).\n');
      return undefined;
    }
    const { sources } = result;
    const expected = new Set([...sources.files.map(outputOf), BUILD_INFO, SOURCES_FILE]);
    // Outputs of sources deleted since the seed build would otherwise stay loadable.
    for (const file of filesUnder(temporary)) {
      if (!expected.has(file.split(path.sep).join('/'))) fs.rmSync(path.join(temporary, file));
    }
    fs.writeFileSync(path.join(temporary, SOURCES_FILE), `${JSON.stringify(sources, null, 2)}\n`);
    const edited = sources.files.some((file) => fs.statSync(path.join(ROOT, file)).mtimeMs > started);
    const hash = sourcesHash(sources);
    if (edited || !hash) {
      // Compiled from sources that changed while tsc ran: run it this once, never record it.
      kept = true;
      return { folder: temporary, discard: true };
    }
    try {
      fs.renameSync(temporary, path.join(BUILDS, hash));
    } catch (error) {
      // Another synth published the same build first: it is complete, use it.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    }
    writeLatest(hash);
    removeOldBuilds(hash);
    return { folder: path.join(BUILDS, hash) };
  } finally {
    if (!kept) fs.rmSync(temporary, { recursive: true, force: true });
  }
}

/** Whether `folder` holds the compiled output of every source. */
function complete(folder, sources) {
  return sources.files.every((file) => fs.existsSync(path.join(folder, outputOf(file))));
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Removes temporary folders of compiles that were interrupted, and builds beyond the newest
 * KEEP besides `current` (by last use).
 */
function removeOldBuilds(current) {
  const entries = fs.readdirSync(BUILDS, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  for (const entry of entries) {
    const temporary = /^tmp-(\d+)-/.exec(entry.name);
    if (temporary && !isRunning(Number(temporary[1]))) fs.rmSync(path.join(BUILDS, entry.name), { recursive: true, force: true });
  }
  const builds = entries.filter((entry) => /^[0-9a-f]{20}$/.test(entry.name) && entry.name !== current)
    .map((entry) => ({ name: entry.name, used: fs.statSync(path.join(BUILDS, entry.name)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const old of builds.slice(KEEP)) fs.rmSync(path.join(BUILDS, old.name), { recursive: true, force: true });
}

/**
 * `cdk8s synth` with `output: dist` deletes dist/ (the link to the current build) before it runs
 * this launcher. When the program does not compile, dist/ is pointed back at the build it showed,
 * by the last compiled build's own publishing code (main.ts does the same for other failures).
 */
function restoreAfterCdk8sCli() {
  const outdir = process.env.CDK8S_OUTDIR;
  const dist = path.join(ROOT, 'dist');
  if (outdir === undefined || path.resolve(outdir) !== dist) return;
  const latest = readLatest();
  const publish = latest && path.join(BUILDS, latest, 'src', 'synth', 'publish.js');
  if (!publish || !fs.existsSync(publish)) return;
  const { restorePublished } = require(publish);
  if (typeof restorePublished === 'function' && restorePublished(dist)) {
    process.stderr.write('dist/ shows the previous synthesis again (the cdk8s CLI had removed it).\n');
  }
}

function main() {
  const cached = currentBuild();
  const found = cached ? { folder: path.join(BUILDS, cached) } : build();
  if (!found) {
    restoreAfterCdk8sCli();
    process.exitCode = 1;
    return;
  }
  if (!found.discard) {
    const now = new Date();
    fs.utimesSync(found.folder, now, now); // last use, for removeOldBuilds
  }
  try {
    // main.js synthesizes when loaded and sets process.exitCode.
    require(path.join(found.folder, 'main.js'));
  } finally {
    if (found.discard) fs.rmSync(found.folder, { recursive: true, force: true });
  }
}

main();
