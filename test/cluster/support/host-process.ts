/**
 * A program the cluster tests run on this machine beside a control plane, the way a controller runs
 * in a cluster: the Argo Rollouts controller, cert-manager's controller, the External Secrets
 * Operator, a Vault server. Each leads its own process group (a signal to the group also reaches
 * what it forks), writes its output to a log in its own directory, and has a detached watchdog that
 * kills the group and removes the directory if the test process disappears without running its
 * exit handlers (SIGKILL, a jest worker torn down), as the control plane's does.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { killOnExit, startWatchdog } from './process-guard';

/** How long a stopped process is given between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** Host processes that must die with this process. */
const live = new Set<HostProcess>();
let exitHandlersInstalled = false;

export class HostProcess {
  readonly logPath: string;
  private child?: ChildProcess;
  private exit?: string;
  private exited?: Promise<void>;
  private readonly groupFile: string;
  private readonly watchdog: ChildProcess;
  private stopping?: Promise<void>;

  /**
   * @param name the program's name, for its log file (`<name>.log`), the watchdog and messages
   * @param workDir its own directory (its working directory and HOME), removed on stop unless kept
   * @param env variables it is given besides PATH and HOME: nothing else of this machine's
   *   environment (a KUBECONFIG, an in-cluster service host, a VAULT_ADDR) reaches it
   */
  constructor(readonly name: string, readonly workDir: string, private readonly keepWorkDir: boolean, private readonly env: Readonly<Record<string, string>> = {}) {
    this.logPath = path.join(workDir, `${name}.log`);
    this.groupFile = path.join(workDir, 'process-group');
    fs.writeFileSync(this.groupFile, '');
    this.watchdog = startWatchdog(`${name}-watchdog`, this.groupFile, keepWorkDir ? '' : workDir);
    live.add(this);
    if (!exitHandlersInstalled) {
      exitHandlersInstalled = true;
      killOnExit(() => {
        for (const process of live) process.killNow();
        live.clear();
      });
    }
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  start(binary: string, args: readonly string[]): void {
    const logFd = fs.openSync(this.logPath, 'a');
    fs.writeSync(logFd, `$ ${binary} ${args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(binary, args, {
        cwd: this.workDir,
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.workDir, ...this.env },
      });
    } finally {
      fs.closeSync(logFd);
    }
    if (child.pid === undefined) throw new Error(`could not start ${binary}; is the cache intact?`);
    this.child = child;
    this.exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => {
      this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve();
    }));
    child.on('error', (error) => { this.exit ??= `failed to spawn: ${error.message}`; });
    fs.appendFileSync(this.groupFile, `${child.pid}\n`);
  }

  log(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Polls `check` until it is true; fails early if the process exits, or at the deadline. */
  async waitFor(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
    let lastError = '';
    for (;;) {
      if (this.exit !== undefined) throw new Error(`${this.name} ${this.exit} while waiting for ${what}`);
      try {
        if (await check()) return;
        lastError = '';
      } catch (error) {
        lastError = messageOf(error);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
      await sleep(200);
    }
  }

  /** SIGTERM to its group, SIGKILL after a grace period, then the watchdog and the directory. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const pid = this.child?.pid;
      if (pid !== undefined && this.exit === undefined) {
        signalGroup(pid, 'SIGTERM');
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_GRACE_MS).unref());
        if ((await Promise.race([this.exited, timer])) === 'timeout') {
          signalGroup(pid, 'SIGKILL');
          await this.exited;
        }
      }
      // Whatever it forked shares its group and must not outlive it.
      signalGroup(pid, 'SIGKILL');
      fs.rmSync(this.groupFile, { force: true });
      signalGroup(this.watchdog.pid, 'SIGKILL');
      if (!this.keepWorkDir) fs.rmSync(this.workDir, { recursive: true, force: true });
      live.delete(this);
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process exit: SIGKILL the group and the watchdog, drop the directory. */
  killNow(): void {
    signalGroup(this.child?.pid, 'SIGKILL');
    signalGroup(this.watchdog.pid, 'SIGKILL');
    if (!this.keepWorkDir) fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** The status a GET of `url` answers with; a request that fails throws its cause (`connect ECONNREFUSED ...`), not fetch's bare `fetch failed`. */
export async function statusOf(url: string, init: RequestInit = {}): Promise<number> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    throw (error as { cause?: unknown }).cause ?? error;
  }
}

/**
 * An error's message. Not `instanceof Error`: under jest, errors thrown by Node's own modules (a
 * refused connection) come from another realm and fail that test.
 */
export function messageOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
