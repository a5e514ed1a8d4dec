import { EventEmitter } from 'node:events';
import { HandoverError } from '../core';
import type { ExitStatus } from '../native';
import { RELOAD_REQUEST_FIELD } from '../protocol';
import { exitCode, exitHint, startFailureCode, startGeneration } from './exec';
import { describeExit, Generation, groupExists } from './generation';
import type { SupervisorListener } from './listeners';
import { resolveOptions, type ResolvedOptions, type SupervisorOptions } from './options';
import { startReaper, type ZombieReaper } from './reaper';
import { Resources, type ResourceState } from './resources';
import { installSignals, reloadAskedBy } from './signals';
import type { Log } from './log';
import { Pool } from './pool';
import { Operations } from './operations';
import { Recycler } from './recycler';
import type { Status } from './status';
import { relay, servingStatus } from './relay';
import type { Slot } from './slot';

export {
  DEFAULT_PROBATION,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_RESTART_BACKOFF,
  DEFAULT_RESTART_BACKOFF_MAX,
  DEFAULT_SUPERVISOR_DRAIN_TIMEOUT,
  DEFAULT_WORKERS,
  DEFAULT_RELOAD_PARALLEL,
  FORWARDED_SIGNALS,
  type ReadyMode,
  type RestartPolicy,
  type SupervisorOptions,
} from './options';
export { Generation, type GenerationState } from './generation';
export { exitCode, resolveCommand } from './exec';
export { FAILED_GENERATION_GRACE } from './slot';
export type { SupervisorListener } from './listeners';

/** Where a supervisor is in its life. */
export type Phase = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * The supervisor of `handover run` (overseer's or nginx's master model): one
 * process, one PID for life, that binds the listeners once and runs the app
 * as a series of generations, each started with the listeners as fds 3...
 * and systemd's protocol (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID, and a
 * NOTIFY_SOCKET of the supervisor's own). The lifecycle of the replaceable
 * process is a {@link Slot}'s; the supervisor does the process's duties
 * around it: listeners, signals, readiness messages, reaping, the exit
 * status, and what systemd is told.
 *
 * - {@link start} binds (or adopts, under systemd socket activation) the
 *   listeners and resolves once the first generation said READY=1.
 * - {@link reload} (SIGHUP) starts the next generation and waits for READY=1;
 *   both serve for `probation` ms; then the old one gets SIGTERM and drains.
 *   A new generation that exits, times out, cannot be executed or dies in
 *   probation is killed and the old one goes on serving: it rejects, with a
 *   HandoverError (ERR_EXEC, ERR_CHILD_EXITED, ERR_UPGRADE_TIMEOUT, ERR_STOPPED).
 *   A reload asked for during a reload runs once that one is over (one more,
 *   however many were asked for).
 * - A generation that crashes is restarted with exponential back-off; the
 *   listeners stay bound meanwhile, so connections wait in the backlog.
 * - {@link stop} (SIGTERM, SIGINT, SIGQUIT) forwards the signal and resolves
 *   {@link exited} with the app's exit status once every generation is gone.
 *
 * Events: `listening` (SupervisorListener), `spawn` (Generation), `ready`
 * (Generation), `reloaded` { generation, previous }, `reload-failed`
 * (HandoverError), `crash` { label, status, readyAt, delay }, `generation-exit`
 * { generation, status }, `reaped` { pid, code, signal }, `message`
 * { generation, message }, `stopped` (exit code).
 */
export class Supervisor extends EventEmitter {
  readonly options: ResolvedOptions;
  #log: Log;
  #phase: Phase = 'new';
  readonly #res: Resources;
  #reaper: ZombieReaper | null = null;
  #removeSignals: (() => void) | undefined;
  #pool: Pool;
  #recycler: Recycler;
  #operations: Operations;
  readonly #startedAt = Date.now();
  /** A stop signal waits out `shutdownDelay` (while /readyz fails) before the drain. */
  #delayingStop: NodeJS.Timeout | undefined;
  /** Generations whose process group may still hold processes: SIGKILLed at exit. */
  #groups = new Set<Generation>();
  #count = 0;
  #stopRequests = 0;
  #lastStatus: ExitStatus | undefined;
  #failedStartCode: number | undefined;
  #exited: Promise<number>;
  #resolveExited!: (code: number) => void;

