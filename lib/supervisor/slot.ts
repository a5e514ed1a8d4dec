import { EventEmitter } from 'node:events';
import { HandoverError } from '../core';
import type { ExitStatus } from '../native';
import { describeExit, type Generation } from './generation';
import { FAILED_GENERATION_GRACE } from './grace';
import type { Log } from './log';
import type { ResolvedOptions } from './options';
import { awaitReady, probation } from './waits';

export { FAILED_GENERATION_GRACE } from './grace';

/**
 * How a generation of a slot came to be started: the supervisor's start, a
 * restart after a crash (or a slot added later), a reload step, or a
 * recycling (a reload step of its own, for --max-memory or --max-lifetime).
 */
export type LaunchKind = 'start' | 'restart' | 'reload' | 'recycle';

/** What a {@link Slot} needs from the supervisor around it. */
export interface SlotHost {
  readonly options: ResolvedOptions;
  log: Log;
  /** Starts a generation for `slot` with the listeners (throws ERR_EXEC). */
  spawn(slot: Slot): Generation;
  /** False once the supervisor is stopping: nothing more is started. */
  running(): boolean;
  /** Why a first generation may have exited before it was ready ('' when no guess). */
  exitHint(status: ExitStatus): string;
  /** "generation 7": the next generation's name, for a start that failed before it had a pid. */
  upcoming(): string;
}

/** A generation that exited on its own, or could not be started, waiting for its restart. */
export interface Crash {
  label: string;
  status: ExitStatus;
  /** When it had said READY=1; undefined when it never did. */
  readyAt: number | undefined;
}

/**
 * The lifecycle of one replaceable process: start a generation and wait for
 * its READY=1; to replace it, start the successor, wait for its READY=1 and
 * `probation`, then retire the old one (SIGTERM, SIGKILL after the drain
 * timeout unless it said STOPPING=1); restart a crashed one with
 * exponential back-off. A successor that fails (exec error, exit, timeout,
 * death in probation) is dismissed and the old generation goes on serving.
 * One launch at a time.
 *
 * Events: `launching` { kind }, `spawn` (Generation), `launched` { kind,
 * generation, previous }, `launch-failed` { kind, generation, error },
 * `crash` { label, status, readyAt, delay }, `generation-exit`
 * { generation, status }, `ended` (ExitStatus: the serving generation
 * exited and the restart policy says to leave it so).
 */
export class Slot extends EventEmitter {
  /** 0, 1, ... : `HANDOVER_WORKER_ID` of its generations. */
  readonly id: number;
  /** The serving generation, if any. */
  current: Generation | null = null;
  /** A generation being started, until it is ready (and through its probation). */
  next: Generation | null = null;
  /** The status of the serving generation that exited last. */
  lastStatus: ExitStatus | undefined;
  /** Restarts after a crash (or a failed start) so far. */
  restarts = 0;
  /** The last of its generations to exit: how, when and why (`crash`, `replaced`, `recycled`, `failed`, `stopped`). */
  lastExit: (ExitStatus & { generation: number; pid: number; at: number; reason: string }) | undefined;
  readonly #host: SlotHost;
  readonly #live = new Set<Generation>();
  #transition: Promise<Generation> | null = null;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoff: number;
  #lastCrash: Crash | undefined;
  #abortReady: ((err: HandoverError) => void) | undefined;
  #endProbation: (() => void) | undefined;
  /** Set by {@link close}: the slot is being removed, nothing is started in it any more. */
  #closed = false;

  constructor(id: number, host: SlotHost) {
    super();
    this.id = id;
    this.#host = host;
    this.#backoff = host.options.restartBackoff;
  }

