import { ChildProcess, SpawnOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from 'net';
import { request } from 'http';

/** A child process with its output kept for failure messages. */
export class ManagedProcess {
  public readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';

  constructor(public readonly label: string, command: string, args: readonly string[], options: SpawnOptions) {
    if (options.uid !== undefined) {
      // A process started as another user (the pod's uid) that cannot read what it runs exits at
      // once, and the test would only see it never become ready: say why before starting it.
      // The program (when named by its path), the files named by absolute paths, the directory.
      const unreadable = [...[command, ...args].filter((arg) => path.isAbsolute(arg) && fs.existsSync(arg)), ...(options.cwd ? [String(options.cwd)] : [])]
        .map((file) => accessProblem(file, options.uid!, options.gid ?? options.uid!))
        .find((problem) => problem !== undefined);
      if (unreadable) {
        throw new Error(`${label} runs as uid ${options.uid} (the pod's user), which ${unreadable}. ` +
          'Fix: let other users enter and read the checkout (chmod o+rx on it and each directory above it; mktemp -d makes 0700 directories), or clone it under a directory they can enter');
      }
    }
    this.child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    LIVE.add(this);
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => { keep(Buffer.from(`spawn failed: ${error.message}\n`)); LIVE.delete(this); resolve({ code: -1, signal: null }); });
      this.child.once('exit', (code, signal) => { LIVE.delete(this); resolve({ code, signal }); });
    });
  }

  private readonly child: ChildProcess;

  /** Everything it wrote to stdout and stderr so far. */
  public get log(): string {
    return this.output;
  }

  /** Whether it is still running. */
  public get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Writes to its stdin and closes it. */
  public input(text: string): void {
    this.child.stdin?.end(text);
  }

  /** Sends a signal (if it still runs). */
  public signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits for exit up to `ms`; undefined on timeout. */
  public async waitForExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return result;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  public async stop(graceMs = 5000): Promise<void> {
    this.signal('SIGTERM');
    if (!(await this.waitForExit(graceMs))) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}

const LIVE = new Set<ManagedProcess>();

/** Kills every process the test started that is still running (afterAll and crash safety net). */
export function killAll(): void {
  for (const process of LIVE) process.signal('SIGKILL');
}
process.once('exit', killAll);

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:`port` (checked by binding it). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, () => server.close(() => resolve(false)));
  });
}

/** The answer to one HTTP request. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One GET on a fresh connection, as the kubelet probes; rejects on connection errors and timeout. */
export function httpGet(port: number, path: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'User-Agent': 'kube-probe/1.27' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on port ${port}: no answer in ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Thrown by a {@link poll} attempt to stop polling at once (waiting longer cannot help). */
export class StopPolling extends Error {}

/**
 * Polls `attempt` every `intervalMs` until it returns a value or `deadline` passes (then returns
 * the last error); an attempt throwing {@link StopPolling} ends it early.
 */
export async function poll<T>(attempt: () => Promise<T | undefined>, deadline: number, intervalMs = 100): Promise<T | Error> {
  let last: Error = new Error('never attempted');
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
      last = new Error('condition not met');
    } catch (error) {
      if (error instanceof StopPolling) return error;
      last = error as Error;
    }
    if (Date.now() >= deadline) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Why `uid`/`gid` could not read `file` (enter it, for a directory): the first directory on the
 * way that it may not enter, or the file it may not read, with the mode and owner found there.
 * Checks the permission bits as the kernel does for a user with no supplementary groups (and no
 * capabilities); undefined when nothing is in the way.
 */
export function accessProblem(file: string, uid: number, gid: number): string | undefined {
  const allowed = (stats: fs.Stats, bit: number) =>
    (stats.uid === uid ? (stats.mode >> 6) & bit : stats.gid === gid ? (stats.mode >> 3) & bit : stats.mode & bit) !== 0;
  const describe = (target: string, stats: fs.Stats) => `${target} (mode ${(stats.mode & 0o777).toString(8).padStart(3, '0')}, owner uid ${stats.uid} gid ${stats.gid})`;
  const absolute = path.resolve(file);
  const parts = absolute.split(path.sep).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    const stats = fs.statSync(dir);
    if (!allowed(stats, 0o1)) return `cannot enter ${describe(dir, stats)} on the way to ${absolute}`;
  }
  const stats = fs.statSync(absolute);
  if (stats.isDirectory()) return allowed(stats, 0o1) ? undefined : `cannot enter ${describe(absolute, stats)}`;
  return allowed(stats, 0o4) ? undefined : `cannot read ${describe(absolute, stats)}`;
}