  constructor(options: SupervisorOptions) {
    super();
    this.options = resolveOptions(options);
    this.#log = this.options.log;
    this.#res = new Resources(this.options, this.#log);
    this.#exited = new Promise((resolveExited) => (this.#resolveExited = resolveExited));
    this.#pool = this.#makePool();
    this.#recycler = new Recycler(this.#pool, this.options);
    this.#operations = new Operations({
      supervisor: this,
      options: this.options,
      source: () => ({
        startedAt: this.#startedAt,
        state: this.#phase === 'new' ? 'starting' : this.#phase === 'running' ? (this.#delayingStop ? 'stopping' : this.#pool.rolling ? 'reloading' : 'serving') : 'stopping',
        listeners: this.#res.opened.listeners,
        slots: this.#pool.slots,
        generations: this.#pool.generations,
      }),
      ready: () => this.#phase === 'running' && this.#delayingStop === undefined && this.#pool.slots.some((slot) => slot.current !== null),
    });
  }

  /** What `handover status` shows: see {@link Status}. */
  status(): Status {
    return this.#operations.status();
  }

  /** 'new' until start(), 'running', 'stopping' from a stop signal (or the app's end), 'stopped' once it has exited. */
  get phase(): Phase {
    return this.#phase;
  }

  /** Resolves with the supervisor's exit code once it has stopped: the app's status (128 + n for a signal). */
  get exited(): Promise<number> {
    return this.#exited;
  }

  /** The sockets (and other fds) passed to every generation, in fd order from 3. */
  get sockets(): readonly SupervisorListener[] {
    return this.#res.opened.listeners;
  }

  /** The serving generation, if any. */
  get current(): Generation | null {
    return this.#pool.slots[0].current;
  }

  /** Every generation whose process has not exited (serving, starting, draining). */
  get generations(): readonly Generation[] {
    return this.#pool.generations;
  }

  /** The serving generation of each worker slot (null while a slot has none), by HANDOVER_WORKER_ID. */
  get workers(): readonly (Generation | null)[] {
    return this.#pool.slots.map((slot) => slot.current);
  }

  /**
   * Binds or adopts the listeners, writes the PID file, installs the signal
   * handlers and starts the first generation; resolves once it is ready.
   * When it fails (a bind error, an exec error, no READY=1), nothing was ever
   * served: the supervisor stops and {@link exited} resolves with a non-zero
   * code — 127 (command not found) or 126 (not executable) for exec errors,
   * the app's status when it exited first, 1 otherwise.
   */
  async start(): Promise<Generation> {
    if (this.#phase !== 'new') throw new HandoverError('ERR_INVALID_ARG_VALUE', `start() called on a supervisor that is ${this.#phase}`);
    this.#phase = 'running';
    try {
      await this.#setUp();
    } catch (err) {
      this.#log(`cannot start: ${(err as Error).message}`);
      this.#finish(1);
      throw err;
    }
    const first = await this.#pool.start();
    this.#res.upstream.send({ READY: 1, MAINPID: process.pid, STATUS: servingStatus(this.#pool) });
    this.#recycler.start();
    return first;
  }

  /**
   * What SIGHUP does: starts the next generation and, once it is ready (and
   * has served through `probation`), stops the current one. Resolves with the
   * new generation; rejects with a HandoverError when it failed — the current
   * generation then goes on serving as if nothing happened.
   */
  reload(): Promise<Generation> {
    if (this.#phase !== 'running') {
      return Promise.reject(new HandoverError('ERR_STOPPED', `cannot reload: the supervisor is ${this.#phase === 'new' ? 'not started' : this.#phase}`));
    }
    return this.#pool.reload();
  }

  /**
   * Runs `size` worker slots from now on (what SIGTTIN and SIGTTOU do, one
   * up or down): a new slot starts its worker like a restart; a removed one
   * (the last first) has its worker drain.
   */
  scale(size: number): void {
    if (!Number.isInteger(size) || size < 1 || size > 1024) throw new HandoverError('ERR_INVALID_ARG_VALUE', `The "size" argument must be a whole number from 1 to 1024. Received ${String(size)}`);
    if (this.#phase !== 'running') throw new HandoverError('ERR_STOPPED', `cannot scale: the supervisor is ${this.#phase === 'new' ? 'not started' : this.#phase}`);
    this.#pool.scale(size);
  }

  /**
   * What SIGTERM, SIGINT and SIGQUIT do: forwards `signal` to every
   * generation, stops restarting, and resolves with the exit code once all
   * have exited. Generations that neither exit nor said STOPPING=1 within
   * `drainTimeout` get SIGKILL (their whole process group). Asked a second
   * time, the signal is forwarded again (a GracefulServer then stops
   * draining); a third time, every generation gets SIGKILL. `final`: the
   * listeners leave systemd's fd store too (see {@link StoredListeners}),
   * so their ports close with the supervisor.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', options: { final?: boolean } = {}): Promise<number> {
    if (options.final === true) this.#res.stored = this.#res.stored?.release(this.#res.opened, this.#log) ?? null;
    this.#stop(signal);
    return this.#exited;
  }

  /** Sends `signal` to the serving generation (what SIGUSR1 and SIGUSR2 do); false when none serves. */
  forward(signal: NodeJS.Signals): boolean {
    return this.#pool.forward(signal);
  }

  // --- set-up -------------------------------------------------------------

  async #setUp(adopted?: ResourceState): Promise<void> {
    const o = this.options;
    await this.#res.open(
      {
        listening: (listener) => this.emit('listening', listener),
        generations: () => this.#pool.generations,
        message: (generation, message) => {
          this.emit('message', { generation, message });
          if (message.fields.get(RELOAD_REQUEST_FIELD) === '1') reloadAskedBy(this, generation);
        },
      },
      adopted,
    );
    if (o.signals) this.#removeSignals = installSignals(this, (signal) => this.#stop(signal));
    if (o.reap && process.platform === 'linux') this.#reaper = startReaper((pid) => this.#pool.generations.some((g) => g.owns(pid)), this.#log, this);
    await this.#operations.open();
  }

  // --- the slot's generations ----------------------------------------------

  #makePool(): Pool {
    const pool = new Pool(
      {
        options: this.options,
        log: this.#log,
        spawn: (slot) => this.#spawn(slot),
        running: () => this.#phase === 'running',
        exitHint: (status) => exitHint(status, this.#res.opened.listeners),
        upcoming: () => `generation ${this.#count + 1}`,
      },
      this.options.workers,
      this.options.reloadParallel,
    );
    relay(pool, {
      events: this,
      upstream: { send: (fields) => this.#res.upstream.send(fields) },
      log: this.#log,
      running: () => this.#phase === 'running',
      startFailed: (err) => {
        this.#log(`start failed: ${err.message}`);
        this.#failedStartCode ??= startFailureCode(err);
        this.#stop(null);
      },
      exited: (info) => this.#onExit(info),
      ended: () => this.#stop(null),
    });
    return pool;
  }

  #spawn(slot: Slot): Generation {
    const o = this.options;
    const number = this.#count + 1;
    const pid = startGeneration(o, number, this.#res.stdio, this.#res.opened.listeners, this.#res.notify?.path, { slot: slot.id, workers: this.#pool.slots.length });
    this.#count = number;
    const generation = Generation.started(number, pid, slot.id, o.workers > 1 || this.#pool.slots.length > 1, [o.command, ...o.args], this.#log);
    this.#groups.add(generation);
    return generation;
  }

  #onExit({ generation, status, wasCurrent }: { generation: Generation; status: ExitStatus; wasCurrent: boolean }): void {
    if (!groupExists(generation.pgid)) this.#groups.delete(generation);
    this.emit('generation-exit', { generation, status });
    if (wasCurrent) this.#lastStatus = status;
    if (this.#phase === 'stopping' || this.#phase === 'stopped') {
      this.#log(`${generation} exited (${describeExit(status)})`);
      if (this.#lastStatus === undefined) this.#lastStatus = status;
      this.#maybeFinish();
    }
  }

  // --- stopping -----------------------------------------------------------

  #stop(signal: NodeJS.Signals | null): void {
    if (this.#phase === 'new') {
      this.#phase = 'stopping';
      this.#finish(0);
      return;
    }
    if (this.#phase === 'stopped') return;
    if (signal !== null && this.#phase === 'running' && this.options.shutdownDelay > 0 && this.#delayingStop === undefined) {
      // Load balancers see /readyz fail and stop sending; then the drain.
      this.#log(`${signal}: /readyz fails from now on; stopping in ${this.options.shutdownDelay} ms (--shutdown-delay)`, { event: 'shutdown-delay', signal });
      this.#delayingStop = setTimeout(() => this.#stop(signal), this.options.shutdownDelay);
      return;
    }
    clearTimeout(this.#delayingStop);
    if (signal !== null) this.#stopRequests++;
    const live = this.#pool.generations;
    if (this.#phase === 'running') {
      this.#phase = 'stopping';
      this.#res.upstream.send({ STOPPING: 1, STATUS: 'stopping' });
      if (signal !== null) {
        this.#log(live.length > 0 ? `${signal}: stopping; forwarding ${signal} to ${live.join(', ')}` : `${signal}: stopping`);
      } else if (live.length > 0) {
        this.#log(`stopping; SIGTERM to ${live.join(', ')}`);
      }
      this.#pool.stop(signal ?? 'SIGTERM', signal ?? 'the app exited');
      this.#res.closeListeners();
    } else if (signal !== null && this.#stopRequests === 2) {
      this.#log(`${signal} again: forwarding it again to ${live.join(', ') || 'nobody'}`);
      for (const generation of live) generation.signal(signal);
    } else if (signal !== null) {
      this.#log(`${signal} a third time: SIGKILL to ${live.join(', ') || 'nobody'}`);
      for (const generation of live) generation.signalGroup('SIGKILL');
    }
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#phase !== 'stopping' || this.#pool.generations.length > 0) return;
    this.#finish(this.#failedStartCode ?? exitCode(this.#lastStatus));
  }

  #finish(code: number): void {
    if (this.#phase === 'stopped') return;
    this.#phase = 'stopped';
    this.#removeSignals?.();
    this.#recycler.stop();
    // What the generations left behind in their process groups goes with them.
    for (const generation of this.#groups) generation.signalGroup('SIGKILL');
    this.#groups.clear();
    this.#reaper?.stop();
    this.#res.release();
    this.#log(`exiting with code ${code}`, { event: 'exit', code });
    this.emit('stopped', code);
    // A `stop` asked over the control socket is answered before the process may exit.
    void this.#operations.close().finally(() => this.#resolveExited(code));
  }
}
