import { EventEmitter } from 'node:events';
import { fstatSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { isatty } from 'node:tty';
import { closeQuietly, HandoverError, unlinkQuietly } from '../core';
import { type ExitStatus, forkExecWithFds } from '../native';
import { monotonicUsec, type NotifyFields, NotifyListener, type NotifyMessage, sdNotify, writePidFile } from '../protocol';
import { execExitCode, exitCode, generationEnv, resolveCommand, startFailureCode } from './exec';
import { describeExit, Generation, groupExists } from './generation';
import { openListeners, type OpenedListeners, type SupervisorListener } from './listeners';
import { applyNotification, notifyAddress, oneLine, senderOf } from './notify';
import { FORWARDED_SIGNALS, resolveOptions, STOP_SIGNALS, type ResolvedOptions, type SupervisorOptions } from './options';
import { becomeSubreaper, ZombieReaper } from './reaper';

export {
  DEFAULT_PROBATION,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_RESTART_BACKOFF,
  DEFAULT_RESTART_BACKOFF_MAX,
  DEFAULT_SUPERVISOR_DRAIN_TIMEOUT,
  FORWARDED_SIGNALS,
  type ReadyMode,
  type RestartPolicy,
  type SupervisorOptions,
} from './options';
export { Generation, type GenerationState } from './generation';
export { exitCode, resolveCommand } from './exec';
export type { SupervisorListener } from './listeners';

const JOB_CONTROL_SIGNALS: readonly NodeJS.Signals[] = ['SIGTSTP', 'SIGCONT'];

type Phase = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * The supervisor of `handover run` (overseer's or nginx's master model): one
 * process, one PID for life, that binds the listeners once and runs the app
 * as a series of generations, each started with the listeners as fds 3...
 * and systemd's protocol (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID, and a
 * NOTIFY_SOCKET of the supervisor's own).
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
/** ms a generation that failed to become ready has to answer what it accepted, after SIGTERM. */
export const FAILED_GENERATION_GRACE = 5_000;

/** After this long without READY=1 from the first generation, the log says what READY=1 is. */
const READY_NOTICE_MS = 10_000;
const READY_HINT =
  'The app must send READY=1 to $NOTIFY_SOCKET once it serves: a Node app does with handover\'s listenAndServe or GracefulServer, other programs with sd_notify or systemd-notify --ready; an app that cannot notify can run with --ready exec';

export class Supervisor extends EventEmitter {
  readonly options: ResolvedOptions;
  #log: (line: string) => void;
  #phase: Phase = 'new';
  #opened: OpenedListeners = { listeners: [], fds: [], paths: [] };
  #stdio: number[] = [0, 1, 2];
  #notify: NotifyListener | null = null;
  #upstream: string | undefined;
  #reaper: ZombieReaper | null = null;
  #signalHandlers = new Map<NodeJS.Signals, () => void>();
  #live = new Set<Generation>();
  #groups = new Set<Generation>();
  #count = 0;
  #current: Generation | null = null;
  #next: Generation | null = null;
  #transition: Promise<unknown> | null = null;
  #queued: Promise<Generation> | null = null;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoff: number;
  #killTimers = new Map<Generation, NodeJS.Timeout>();
  #abortReady: ((err: HandoverError) => void) | undefined;
  #endProbation: (() => void) | undefined;
  #stopRequests = 0;
  #lastStatus: ExitStatus | undefined;
  #lastCrash: Crash | undefined;
  #failedStartCode: number | undefined;
  #pidFileWritten = false;
  #exited: Promise<number>;
  #resolveExited!: (code: number) => void;

  constructor(options: SupervisorOptions) {
    super();
    this.options = resolveOptions(options);
    this.#log = this.options.log;
    this.#backoff = this.options.restartBackoff;
    this.#exited = new Promise((resolveExited) => (this.#resolveExited = resolveExited));
  }

  /** Resolves with the supervisor's exit code once it has stopped: the app's status (128 + n for a signal). */
  get exited(): Promise<number> {
    return this.#exited;
  }

  /** The sockets (and other fds) passed to every generation, in fd order from 3. */
  get sockets(): readonly SupervisorListener[] {
    return this.#opened.listeners;
  }

  /** The serving generation, if any. */
  get current(): Generation | null {
    return this.#current;
  }

  /** Every generation whose process has not exited (serving, starting, draining). */
  get generations(): readonly Generation[] {
    return [...this.#live];
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
    return this.#exclusive(() => this.#launch('start'));
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
    if (this.#transition !== null) {
      if (this.#queued === null) {
        this.#log('reload requested while another start is running: one more reload will follow it');
        const queued = this.#transition.then(
          () => undefined,
          () => undefined,
        ).then(() => {
          this.#queued = null;
          return this.reload();
        });
        this.#queued = queued;
      } else {
        this.#log('reload requested again: a reload is already queued');
      }
      return this.#queued;
    }
    if (this.#restartTimer !== undefined) {
      // Crashed and waiting out the back-off: a reload is the restart, now.
      clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
      return this.#exclusive(() => this.#launch('restart'));
    }
    return this.#exclusive(() => this.#launch(this.#current ? 'reload' : 'restart'));
  }

  /**
   * What SIGTERM, SIGINT and SIGQUIT do: forwards `signal` to every
   * generation, stops restarting, and resolves with the exit code once all
   * have exited. Generations that neither exit nor said STOPPING=1 within
   * `drainTimeout` get SIGKILL (their whole process group). Asked a second
   * time, the signal is forwarded again (a GracefulServer then stops
   * draining); a third time, every generation gets SIGKILL.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.#stop(signal);
    return this.#exited;
  }

  /** Sends `signal` to the serving generation (what SIGUSR1 and SIGUSR2 do); false when none serves. */
  forward(signal: NodeJS.Signals): boolean {
    const target = this.#current ?? this.#next;
    if (target === null) {
      this.#log(`no generation to forward ${signal} to`);
      return false;
    }
    this.#log(`forwarding ${signal} to ${target}`);
    return target.signal(signal);
  }

  // --- set-up -------------------------------------------------------------

  async #setUp(): Promise<void> {
    const o = this.options;
    if (o.subreaper && process.platform === 'linux' && process.pid !== 1 && !becomeSubreaper()) {
      this.#log('could not become a child subreaper: orphaned grandchildren will go to PID 1');
    }
    // Like sd_notify(unset_environment): nothing else in this process, and no
    // generation, talks to systemd in our name.
    this.#upstream = process.env.NOTIFY_SOCKET || undefined;
    delete process.env.NOTIFY_SOCKET;
    this.#stdio = this.#stdioTable();

    await openListeners(this.#opened, o.listen, o.inherit, this.#log, (listener) => this.emit('listening', listener));
    if (this.#opened.listeners.length === 0) this.#log('no listeners: the generations get no LISTEN_FDS');

    if (o.ready === 'notify') {
      // The supervisor accepts READY=1 from a generation or its descendants
      // (systemd-notify), which needs the kernel to name every sender.
      if (process.platform !== 'linux') {
        throw new HandoverError('ERR_NOT_SUPPORTED', `readiness over NOTIFY_SOCKET needs sender credentials, which ${process.platform} does not give: use ready: 'exec' (--ready exec)`);
      }
      const path = notifyAddress();
      this.#notify = new NotifyListener(path);
      this.#notify.on('message', (message: NotifyMessage) => this.#onNotify(message));
    }
    if (o.pidFile) {
      writePidFile(o.pidFile);
      this.#pidFileWritten = true;
    }
    if (o.signals) this.#installSignals();
    if (o.reap && process.platform === 'linux') {
      this.#reaper = new ZombieReaper({ isTracked: (pid) => [...this.#live].some((g) => g.owns(pid)) });
      this.#reaper.on('reaped', (info: { pid: number } & ExitStatus) => {
        this.#log(`reaped orphan ${info.pid} (${describeExit(info)})`);
        this.emit('reaped', info);
      });
      this.#reaper.start();
    }
  }

  // fds 0-2 for the generations: ours, except that a terminal is not handed
  // on as stdin (a generation in its own process group reading it would be
  // stopped by SIGTTIN) and a closed one is replaced by /dev/null.
  #stdioTable(): number[] {
    if (this.options.stdio) return [...this.options.stdio];
    return [0, 1, 2].map((fd) => {
      let open = true;
      try {
        fstatSync(fd);
      } catch {
        open = false;
      }
      if (open && !(fd === 0 && isatty(0))) return fd;
      const devNull = openSync('/dev/null', fd === 0 ? 'r' : 'w');
      this.#opened.fds.push(devNull);
      return devNull;
    });
  }

  #installSignals(): void {
    const route = (signal: NodeJS.Signals): void => {
      if (signal === 'SIGHUP') {
        if (this.#phase !== 'running') {
          this.#log('SIGHUP: ignored while stopping');
          return;
        }
        this.#log('SIGHUP: reload');
        this.reload().catch(() => {}); // logged and emitted as 'reload-failed'
      } else if (STOP_SIGNALS.includes(signal)) {
        this.#stop(signal);
      } else if (signal === 'SIGTSTP') {
        this.#jobControl('SIGTSTP');
      } else if (signal === 'SIGCONT') {
        this.#jobControl('SIGCONT');
      } else {
        this.forward(signal);
      }
    };
    for (const signal of ['SIGHUP', ...FORWARDED_SIGNALS, ...JOB_CONTROL_SIGNALS] as NodeJS.Signals[]) {
      const handler = () => route(signal);
      this.#signalHandlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  // Ctrl-Z: the generations run in process groups of their own, so the
  // terminal stops only us. Stop them too, then ourselves; `fg` (SIGCONT)
  // continues them.
  #jobControl(signal: 'SIGTSTP' | 'SIGCONT'): void {
    for (const generation of this.#live) generation.signalGroup(signal === 'SIGTSTP' ? 'SIGSTOP' : 'SIGCONT');
    if (signal === 'SIGTSTP') {
      this.#log('SIGTSTP: stopping the generations and the supervisor (continue with fg or SIGCONT)');
      if (process.pid !== 1) process.kill(process.pid, 'SIGSTOP');
    } else {
      this.#log('SIGCONT: continuing the generations');
    }
  }

  // --- generations --------------------------------------------------------

  // One start, restart or reload at a time.
  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const promise = run();
    this.#transition = promise;
    const done = () => {
      if (this.#transition === promise) this.#transition = null;
      this.#afterTransition();
    };
    promise.then(done, done);
    return promise;
  }

  // A serving generation may have crashed while a reload was running, and the
  // reload failed: nothing serves, restart.
  #afterTransition(): void {
    if (this.#phase !== 'running' || this.#current !== null || this.#transition !== null || this.#queued !== null) return;
    if (this.#restartTimer !== undefined) return;
    if (this.#lastCrash) this.#scheduleRestart(this.#lastCrash);
  }

  #spawn(): Generation {
    const o = this.options;
    const number = this.#count + 1;
    let pid: number;
    try {
      const path = resolveCommand(o.command, o.cwd, (o.env ?? process.env).PATH);
      const env = generationEnv(o.env ?? process.env, this.#opened.listeners.map((l) => l.name), this.#notify?.path);
      pid = forkExecWithFds(path, [o.command, ...o.args], {
        cwd: o.cwd,
        env,
        files: [...this.#stdio, ...this.#opened.listeners.map((l) => l.fd)],
        listenPid: this.#opened.listeners.length > 0,
        // Its own process group: the terminal's Ctrl-C reaches only us, and
        // we forward it once; SIGKILL after the drain timeout reaches all of it.
        setpgid: true,
        // Should the supervisor die (SIGKILL), the generation drains and exits.
        pdeathsig: process.platform === 'linux' ? 'SIGTERM' : undefined,
      });
    } catch (err) {
      throw new HandoverError('ERR_EXEC', `cannot start generation ${number}: ${(err as Error).message}`, { cause: err, exitCode: execExitCode(err) });
    }
    this.#count = number;
    const generation = new Generation(number, pid);
    this.#live.add(generation);
    this.#groups.add(generation);
    generation.on('main-pid', ({ from, to, status }: { from: number; to: number; status: ExitStatus }) => {
      this.#log(`generation ${number}: pid ${from} exited (${describeExit(status)}) and named pid ${to} its successor (MAINPID): following it`);
    });
    generation.on('exit', (status: ExitStatus) => this.#onExit(generation, status));
    this.#log(`generation ${number} started: pid ${pid}: ${[o.command, ...o.args].join(' ')}`);
    this.emit('spawn', generation);
    return generation;
  }

  async #launch(kind: 'start' | 'restart' | 'reload'): Promise<Generation> {
    if (this.#phase !== 'running') throw new HandoverError('ERR_STOPPED', `cannot ${kind}: the supervisor is ${this.#phase}`);
    const old = kind === 'reload' ? this.#current : null;
    if (kind === 'reload') {
      this.#upstreamNotify({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString(), STATUS: `reloading: starting generation ${this.#count + 1}` });
    }
    let generation: Generation | null = null;
    try {
      generation = this.#spawn();
      this.#next = generation;
      await this.#awaitReady(generation);
      if (old !== null && old.alive && this.options.probation > 0) await this.#probation(generation, old);
    } catch (err) {
      if (this.#next === generation) this.#next = null;
      throw this.#launchFailed(kind, generation, err as HandoverError);
    }
    this.#next = null;
    this.#lastCrash = undefined;
    if (this.#phase !== 'running') {
      // Stopped meanwhile: it got the stop signal with the others.
      throw new HandoverError('ERR_STOPPED', `${generation} became ready while stopping`);
    }
    const previous = this.#current;
    this.#current = generation;
    generation.state = 'serving';
    const readyMs = (generation.readyAt ?? Date.now()) - generation.startedAt;
    if (kind === 'reload' && previous !== null) {
      this.#log(`reloaded: ${generation} serves (ready after ${readyMs} ms); stopping ${previous} with SIGTERM`);
      this.#retire(previous);
    } else {
      this.#log(`${generation} is ready after ${readyMs} ms: serving`);
    }
    this.#upstreamNotify({ READY: 1, ...(kind === 'start' ? { MAINPID: process.pid } : {}), STATUS: `serving: generation ${generation.number} (pid ${generation.pid})` });
    this.emit('ready', generation);
    if (kind === 'reload') this.emit('reloaded', { generation, previous });
    return generation;
  }

  #launchFailed(kind: 'start' | 'restart' | 'reload', generation: Generation | null, err: HandoverError): HandoverError {
    const stopping = this.#phase !== 'running';
    // A failed generation is killed (all of its group) before anything is
    // reported; when stopping it got the stop signal instead.
    if (generation !== null && generation.alive && !stopping) this.#dismiss(generation);
    const serving = this.#current;
    if (kind === 'start') {
      if (!stopping) {
        this.#log(`start failed: ${err.message}`);
        this.#failedStartCode = startFailureCode(err);
        this.#stop(null);
      }
    } else if (kind === 'reload') {
      this.#log(`reload failed: ${err.message}; ${serving !== null ? `${serving} goes on serving` : 'no generation serves'}`);
      this.#upstreamNotify({ READY: 1, STATUS: `reload failed: ${err.message}` });
      this.emit('reload-failed', err);
    } else if (!stopping) {
      // A restart that failed is one more crash in a row.
      const status: ExitStatus = generation?.exitStatus ?? { code: (err as { exitCode?: number }).exitCode ?? 1, signal: null };
      this.#lastCrash = { label: generation !== null ? String(generation) : `generation ${this.#count + 1}`, status, readyAt: undefined };
      this.#log(`restart failed: ${err.message}`);
    }
    return err;
  }

  #awaitReady(generation: Generation): Promise<void> {
    if (this.options.ready === 'exec') {
      generation.markReady();
      return Promise.resolve();
    }
    const timeout = this.options.readyTimeout;
    return new Promise<void>((resolveReady, rejectReady) => {
      let settled = false;
      const finish = (err: HandoverError | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        generation.off('ready', onReady);
        generation.off('exit', onExit);
        if (this.#abortReady === finish) this.#abortReady = undefined;
        if (err === null) {
          resolveReady();
          return;
        }
        if (!generation.alive) {
          rejectReady(err);
          return;
        }
        if (this.#phase === 'running') this.#dismiss(generation);
        generation.exited.then(() => rejectReady(err));
      };
      const onReady = () => finish(null);
      const onExit = (status: ExitStatus) =>
        finish(
          new HandoverError('ERR_CHILD_EXITED', `${generation} exited before it was ready: ${describeExit(status)}${this.#exitHint(status)}`, {
            pid: generation.pid,
            exitCode: status.code,
            signal: status.signal,
          }),
        );
      const timer = setTimeout(
        () => finish(new HandoverError('ERR_UPGRADE_TIMEOUT', `${generation} was not ready within ${timeout} ms; it was killed${generation.number === 1 ? `. ${READY_HINT}` : ''}`, { pid: generation.pid })),
        timeout,
      );
      // A newcomer's app that never notifies should not wait a minute in silence.
      const notice = generation.number === 1 && timeout > 2 * READY_NOTICE_MS ? setTimeout(() => this.#log(`${generation} has not said READY=1 after ${READY_NOTICE_MS / 1000} s (killed after ${timeout / 1000} s). ${READY_HINT}`), READY_NOTICE_MS) : undefined;
      notice?.unref();
      void generation.exited.then(() => clearTimeout(notice));
      generation.once('ready', () => clearTimeout(notice));
      generation.on('ready', onReady);
      generation.on('exit', onExit);
      this.#abortReady = finish;
      if (generation.state !== 'starting') finish(null);
    });
  }

  // An app that exits before it is ready, under listeners it was handed, has
  // most likely bound one of their addresses itself (EADDRINUSE: handover holds it).
  #exitHint(status: ExitStatus): string {
    if (status.code === null || status.code === 0 || this.#count > 1) return '';
    const stream = this.#opened.listeners.find((l) => l.kind === 'stream');
    if (stream === undefined) return '';
    return `. If it failed with EADDRINUSE, it bound ${stream.text} itself, which handover holds: the app must adopt the socket passed as fd 3 (LISTEN_FDS), as handover's listenAndServe and GracefulServer do`;
  }

  // Both serve; the new one must survive `probation` ms. The old one exiting
  // meanwhile ends the probation early: the new one is all there is.
  #probation(generation: Generation, old: Generation): Promise<void> {
    const ms = this.options.probation;
    this.#log(`${generation} is ready; probation for ${ms} ms while ${old} goes on serving`);
    return new Promise<void>((resolveProbation, rejectProbation) => {
      let settled = false;
      const finish = (err: HandoverError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        generation.off('exit', onExit);
        if (this.#endProbation === end) this.#endProbation = undefined;
        if (err) rejectProbation(err);
        else resolveProbation();
      };
      const onExit = (status: ExitStatus) =>
        finish(
          new HandoverError('ERR_CHILD_EXITED', `${generation} exited during its probation: ${describeExit(status)}; rolled back`, {
            pid: generation.pid,
            exitCode: status.code,
            signal: status.signal,
            phase: 'probation',
          }),
        );
      const end = () => finish(this.#phase === 'running' ? null : new HandoverError('ERR_STOPPED', `stopped during the probation of ${generation}`));
      const timer = setTimeout(end, ms);
      generation.on('exit', onExit);
      this.#endProbation = end;
    });
  }

  // A generation that failed to become ready may already have accepted
  // connections from the shared socket: SIGTERM (with SIGCONT, should it be
  // stopped) lets it answer them and exit; its group gets SIGKILL after
  // FAILED_GENERATION_GRACE. The failure is reported once it is gone.
  #dismiss(generation: Generation): void {
    generation.state = 'stopping';
    generation.signalGroup('SIGTERM');
    generation.signalGroup('SIGCONT');
    const timer = setTimeout(() => {
      if (generation.alive) generation.signalGroup('SIGKILL');
    }, Math.min(FAILED_GENERATION_GRACE, this.options.drainTimeout));
    timer.unref();
    void generation.exited.then(() => clearTimeout(timer));
  }

  // Tell an old generation to stop: SIGTERM, then SIGKILL after the drain
  // timeout unless it said STOPPING=1 (then it drains by its own rules).
  #retire(generation: Generation, signal: NodeJS.Signals = 'SIGTERM'): void {
    generation.state = 'stopping';
    generation.signal(signal);
    this.#armKill(generation, signal);
  }

  #armKill(generation: Generation, signal: NodeJS.Signals): void {
    if (this.#killTimers.has(generation) || !generation.alive) return;
    const timer = setTimeout(() => {
      this.#killTimers.delete(generation);
      if (!generation.alive) return;
      if (generation.announcedStopping) {
        this.#log(`${generation} is still draining ${this.options.drainTimeout} ms after ${signal}; it said STOPPING=1, so it drains by its own rules`);
        return;
      }
      this.#log(`${generation} did not exit within ${this.options.drainTimeout} ms of ${signal}: SIGKILL to its process group`);
      generation.signalGroup('SIGKILL');
    }, this.options.drainTimeout);
    timer.unref();
    this.#killTimers.set(generation, timer);
  }

  #onExit(generation: Generation, status: ExitStatus): void {
    this.#live.delete(generation);
    const timer = this.#killTimers.get(generation);
    if (timer) clearTimeout(timer);
    this.#killTimers.delete(generation);
    if (!groupExists(generation.pgid)) this.#groups.delete(generation);
    this.emit('generation-exit', { generation, status });
    const wasCurrent = generation === this.#current;
    if (wasCurrent) {
      this.#current = null;
      this.#lastStatus = status;
    }
    if (this.#phase === 'stopping' || this.#phase === 'stopped') {
      this.#log(`${generation} exited (${describeExit(status)})`);
      if (wasCurrent || this.#lastStatus === undefined) this.#lastStatus = status;
      this.#maybeFinish();
      return;
    }
    if (generation === this.#next) {
      // The running start or reload reports it.
      return;
    }
    if (!wasCurrent) {
      this.#log(`${generation} exited (${describeExit(status)})`);
      return;
    }
    // The serving generation exited on its own.
    const crash: Crash = { label: String(generation), status, readyAt: generation.readyAt };
    if (this.#endProbation !== undefined) {
      this.#log(`${generation} exited (${describeExit(status)}) during the probation of its successor: ending the probation`);
      this.#endProbation();
      return;
    }
    if (this.#transition !== null) {
      this.#lastCrash = crash;
      this.#log(`${generation} exited (${describeExit(status)}) during a reload: the new generation will take over`);
      return;
    }
    const policy = this.options.restart;
    if (policy === 'never' || (policy === 'on-failure' && status.code === 0)) {
      this.#log(`${generation} exited (${describeExit(status)}); restart policy "${policy}": stopping`);
      this.#stop(null);
      return;
    }
    this.#scheduleRestart(crash);
  }

  #scheduleRestart(crash: Crash): void {
    const o = this.options;
    // A generation that served for a long while ends the streak of crashes.
    if (crash.readyAt !== undefined && Date.now() - crash.readyAt >= o.restartBackoffMax) this.#backoff = o.restartBackoff;
    const delay = this.#backoff;
    this.#backoff = Math.min(o.restartBackoffMax, Math.max(this.#backoff * 2, 1));
    this.#lastCrash = undefined;
    const what = `${crash.label} ${crash.readyAt === undefined ? 'failed to start' : 'crashed'} (${describeExit(crash.status)})`;
    this.#log(`${what}; restarting in ${delay} ms`);
    this.#upstreamNotify({ STATUS: `${what}; restarting in ${delay} ms` });
    this.emit('crash', { ...crash, delay });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#exclusive(() => this.#launch('restart')).catch(() => {}); // logged; the next crash is scheduled after it
    }, delay);
  }

  // --- notifications ------------------------------------------------------

  #onNotify(message: NotifyMessage): void {
    const generation = senderOf(message.pid, this.#live);
    if (generation === null) {
      this.#log(`ignoring a notification from pid ${message.pid}: not a generation or one of its descendants (${oneLine(message.raw)})`);
      return;
    }
    this.emit('message', { generation, message });
    applyNotification(generation, message, this.#log);
  }

  #upstreamNotify(fields: NotifyFields): void {
    if (!this.#upstream) return;
    try {
      sdNotify(this.#upstream, fields);
    } catch (err) {
      this.#log(`could not notify ${this.#upstream}: ${(err as Error).message}`);
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
    if (signal !== null) this.#stopRequests++;
    if (this.#phase === 'running') {
      this.#phase = 'stopping';
      if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
      this.#upstreamNotify({ STOPPING: 1, STATUS: 'stopping' });
      const targets = [...this.#live];
      if (signal !== null) {
        this.#log(targets.length > 0 ? `${signal}: stopping; forwarding ${signal} to ${targets.join(', ')}` : `${signal}: stopping`);
      } else if (targets.length > 0) {
        this.#log(`stopping; SIGTERM to ${targets.join(', ')}`);
      }
      for (const generation of targets) {
        if (generation.state === 'stopping') continue; // already draining
        generation.state = 'stopping';
        generation.signal(signal ?? 'SIGTERM');
        this.#armKill(generation, signal ?? 'SIGTERM');
      }
      this.#abortReady?.(new HandoverError('ERR_STOPPED', `stopped (${signal ?? 'the app exited'}) before the new generation was ready`));
      this.#endProbation?.();
      this.#closeListeners();
    } else if (signal !== null && this.#stopRequests === 2) {
      this.#log(`${signal} again: forwarding it again to ${[...this.#live].join(', ') || 'nobody'}`);
      for (const generation of this.#live) generation.signal(signal);
    } else if (signal !== null) {
      this.#log(`${signal} a third time: SIGKILL to ${[...this.#live].join(', ') || 'nobody'}`);
      for (const generation of this.#live) generation.signalGroup('SIGKILL');
    }
    this.#maybeFinish();
  }

  // No generation will be started any more: a port nobody will serve must
  // refuse connections now rather than queue them until we exit.
  #closeListeners(): void {
    const listening = new Set(this.#opened.listeners.map((l) => l.fd));
    for (const fd of listening) closeQuietly(fd);
    this.#opened.fds = this.#opened.fds.filter((fd) => !listening.has(fd));
  }

  #maybeFinish(): void {
    if (this.#phase !== 'stopping' || this.#live.size > 0) return;
    this.#finish(this.#failedStartCode ?? exitCode(this.#lastStatus));
  }

  #finish(code: number): void {
    if (this.#phase === 'stopped') return;
    this.#phase = 'stopped';
    for (const [signal, handler] of this.#signalHandlers) process.off(signal, handler);
    this.#signalHandlers.clear();
    for (const timer of this.#killTimers.values()) clearTimeout(timer);
    this.#killTimers.clear();
    // What the generations left behind in their process groups goes with them.
    for (const generation of this.#groups) generation.signalGroup('SIGKILL');
    this.#groups.clear();
    this.#reaper?.stop();
    this.#notify?.close();
    this.#notify = null;
    for (const path of this.#opened.paths) unlinkQuietly(path);
    for (const fd of this.#opened.fds) closeQuietly(fd);
    this.#opened.fds = [];
    if (this.#pidFileWritten && this.options.pidFile) {
      try {
        if (readFileSync(this.options.pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(this.options.pidFile);
      } catch {
        // gone already
      }
    }
    this.#log(`exiting with code ${code}`);
    this.emit('stopped', code);
    this.#resolveExited(code);
  }
}

/** A generation that exited on its own, or could not be started, waiting for its restart. */
interface Crash {
  label: string;
  status: ExitStatus;
  /** When it had said READY=1; undefined when it never did. */
  readyAt: number | undefined;
}

