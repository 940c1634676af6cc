import * as fs from 'fs';
import * as path from 'path';

/** Folder beside the published directory that holds its builds (the current one and the one before). */
export function buildsFolder(target: string): string {
  return path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}-builds`);
}

/**
 * A new, empty build folder for `target`, readable by everyone (0755: `mkdtemp` makes 0700, which
 * would leave the manifests unreadable to a CI user or a deploy tool running as another user).
 */
export function newBuild(target: string): string {
  const builds = buildsFolder(target);
  fs.mkdirSync(builds, { recursive: true, mode: 0o755 });
  // The process id in the name tells a later publish whether the build may still be in progress.
  const build = fs.mkdtempSync(path.join(builds, `build-${process.pid}-`));
  fs.chmodSync(build, 0o755);
  return build;
}

/**
 * Makes `build` what `target` shows, with no moment at which `target` is missing or half-written:
 * `target` is a symbolic link to the build, and a new link is renamed over it (rename(2) replaces
 * atomically). Readers see the old tree or the new one, never neither. The build it replaces is
 * kept until the next publish, so a reader that resolved the old link a moment before can still
 * finish reading it; older ones are removed, except those of another process still running (a
 * synthesis started at the same time may be writing its build). A `target` that is still a real directory (before the
 * first publish) is moved aside once, the only time the swap is not atomic.
 */
export function publishBuild(build: string, target: string): void {
  const absoluteTarget = path.resolve(target);
  const link = `${build}.link`;
  fs.symlinkSync(path.relative(path.dirname(absoluteTarget), build), link, 'dir');
  const existing = fs.lstatSync(absoluteTarget, { throwIfNoEntry: false });
  let previous: string | undefined;
  if (existing?.isSymbolicLink()) {
    previous = path.resolve(path.dirname(absoluteTarget), fs.readlinkSync(absoluteTarget));
  } else if (existing) {
    previous = `${build}.replaced`;
    fs.renameSync(absoluteTarget, previous);
  }
  fs.renameSync(link, absoluteTarget);
  const builds = buildsFolder(target);
  for (const entry of fs.readdirSync(builds)) {
    const other = path.join(builds, entry);
    if (other !== build && other !== previous && !ofAnotherRunningProcess(entry)) fs.rmSync(other, { recursive: true, force: true });
  }
}

/** Whether a build folder's name (`build-<pid>-…`) names a running process other than this one. */
function ofAnotherRunningProcess(name: string): boolean {
  const pid = /^build-(\d+)-/.exec(name)?.[1];
  if (pid === undefined || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Points a missing `target` back at the last published build: the cdk8s CLI deletes its output
 * folder (the `dist` link, not the builds) before it runs synthesis, so without this a failed
 * `cdk8s synth` would leave no `target`. The last published build is the most recently finished
 * one (the newest folder not still being written by a running synthesis). Returns whether it
 * restored one.
 */
export function restorePublished(target: string): boolean {
  const absoluteTarget = path.resolve(target);
  if (fs.lstatSync(absoluteTarget, { throwIfNoEntry: false })) return false;
  const builds = buildsFolder(target);
  if (!fs.existsSync(builds)) return false;
  const latest = fs.readdirSync(builds, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^build-\d+-[^.]+$/.test(entry.name) && !ofAnotherRunningProcess(entry.name))
    .map((entry) => ({ build: path.join(builds, entry.name), finished: fs.statSync(path.join(builds, entry.name)).mtimeMs }))
    .sort((a, b) => b.finished - a.finished)[0];
  if (!latest) return false;
  const link = `${latest.build}.restored-${process.pid}`;
  fs.symlinkSync(path.relative(path.dirname(absoluteTarget), latest.build), link, 'dir');
  fs.renameSync(link, absoluteTarget);
  return true;
}

/** Removes a build that failed, leaving the published one untouched. */
export function discardBuild(build: string): void {
  fs.rmSync(build, { recursive: true, force: true });
  fs.rmSync(`${build}.link`, { force: true });
}
