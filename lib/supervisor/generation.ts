import { EventEmitter } from 'node:events';
import { readdirSync } from 'node:fs';
import { STOPPING_KILL_FACTOR } from './options';
import { isSelfOrDescendant, procInfo } from './proc';
import { waitPid, type ExitStatus } from '../native';
import type { GenerationSnapshot } from './image-state';

/**
 * Where a generation is in its life: `starting` until it says READY=1,
 * `ready` while a reload holds it back (probation), `serving`, `stopping`
 * once told to stop, `exited` once its main process is gone and reaped.
 */
export type GenerationState = 'starting' | 'ready' | 'serving' | 'stopping' | 'exited';

/**
 * One run of the supervised command: a process (and its process group, which
 * it leads) that the supervisor started with the listeners.
 *
 * Events: `ready`, `message` (NotifyMessage), `main-pid` { from, to } when the
 * app replaced itself and announced its successor with MAINPID= (a
 * self-upgrading app, e.g. a GracefulServer that got SIGUSR2), `exit` (ExitStatus).
 */
export class Generation extends EventEmitter {
  /** 1 for the first, then one more for each start (reloads and restarts). */
  readonly number: number;
  /** Its process group: the first process led it. */
  readonly pgid: number;
  /** ms since the epoch when it was started. */
  readonly startedAt: number;
  /** Its main process: the one started, or the successor it named with MAINPID=. */
  pid: number;
  #state: GenerationState = 'starting';
  /** ms since the epoch when it entered its {@link state}. */
  since = Date.now();
  /** Why it was told to stop (`replaced`, `recycled`, `stopped`, `failed`...), once it was. */
  why: string | undefined;
  /** Connections it said it still drains (`X_HANDOVER_DRAINING=`), for metrics; 0 when it did not say. */
  drainingConnections = 0;

  /** Where it is in its life (see {@link GenerationState}). */
  get state(): GenerationState {
    return this.#state;
  }

