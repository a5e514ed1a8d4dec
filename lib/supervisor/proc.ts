import { readdirSync, readFileSync } from 'node:fs';

// The process tree as Linux's /proc shows it. Elsewhere every function
// answers "unknown" (null / empty), and the supervisor does without: it then
// accepts readiness only from a generation's own pid and reaps no orphans.

/** The fields of /proc/PID/stat the supervisor needs. */
export interface ProcInfo {
  pid: number;
  /** R, S, D, Z (zombie), T (stopped)... */
  state: string;
  ppid: number;
  pgid: number;
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

/**
 * Pids of this process's children. /proc/self/task/TID/children lists them
 * per thread (a child belongs to the thread that forked it); kernels built
 * without it are scanned the slow way.
 */
export function childrenOfSelf(): number[] {
  const pids = new Set<number>();
  let listed = false;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      let text: string;
      try {
        text = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      listed = true;
      for (const word of text.split(' ')) if (word !== '' && word !== '\n') pids.add(Number(word));
    }
  } catch {
    return [];
  }
  if (listed) return [...pids].filter((pid) => Number.isInteger(pid) && pid > 0);
  const self = process.pid;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info?.ppid === self) pids.add(info.pid);
  }
  return [...pids];
}

/**
 * Bytes of resident memory of every process in process group `pgid` (a
 * worker and what it started), from /proc/PID/statm. 0 where there is no
 * /proc.
 */
export function groupRss(pgid: number): number {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return 0;
  }
  let pages = 0;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info?.pgid !== pgid || info.state === 'Z') continue;
    try {
      pages += Number(readFileSync(`/proc/${name}/statm`, 'utf8').split(' ')[1]);
    } catch {
      // exited meanwhile
    }
  }
  return pages * pageSize();
}

let page: number | undefined;

// The kernel's page size (statm counts pages): 4 KiB on x86-64, 4, 16 or
// 64 KiB on arm64. Node does not say it; our own RSS in bytes over our own
// resident pages does, rounded to a power of two.
function pageSize(): number {
  if (page === undefined) {
    const resident = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    page = resident > 0 ? 2 ** Math.round(Math.log2(process.memoryUsage().rss / resident)) : 4096;
  }
  return page;
}
