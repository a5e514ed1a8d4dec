import { EventEmitter } from 'node:events';
import { type ExitStatus, native } from '../native';
import { isNativeErrno, signalName } from '../core';
import { childrenOfSelf, procInfo } from './proc';

/**
 * How long an unknown zombie child must stay a zombie before it is reaped.
 * libuv (child_process) and waitPid reap their own children as soon as the
 * event loop sees SIGCHLD or a pidfd; a zombie still there one grace period
 * later belongs to nobody in this process: an orphan the kernel reparented to
 * us (PID 1, child subreaper).
 */
export const REAP_GRACE_MS = 100;

/** Options of {@link ZombieReaper}. */
export interface ZombieReaperOptions {
  /** Pids that something in this process waits for (the generations): never reaped here. */
  isTracked: (pid: number) => boolean;
}

/**
 * Reaps zombie children that nobody waits for, without ever calling
 * waitpid(-1): on SIGCHLD it lists this process's children from /proc, and
 * each one that has been a zombie, untracked, for {@link REAP_GRACE_MS} is
 * reaped by its own pid. So it cannot steal a child of child_process or of
 * waitPid, and it keeps PID 1 in a container (or a subreaper) free of the
 * zombies of orphaned grandchildren. Linux only (it needs /proc); elsewhere
 * start() does nothing.
 *
 * Emits `reaped` { pid, code, signal } for each.
 */
export class ZombieReaper extends EventEmitter {
  #isTracked: (pid: number) => boolean;
  #seen = new Set<number>();
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #onSignal = () => this.#schedule();

  constructor(options: ZombieReaperOptions) {
    super();
    this.#isTracked = options.isTracked;
  }

  /** Starts listening to SIGCHLD (and looks once, for zombies that predate us). */
  start(): void {
    if (this.#running || process.platform !== 'linux') return;
    this.#running = true;
    process.on('SIGCHLD', this.#onSignal);
    this.#schedule();
  }

  /** Stops listening; pending checks are dropped. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    process.off('SIGCHLD', this.#onSignal);
    if (this.#immediate) clearImmediate(this.#immediate);
    if (this.#timer) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
    this.#seen.clear();
  }

  /** Looks for zombies now and reaps those seen on the previous look (exposed for tests and shutdown). */
  scan(): void {
    const next = new Set<number>();
    for (const pid of childrenOfSelf()) {
      if (this.#isTracked(pid) || procInfo(pid)?.state !== 'Z') continue;
      if (this.#seen.has(pid)) this.#reap(pid);
      else next.add(pid);
    }
    this.#seen = next;
    if (next.size > 0 && this.#running && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.scan();
      }, REAP_GRACE_MS);
      this.#timer.unref();
    }
  }

  #schedule(): void {
    if (this.#immediate !== undefined) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      this.scan();
    });
  }

  #reap(pid: number): void {
    let status: { code: number | null; signal: number | null } | null;
    try {
      status = native('ZombieReaper').reapPid(pid);
    } catch (err) {
      // ECHILD: its owner reaped it meanwhile. Nothing else is expected.
      if (isNativeErrno(err)) return;
      throw err;
    }
    if (status === null) return;
    const exit: ExitStatus = { code: status.code, signal: status.signal === null ? null : signalName(status.signal) };
    this.emit('reaped', { pid, ...exit });
  }
}

/**
 * Makes this process a child subreaper (Linux): the orphans of its
 * descendants are reparented to it rather than to PID 1. Returns false where
 * that does not exist (macOS) or is refused.
 */
export function becomeSubreaper(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    native('becomeSubreaper').setChildSubreaper(true);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a {@link ZombieReaper} for a supervisor: every orphan it reaps is
 * logged and emitted on `events` as 'reaped' { pid, code, signal }.
 */
export function startReaper(isTracked: (pid: number) => boolean, log: (line: string) => void, events: EventEmitter): ZombieReaper {
  const reaper = new ZombieReaper({ isTracked });
  reaper.on('reaped', (info: { pid: number } & ExitStatus) => {
    log(`reaped orphan ${info.pid} (${info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`})`);
    events.emit('reaped', info);
  });
  reaper.start();
  return reaper;
}
