import { readdirSync, readFileSync } from 'node:fs';
import { procInfo } from '../core';

export { isSelfOrDescendant, procInfo, type ProcInfo } from '../core';

// More of the process tree as Linux's /proc shows it (procInfo and the
// ancestry are core's). Elsewhere every function answers "unknown" (null /
// empty), and the supervisor does without: it then accepts readiness only
// from a generation's own pid and reaps no orphans.

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