  /** Its generations whose process has not exited. */
  get generations(): readonly Generation[] {
    return [...this.#live];
  }

  /** A launch (start, restart, replacement) is running. */
  get busy(): boolean {
    return this.#transition !== null;
  }

  /** Crashed, and waiting out its back-off before the restart. */
  get restarting(): boolean {
    return this.#restartTimer !== undefined;
  }

  /** Resolves once no launch is running. */
  async settled(): Promise<void> {
    while (this.#transition !== null) await this.#transition.catch(() => undefined);
  }

  /** Starts the first generation; resolves once it is ready. */
  start(): Promise<Generation> {
    return this.#exclusive(() => this.#launch('start'));
  }

  /** Starts a generation in a slot added later: like a restart, a failure is retried with back-off. */
  begin(): Promise<Generation> {
    return this.#exclusive(() => this.#launch('restart'));
  }

  /**
   * Replaces the serving generation (a reload): resolves with the successor
   * once it serves; rejects when it failed, and the old one goes on. With
   * nothing serving (crashed, waiting out its back-off) it is the restart, now.
   */
  replace(kind: 'reload' | 'recycle' = 'reload'): Promise<Generation> {
    if (this.#restartTimer !== undefined) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
      return this.#exclusive(() => this.#launch('restart'));
    }
    return this.#exclusive(() => this.#launch(this.current ? kind : 'restart'));
  }

  /** {@link replace} once the launch running now (a restart, say) is over. */
  async replaceWhenSettled(kind: 'reload' | 'recycle' = 'reload'): Promise<Generation> {
    await this.settled();
    return this.replace(kind);
  }

  /** Removes the slot: nothing more is started in it, and its generations are told to stop (see {@link stop}). */
  close(signal: NodeJS.Signals, reason: string): void {
    this.#closed = true;
    for (const generation of this.#live) generation.why ??= 'removed';
    this.stop(signal, reason);
  }

  #running(): boolean {
    return this.#host.running() && !this.#closed;
  }

  /**
   * Stops restarting and tells every generation to stop with `signal`
   * (SIGKILL after the drain timeout unless it said STOPPING=1); a launch
   * waiting for READY=1 or in probation ends with ERR_STOPPED.
   */
  stop(signal: NodeJS.Signals, reason: string): void {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    for (const generation of this.#live) {
      if (generation.state !== 'stopping') generation.retire(signal, this.#host.options.drainTimeout, this.#host.log);
    }
    this.#abortReady?.(new HandoverError('ERR_STOPPED', `stopped (${reason}) before the new generation was ready`));
    this.#endProbation?.();
  }

  // One start, restart or replacement at a time.
  #exclusive(run: () => Promise<Generation>): Promise<Generation> {
    const promise = run();
    this.#transition = promise;
    const done = () => {
      if (this.#transition === promise) this.#transition = null;
      this.#afterTransition();
    };
    promise.then(done, done);
    return promise;
  }

  // The serving generation may have crashed while a replacement was running,
  // and the replacement failed: nothing serves, restart.
  #afterTransition(): void {
    if (!this.#running() || this.current !== null || this.#transition !== null || this.#restartTimer !== undefined) return;
    if (this.#lastCrash) this.#scheduleRestart(this.#lastCrash);
  }

  #spawn(): Generation {
    const generation = this.#host.spawn(this);
    this.#live.add(generation);
    generation.on('exit', (status: ExitStatus) => this.#onExit(generation, status));
    this.emit('spawn', generation);
    return generation;
  }

  async #launch(kind: LaunchKind): Promise<Generation> {
    if (!this.#running()) throw new HandoverError('ERR_STOPPED', `cannot ${kind}: the supervisor is stopping`);
    const old = kind === 'reload' || kind === 'recycle' ? this.current : null;
    this.emit('launching', { kind });
    let generation: Generation | null = null;
    try {
      generation = this.#spawn();
      this.next = generation;
      const context = { ...this.#host, running: () => this.#running() };
      await awaitReady(generation, context, (abort) => (this.#abortReady = abort));
      if (old !== null && old.alive && this.#host.options.probation > 0) await probation(generation, old, context, (end) => (this.#endProbation = end));
    } catch (err) {
      if (this.next === generation) this.next = null;
      throw this.#launchFailed(kind, generation, err as HandoverError);
    }
    this.next = null;
    this.#lastCrash = undefined;
    if (!this.#running()) {
      // Stopped meanwhile: it got the stop signal with the others.
      throw new HandoverError('ERR_STOPPED', `${generation} became ready while stopping`);
    }
    const previous = this.current;
    this.current = generation;
    generation.state = 'serving';
    const readyMs = (generation.readyAt ?? Date.now()) - generation.startedAt;
    if (old !== null && previous !== null) {
      this.#host.log(`${kind === 'reload' ? 'reloaded' : 'recycled'}: ${generation} serves (ready after ${readyMs} ms); stopping ${previous} with SIGTERM`);
      previous.retire('SIGTERM', this.#host.options.drainTimeout, this.#host.log, kind === 'reload' ? 'replaced' : 'recycled');
    } else {
      this.#host.log(`${generation} is ready after ${readyMs} ms: serving`);
    }
    this.emit('launched', { kind, generation, previous });
    return generation;
  }

  #launchFailed(kind: LaunchKind, generation: Generation | null, err: HandoverError): HandoverError {
    const running = this.#running();
    // A failed generation is killed (all of its group) before anything is
    // reported; when stopping it got the stop signal instead.
    if (generation !== null && generation.alive && running) generation.dismiss(Math.min(FAILED_GENERATION_GRACE, this.#host.options.drainTimeout));
    if (kind === 'restart' && running) {
      // A restart that failed is one more crash in a row.
      const status: ExitStatus = generation?.exitStatus ?? { code: (err as { exitCode?: number }).exitCode ?? 1, signal: null };
      this.#lastCrash = { label: generation !== null ? String(generation) : this.#host.upcoming(), status, readyAt: undefined };
      this.#host.log(`restart failed: ${err.message}`);
    }
    this.emit('launch-failed', { kind, generation, error: err });
    return err;
  }

  #onExit(generation: Generation, status: ExitStatus): void {
    this.#live.delete(generation);
    const wasCurrent = generation === this.current;
    if (wasCurrent) {
      this.current = null;
      this.lastStatus = status;
    }
    const reason = generation.why ?? (wasCurrent ? 'crash' : generation === this.next || generation.readyAt === undefined ? 'failed' : 'exited');
    this.lastExit = { ...status, generation: generation.number, pid: generation.pid, at: Date.now(), reason };
    this.emit('generation-exit', { generation, status, wasCurrent });
    if (this.#live.size === 0) this.emit('empty');
    if (!this.#host.running()) return; // the supervisor reports it, and may be done
    if (this.#closed) {
      this.#host.log(`${generation} exited (${describeExit(status)})`);
      return;
    }
    if (generation === this.next) return; // the running launch reports it
    if (!wasCurrent) {
      this.#host.log(`${generation} exited (${describeExit(status)})`);
      return;
    }
    // The serving generation exited on its own.
    const crash: Crash = { label: String(generation), status, readyAt: generation.readyAt };
    if (this.#endProbation !== undefined) {
      this.#host.log(`${generation} exited (${describeExit(status)}) during the probation of its successor: ending the probation`);
      this.#endProbation();
      return;
    }
    if (this.#transition !== null) {
      this.#lastCrash = crash;
      this.#host.log(`${generation} exited (${describeExit(status)}) during a reload: the new generation will take over`);
      return;
    }
    const policy = this.#host.options.restart;
    if (policy === 'never' || (policy === 'on-failure' && status.code === 0)) {
      this.#host.log(`${generation} exited (${describeExit(status)}); restart policy "${policy}": stopping`);
      this.emit('ended', status);
      return;
    }
    this.#scheduleRestart(crash);
  }

  #scheduleRestart(crash: Crash): void {
    const o = this.#host.options;
    // A generation that served for a long while ends the streak of crashes.
    if (crash.readyAt !== undefined && Date.now() - crash.readyAt >= o.restartBackoffMax) this.#backoff = o.restartBackoff;
    const delay = this.#backoff;
    this.#backoff = Math.min(o.restartBackoffMax, Math.max(this.#backoff * 2, 1));
    this.#lastCrash = undefined;
    this.restarts++;
    this.#host.log(`${describeCrash(crash)}; restarting in ${delay} ms`);
    this.emit('crash', { ...crash, delay });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#exclusive(() => this.#launch('restart')).catch(() => {}); // logged; the next crash is scheduled after it
    }, delay);
  }
}

/** "generation 2 (pid 7) crashed (exit code 1)", or "... failed to start (...)". */
export function describeCrash(crash: Crash): string {
  return `${crash.label} ${crash.readyAt === undefined ? 'failed to start' : 'crashed'} (${describeExit(crash.status)})`;
}
