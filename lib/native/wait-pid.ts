import { native } from './binding';
import { fromNative, invalidType, signalName } from '../core';

/** How a child ended: `code` when it exited, `signal` when a signal killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link waitPid}. */
export interface WaitPidOptions {
  /** Keep the event loop alive until the child exits (default true, like child_process). */
  ref?: boolean;
}

// One wait per pid: a second call gets the same promise instead of ECHILD.
const pending = new Map<number, Promise<ExitStatus>>();

/**
 * Resolves when `pid`, a child started by {@link forkExecWithFds}, exits, and
 * reaps exactly that child. It never calls waitpid(-1), so it cannot steal the
 * children of child_process (libuv's SIGCHLD handler, in turn, waits only for
 * the pids it spawned). It does not use the libuv thread pool: a pidfd (Linux)
 * or kqueue (macOS) is polled on the event loop.
 *
 * Rejects with ECHILD (syscall `waitpid`) when `pid` is not an unreaped child
 * of this process — for instance when SIGCHLD is set to SIG_IGN, or when
 * something else already reaped it.
 */
export function waitPid(pid: number, options: WaitPidOptions = {}): Promise<ExitStatus> {
  const binding = native('waitPid');
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) invalidType('pid', 'a positive integer (a process id)', pid);
  const ref = options.ref ?? true;
  if (typeof ref !== 'boolean') invalidType('options.ref', 'of type boolean', ref);
  const existing = pending.get(pid);
  if (existing) return existing;
  const promise = new Promise<ExitStatus>((resolve, reject) => {
    try {
      binding.waitPid(pid, ref, (err, code, signal) => {
        pending.delete(pid);
        if (err) {
          try {
            fromNative(err, undefined, { pid });
          } catch (e) {
            reject(e);
          }
          return;
        }
        resolve({ code, signal: signal === null ? null : signalName(signal) });
      });
    } catch (err) {
      pending.delete(pid);
      try {
        fromNative(err, undefined, { pid });
      } catch (e) {
        reject(e);
      }
    }
  });
  pending.set(pid, promise);
  promise.catch(() => pending.delete(pid));
  return promise;
}
