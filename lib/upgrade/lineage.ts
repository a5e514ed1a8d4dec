import { isSelfOrDescendant, type Logger, procInfo, processExists } from '../core';
import { RELOAD_REQUEST_FIELD, type Upstream } from '../protocol';
import { watchExit } from './readiness';

// Who a generation is tied to: the previous generation that started it,
// and the `handover run` supervisor it runs under.

/**
 * The previous generation, which started this one (HANDOVER_PARENT_PID): it
 * waits for our READY=1 and then drains. It may have died before we started
 * (SIGKILL, OOM): then we were reparented, its pid may already be another
 * process's, nobody drains and nobody relays our readiness. Its exit is
 * watched with a pidfd (Linux) or kqueue (macOS), opened while it surely
 * was our parent, so a SIGKILL is seen too.
 */
export class ParentLink {
  readonly pid: number;
  readonly exited: Promise<void>;
  #alive: boolean;

  constructor(pid: number, log: (line: string) => void, onExit: () => void) {
    this.pid = pid;
    this.#alive = pid === process.ppid;
    if (this.#alive) {
      this.exited = watchExit(pid).then(() => {
        this.#alive = false;
        onExit();
      });
    } else {
      log(`the previous generation (pid ${pid}) exited before this one started`);
      this.exited = Promise.resolve();
    }
  }

  /** Alive (draining, or waiting for our READY=1). */
  get alive(): boolean {
    return this.#alive;
  }
}

/**
 * A generation's tie to the `handover run` supervisor it runs under
 * (HANDOVER_SUPERVISOR_PID): the reload is asked of it, and its death is
 * watched where nothing else reports it.
 */
export class SupervisorLink {
  readonly pid: number;
  readonly #upstream: Upstream;
  #reloadRequested = false;

  /** `upstream`: where this generation's notifications go (the supervisor's socket, when it reads any). */
  constructor(pid: number, upstream: Upstream) {
    this.pid = pid;
    this.#upstream = upstream;
  }

  /**
   * Asks the supervisor for a reload: `X_HANDOVER_RELOAD=1` on its notify
   * socket, or SIGHUP when it reads none and is our parent. Once per turn of
   * the event loop (several servers hear the same signal); false when there
   * is no way to ask.
   */
  requestReload(): boolean {
    if (this.#reloadRequested) return true;
    if (this.#upstream.socket !== undefined) {
      this.#upstream.send({ [RELOAD_REQUEST_FIELD]: 1 });
    } else if (process.ppid === this.pid) {
      process.kill(this.pid, 'SIGHUP');
    } else {
      return false;
    }
    this.#reloadRequested = true;
    setImmediate(() => (this.#reloadRequested = false));
    return true;
  }

  /**
   * Once the supervisor has exited — at once when it is gone already — logs
   * it, calls `orphaned` and sends this process SIGTERM, unless PDEATHSIG
   * covers this process: on Linux the
   * supervisor starts its generations with PDEATHSIG=SIGTERM, but a
   * successor the app started itself (`startedByPrevious`) has none (its
   * parent was the previous generation), nor has any process on macOS.
   * Left running, such a process would serve an old release on and hold
   * the port that the restarted supervisor must bind.
   */
  /**
   * The supervisor has exited (or this process left its tree). Its death
   * can bring PDEATHSIG more than once: Linux sends it each time the thread
   * a child belongs to exits and the child passes to another thread of the
   * dying process — so a repeated SIGTERM then is no second request to stop.
   */
  get gone(): boolean {
    if (process.platform !== 'linux') return !processExists(this.pid);
    // Dying counts: its main thread is a zombie while the others exit.
    const info = procInfo(this.pid);
    return info === null || info.state === 'Z' || info.state === 'X' || !isSelfOrDescendant(process.pid, this.pid);
  }

  watch(startedByPrevious: boolean, logger: Logger, orphaned: () => void): void {
    if (process.platform === 'linux' && !startedByPrevious && process.ppid === this.pid) return;
    const stop = () => {
      logger.warn(`the supervisor (pid ${this.pid}) has exited: this generation (pid ${process.pid}) stops with SIGTERM, as the supervisor's own generations do`);
      orphaned();
      process.kill(process.pid, 'SIGTERM');
    };
    const placed = process.platform !== 'linux' || isSelfOrDescendant(process.pid, this.pid);
    if (!placed || !processExists(this.pid)) {
      process.nextTick(stop);
      return;
    }
    void watchExit(this.pid, true).then(stop);
  }
}
