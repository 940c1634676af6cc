/**
 * What the test harnesses that start processes of their own (the control plane, a real node, the
 * Argo Rollouts controller) share to never leave one behind: a detached watchdog that kills their
 * process groups and removes their directory if the test process dies without cleaning up (a
 * SIGKILL, a crash), and exit and signal handlers for the deaths Node does see.
 */
import { ChildProcess, spawn } from 'child_process';

/**
 * Starts a detached watchdog that waits for this process to die; if `groupsFile` still exists
 * then (the harness did not stop cleanly, which removes it), it kills every process group listed
 * in it (one per line) and removes `removeOnOrphan` ('' keeps everything). `label` names it in `ps`.
 */
export function startWatchdog(label: string, groupsFile: string, removeOnOrphan: string): ChildProcess {
  // $1 parent pid, $2 file of process groups, $3 directory to remove ('' keeps it).
  const script =
    'while kill -0 "$1" 2>/dev/null && [ -e "$2" ]; do sleep 1; done; ' +
    '[ -e "$2" ] || exit 0; while read -r g; do kill -KILL -- "-$g" 2>/dev/null; done < "$2"; ' +
    '[ -n "$3" ] && rm -rf -- "$3"; exit 0';
  const watchdog = spawn('bash', ['-c', script, label, String(process.pid), groupsFile, removeOnOrphan], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

/**
 * Calls `killAll` when this process exits, and on SIGINT, SIGTERM and SIGHUP, after which the
 * signal keeps its default meaning (the process dies) unless someone else handles it. Install
 * once per harness (the caller keeps its own flag).
 */
export function killOnExit(killAll: () => void): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      killAll();
      process.off(signal, handler);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}