  set state(state: GenerationState) {
    if (state === this.#state) return;
    this.#state = state;
    this.since = Date.now();
  }
  /** When it said READY=1. */
  readyAt: number | undefined;
  /** It said STOPPING=1: it drains by its own rules. */
  announcedStopping = false;
  /** Its exit status, once it has exited. */
  exitStatus: ExitStatus | undefined;
  /** A successor the app announced with MAINPID= (a descendant of it). */
  successor: number | undefined;
  readonly exited: Promise<ExitStatus>;
  #resolveExited!: (status: ExitStatus) => void;
  #killTimer: NodeJS.Timeout | undefined;
  /** When the SIGKILL of {@link armKill} is due, and after which signal. */
  #kill: { signal: NodeJS.Signals; at: number } | undefined;
  /** The signal {@link retire} sent, and the pids it went to (each gets it once). */
  #stopSignal: NodeJS.Signals | undefined;
  readonly #signalled = new Set<number>();

  /**
   * The worker slot it runs in (HANDOVER_WORKER_ID), and whether there are
   * several: the log then names the slot too.
   */
  readonly slot: number;
  readonly #named: boolean;

  /** `adopted`: a generation started before the supervisor's re-exec, whose main process may be a successor by now. */
  constructor(number: number, pid: number, slot = 0, nameSlot = false, adopted?: { pgid: number; startedAt: number }) {
    super();
    this.number = number;
    this.slot = slot;
    this.#named = nameSlot;
    this.pid = pid;
    this.pgid = adopted?.pgid ?? pid;
    this.startedAt = adopted?.startedAt ?? Date.now();
    this.exited = new Promise((resolveExited) => (this.#resolveExited = resolveExited));
    this.#watch(pid);
  }

  /**
   * A generation just started (pid `pid`, in worker `slot`), logged as
   * such; should it replace itself (MAINPID=), that is logged too.
   */
  static started(number: number, pid: number, slot: number, nameSlot: boolean, argv: readonly string[], log: (line: string, fields?: Record<string, unknown>) => void): Generation {
    const generation = new Generation(number, pid, slot, nameSlot);
    const label = nameSlot ? `generation ${number} (worker ${slot})` : `generation ${number}`;
    generation.on('main-pid', ({ from, to, status }: { from: number; to: number; status: ExitStatus }) => {
      log(`${label}: pid ${from} exited (${describeExit(status)}) and named pid ${to} its successor (MAINPID): following it`);
    });
    log(`${label} started: pid ${pid}: ${argv.join(' ')}`, { event: 'spawn', generation: number, worker: slot, generationPid: pid });
    return generation;
  }

  /** What a re-exec'd supervisor needs to go on supervising it (see {@link adopt}). */
  snapshot(): GenerationSnapshot {
    return {
      number: this.number,
      pid: this.pid,
      pgid: this.pgid,
      slot: this.slot,
      named: this.#named,
      state: this.state,
      since: this.since,
      startedAt: this.startedAt,
      readyAt: this.readyAt,
      why: this.why,
      announcedStopping: this.announcedStopping,
      successor: this.successor,
      drainingConnections: this.drainingConnections,
      stopSignal: this.#stopSignal,
      signalled: [...this.#signalled],
      kill: this.#kill,
    };
  }

  /** The generation of `snapshot`, watched from now on; a pending SIGKILL is armed again for the time it had left. */
  static adopt(snapshot: GenerationSnapshot, log: (line: string) => void): Generation {
    const generation = new Generation(snapshot.number, snapshot.pid, snapshot.slot, snapshot.named, { pgid: snapshot.pgid, startedAt: snapshot.startedAt });
    generation.#state = snapshot.state;
    generation.since = snapshot.since;
    generation.readyAt = snapshot.readyAt;
    generation.why = snapshot.why;
    generation.announcedStopping = snapshot.announcedStopping;
    generation.successor = snapshot.successor;
    generation.drainingConnections = snapshot.drainingConnections;
    generation.#stopSignal = snapshot.stopSignal;
    for (const pid of snapshot.signalled) generation.#signalled.add(pid);
    if (snapshot.kill) generation.armKill(snapshot.kill.signal, Math.max(0, snapshot.kill.at - Date.now()), log);
    return generation;
  }

  /** "generation 2 (pid 1234)", or with workers "generation 2 (worker 1, pid 1234)", for logs. */
  override toString(): string {
    return this.#named ? `generation ${this.number} (worker ${this.slot}, pid ${this.pid})` : `generation ${this.number} (pid ${this.pid})`;
  }

  get alive(): boolean {
    return this.state !== 'exited';
  }

  /** Pids that are this generation's to reap (its main process, a named successor). */
  owns(pid: number): boolean {
    return this.alive && (pid === this.pid || pid === this.successor);
  }

  /** Records READY=1; true the first time. */
  markReady(): boolean {
    if (this.state !== 'starting') return false;
    this.state = 'ready';
    this.readyAt = Date.now();
    this.emit('ready');
    return true;
  }

  /** Sends `signal` to the main process; false when it is gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.alive) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Sends `signal` to the generation's process group: its main process and
   * every descendant that stayed in the group. Once the main process has
   * exited, only while some member is still a descendant of this process
   * (so a reused group id is never hit).
   */
  signalGroup(signal: NodeJS.Signals): boolean {
    if (!this.alive && !this.#groupIsOurs()) return false;
    try {
      process.kill(-this.pgid, signal);
      return true;
    } catch {
      return this.signal(signal);
    }
  }

  /**
   * Tells it to stop: `signal` to its main process, then SIGKILL to its
   * process group after `timeout` ms — unless it said STOPPING=1 by then
   * (it drains by its own rules: a GracefulServer's own drainTimeout), and
   * then after {@link STOPPING_KILL_FACTOR} × `timeout` ms all the same.
   */
  retire(signal: NodeJS.Signals, timeout: number, log: (line: string) => void, why = 'stopped'): void {
    this.why ??= why;
    this.state = 'stopping';
    this.#stopSignal ??= signal;
    this.#signalStop();
    this.armKill(signal, timeout, log);
  }

  /**
   * Records the successor the app named with MAINPID= (see {@link successor}).
   * A generation told to stop while it replaced itself stops its successor
   * too: otherwise the old release would serve on beside the new one.
   */
  nameSuccessor(pid: number): void {
    this.successor = pid;
    if (this.state === 'stopping') this.#signalStop();
  }

  // The stop signal, once, to the main process and to a successor it named.
  #signalStop(): void {
    if (this.#stopSignal === undefined || !this.alive) return;
    for (const pid of [this.pid, this.successor]) {
      if (pid === undefined || this.#signalled.has(pid)) continue;
      this.#signalled.add(pid);
      try {
        process.kill(pid, this.#stopSignal);
      } catch {
        // gone already
      }
    }
  }

  /** The SIGKILL of {@link retire} alone, for a generation that was already signalled. */
  armKill(signal: NodeJS.Signals, timeout: number, log: (line: string) => void): void {
    if (this.#killTimer !== undefined || !this.alive) return;
    this.#kill = { signal, at: Date.now() + timeout };
    this.#killTimer = setTimeout(() => {
      if (!this.alive) return;
      if (!this.announcedStopping) {
        log(`${this} did not exit within ${timeout} ms of ${signal}: SIGKILL to its process group`);
        this.signalGroup('SIGKILL');
        return;
      }
      // Its own rules, within a ceiling: an app that says STOPPING=1 and
      // hangs must not live on forever, one more with each reload.
      const ceiling = timeout * STOPPING_KILL_FACTOR;
      log(`${this} is still draining ${timeout} ms after ${signal}; it said STOPPING=1, so it drains by its own rules, for up to ${ceiling} ms`);
      this.#killTimer = setTimeout(() => {
        if (!this.alive) return;
        log(`${this} said STOPPING=1 but did not exit within ${ceiling} ms of ${signal} (${STOPPING_KILL_FACTOR} × the drain timeout): SIGKILL to its process group`);
        this.signalGroup('SIGKILL');
      }, ceiling - timeout);
      this.#killTimer.unref();
    }, timeout);
    this.#killTimer.unref();
  }

  /**
   * Stops a generation that failed to become ready. It may already have
   * accepted connections from the shared socket: SIGTERM (with SIGCONT,
   * should it be stopped) lets it answer them and exit; its group gets
   * SIGKILL after `grace` ms.
   */
  dismiss(grace: number): void {
    this.why ??= 'failed';
    this.state = 'stopping';
    this.signalGroup('SIGTERM');
    this.signalGroup('SIGCONT');
    const timer = setTimeout(() => {
      if (this.alive) this.signalGroup('SIGKILL');
    }, grace);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  #groupIsOurs(): boolean {
    if (process.platform !== 'linux') return false;
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return false;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const info = procInfo(Number(name));
      if (info?.pgid === this.pgid && info.state !== 'Z' && isSelfOrDescendant(info.pid, process.pid)) return true;
    }
    return false;
  }

  #watch(pid: number): void {
    waitPid(pid).then(
      (status) => {
        // An app that replaced itself named its successor with MAINPID=; the
        // kernel has reparented it to us (PID 1 or subreaper): follow it, as
        // systemd follows MAINPID.
        const next = this.successor;
        this.successor = undefined;
        if (next !== undefined && next !== pid && procInfo(next)?.ppid === process.pid) {
          this.pid = next;
          this.emit('main-pid', { from: pid, to: next, status });
          this.#watch(next);
          this.#signalStop(); // told to stop meanwhile: so is the successor
          return;
        }
        this.#finish(status);
      },
      // ECHILD: something else in the process reaped it (SIGCHLD ignored?).
      () => this.#finish({ code: null, signal: null }),
    );
  }

  #finish(status: ExitStatus): void {
    clearTimeout(this.#killTimer);
    this.state = 'exited';
    this.exitStatus = status;
    this.emit('exit', status);
    this.#resolveExited(status);
  }
}

/** True while some process is in process group `pgid`. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "exit code 3" or "killed by SIGKILL". */
export function describeExit(status: ExitStatus): string {
  if (status.signal) return `killed by ${status.signal}`;
  if (status.code === null) return 'reaped elsewhere (status unknown)';
  return `exit code ${status.code}`;
}
