import { readFileSync } from 'node:fs';

// The process tree as Linux's /proc shows it (what the supervisor and a
// generation under it need to place a process). Elsewhere every function
// answers "unknown": null, or false — except processExists, which asks the
// kernel with signal 0 on every platform.

/** The fields of /proc/PID/stat the supervisor needs. */
export interface ProcInfo {
  pid: number;
  /** R, S, D, Z (zombie), T (stopped)... */
  state: string;
  ppid: number;
  pgid: number;
}

/** Whether a process with this pid exists (signal 0; one of another user answers EPERM, and exists). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** /proc/PID/stat, or null when there is no such process (or no /proc). */
export function procInfo(pid: number): ProcInfo | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: parse after the last ')'.
  const [state, ppid, pgid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state, ppid: Number(ppid), pgid: Number(pgid) };
}

/** Bound on the walk up the tree: real process trees are far shallower. */
const MAX_DEPTH = 64;

/**
 * True when `pid` is `ancestor` or one of its descendants (by the ppid chain
 * in /proc). A process that has exited cannot be placed: false.
 */
export function isSelfOrDescendant(pid: number, ancestor: number): boolean {
  let current = pid;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (current === ancestor) return true;
    if (current <= 1) return false;
    const info = procInfo(current);
    if (info === null) return false;
    current = info.ppid;
  }
  return false;
}
