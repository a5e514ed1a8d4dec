// Reading a process's state from /proc: the tests check fd tables, zombies,
// signal masks and ids with the kernel's own view, never with the library.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** FD_CLOEXEC as /proc/PID/fdinfo/N reports it, in the octal "flags" line. */
export const FDINFO_CLOEXEC = 0o2000000;
/** O_NONBLOCK in the "flags" line of fdinfo (and in F_GETFL). */
export const FDINFO_NONBLOCK = 0o4000;

/**
 * The fds open in this process, ascending. The directory fd that the listing
 * itself uses is left out: it is closed by the time the targets are read.
 */
export function openFds(): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    try {
      readlinkSync(`/proc/self/fd/${fd}`);
      fds.push(fd);
    } catch {
      // The listing's own directory fd, closed since.
    }
  }
  return fds.sort((a, b) => a - b);
}

/** What fd points to, as readlink(/proc/self/fd/N) says ('/tmp/x', 'pipe:[123]', 'socket:[456]'). */
export function fdTarget(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

/** The "flags" line of /proc/self/fdinfo/N, octal, parsed. */
export function fdInfoFlags(fd: number): number {
  const match = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!match) throw new Error(`no flags line in /proc/self/fdinfo/${fd}`);
  return parseInt(match[1], 8);
}

/** A free fd number ≥ from such that the `count` numbers from it are all free. */
export function freeFdRange(count: number, from = 3): number {
  const used = new Set(openFds());
  for (let base = from; ; base++) {
    let free = true;
    for (let fd = base; fd < base + count; fd++) {
      if (used.has(fd)) {
        free = false;
        base = fd;
        break;
      }
    }
    if (free) return base;
  }
}

/** Fields of /proc/PID/stat after the command name. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
}

/** /proc/PID/stat, or null when there is no such process (any more). */
export function procStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: parse after the last ')'.
  const [state, ppid, pgid, sid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid: Number(text.slice(0, text.indexOf(' '))), state, ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid) };
}

/** /proc/PID/environ as an object. */
export function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** True when `pid`'s environment holds `name=value` (false when it is gone or a zombie). */
export function environHas(pid: number, name: string, value: string): boolean {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return false;
  }
  return environ.split('\0').includes(`${name}=${value}`);
}

/** Pids whose environment holds `name=value`: live processes only (a zombie's environment cannot be read). */
export function pidsWithEnv(name: string, value: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && environHas(Number(entry), name, value)) found.push(Number(entry));
  }
  return found;
}

/** SIGKILL to each of `pids` whose environment still holds `name=value` (a pid reused since is left alone). */
export function killWithEnv(pids: Iterable<number>, name: string, value: string): void {
  for (const pid of pids) {
    if (!environHas(pid, name, value)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * The processes whose environment holds `name=value`, and the zombies that
 * they (and `alsoParent`, if given) have not reaped — found through their
 * parent, since a zombie's environment cannot be read. An orphan is reaped
 * by PID 1 or a subreaper, so only a live parent can leave a zombie behind.
 */
export function markedProcesses(name: string, value: string, alsoParent?: number): { live: number[]; zombies: number[] } {
  const live = pidsWithEnv(name, value);
  const parents = new Set(alsoParent === undefined ? live : [...live, alsoParent]);
  const zombies = allProcesses()
    .filter((p) => p.state === 'Z' && parents.has(p.ppid))
    .map((p) => p.pid);
  return { live: live.filter((pid) => !zombies.includes(pid)), zombies };
}

/** Every process in /proc/[0-9]*, as its stat line says. */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** Pids of this process's zombie children (state Z, ppid = us). */
export function zombieChildren(parent = process.pid): number[] {
  return allProcesses()
    .filter((p) => p.ppid === parent && p.state === 'Z')
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** True when pid runs (exists and is not a zombie). */
export function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** The SigIgn/SigBlk/SigCgt/SigPnd lines of /proc/PID/status, as bigints. */
export function signalState(pid: number | 'self' = 'self'): Record<'SigIgn' | 'SigBlk' | 'SigCgt' | 'SigPnd', bigint> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): bigint => {
    const match = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    if (!match) throw new Error(`no ${name} in /proc/${pid}/status`);
    return BigInt(`0x${match[1]}`);
  };
  return { SigIgn: field('SigIgn'), SigBlk: field('SigBlk'), SigCgt: field('SigCgt'), SigPnd: field('SigPnd') };
}

/** The bit of signal number `sig` in a SigIgn/SigBlk/SigCgt mask. */
export function signalBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}
