import { spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { HandoverError, version } from '../core';
import { native } from '../native';
import { Generation } from './generation';
import { CHECK_STATE_FD_ENV, STATE_FD_ENV, STATE_SCHEMA, type SupervisorState, writeState } from './image-state';
import type { Log } from './log';
import type { Operations } from './operations';
import type { ResolvedOptions } from './options';
import type { Pool } from './pool';
import { servingStatus } from './relay';
import type { Resources } from './resources';

/** How to start this supervisor again: `handover run` sets it (node, its flags, the script, the same arguments). */
export interface ReexecCommand {
  file: string;
  args: string[];
}

/** ms the pre-flight run of the new image has to read the state. */
export const PREFLIGHT_TIMEOUT = 30_000;

/** Most bytes of the pre-flight run's stderr kept for the error. */
const STDERR_LIMIT = 4096;

/**
 * The pre-flight of `handover upgrade-self`: the new image (what `command`
 * runs now: the installed handover, the installed node) is started with the
 * state as its fd 3 and {@link CHECK_STATE_FD_ENV}; it loads, reads and
 * checks the state, and exits 0 without touching anything. Resolves then;
 * rejects with ERR_EXEC (with the end of its stderr) otherwise — and the
 * running supervisor goes on as it was.
 */
export function preflight(command: ReexecCommand, stateFd: number, timeout = PREFLIGHT_TIMEOUT): Promise<void> {
  return new Promise((resolveCheck, rejectCheck) => {
    const child = spawn(command.file, command.args, {
      stdio: ['ignore', 'ignore', 'pipe', stateFd],
      env: { ...process.env, [CHECK_STATE_FD_ENV]: '3', [STATE_FD_ENV]: undefined },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_LIMIT)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    const fail = (why: string) => rejectCheck(new HandoverError('ERR_EXEC', `the new image failed its pre-flight (${command.file} ${command.args.join(' ')}): ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}; this supervisor goes on unchanged`));
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(err.message);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveCheck();
      else fail(signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (no answer within ${timeout} ms)` : ''}` : `exit code ${code}`);
    });
  });
}

/**
 * Replaces this process by the new image (execve: same pid, same children),
 * with `keep` open and the state's fd in {@link STATE_FD_ENV}. Returns only
 * when execve failed: then it throws ERR_EXEC and nothing has changed.
 */
export function reexec(command: ReexecCommand, stateFd: number, keep: readonly number[]): never {
  const env = { ...process.env, [STATE_FD_ENV]: String(stateFd) };
  const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  try {
    native('upgradeSelf').reexec(command.file, [command.file, ...command.args], envp, [...keep, stateFd]);
  } catch (err) {
    closeSync(stateFd);
    throw new HandoverError('ERR_EXEC', `cannot re-execute ${command.file}: ${(err as Error).message}; this supervisor goes on unchanged`, { cause: err });
  }
  throw new HandoverError('ERR_EXEC', 'execve returned');
}

/** What {@link SelfUpgrade} needs of the supervisor. */
export interface SelfUpgradeHost {
  readonly options: ResolvedOptions;
  log: Log;
  /** The supervisor: `upgrading-self` is emitted on it just before the execve. */
  events: EventEmitter;
  pool: Pool;
  resources: Resources;
  operations: Operations;
  /** Why it is not running (`new`, `stopping`...), or undefined while it runs. */
  notRunning(): string | undefined;
  /** Generations started so far. */
  count(): number;
}

/**
 * The supervisor's re-execution in place (`handover upgrade-self`), both
 * halves: {@link run} in the old image — the pre-flight, then execve — and
 * {@link takeOver} in the new one, which adopts what the state describes.
 */
export class SelfUpgrade {
  readonly #host: SelfUpgradeHost;
  #running = false;
  /** When the supervisor started (before any re-exec). */
  startedAt = Date.now();
  /** Re-executions in place so far. */
  execs = 0;

  constructor(host: SelfUpgradeHost) {
    this.#host = host;
  }

  /**
   * The command the supervisor was started with (options.reexec) — a new
   * handover after an install, a new node — replaces this image with
   * execve. The pid stays, so do the listeners and the generations, which
   * stay its children and serve throughout. A pre-flight run of the new
   * image reads the state first: if it cannot, this rejects (ERR_EXEC) and
   * nothing changed. Refused while a reload, restart or scale step runs
   * (ERR_UPGRADE_IN_PROGRESS) or while stopping (ERR_STOPPED). Resolves never.
   */
  async run(): Promise<never> {
    const host = this.#host;
    const command = host.options.reexec;
    if (command === undefined) throw new HandoverError('ERR_NOT_SUPPORTED', 'upgrade-self needs options.reexec: the command line that starts this supervisor (handover run sets it)');
    const refused = this.#running ? new HandoverError('ERR_UPGRADE_IN_PROGRESS', 'an upgrade-self runs already') : this.#refusal();
    if (refused) throw refused;
    this.#running = true;
    try {
      const checkFd = writeState(this.snapshot());
      await preflight(command, checkFd).finally(() => closeSync(checkFd));
      const late = this.#refusal();
      if (late) throw late;
      const stateFd = writeState(this.snapshot()); // as it is now, not as at the pre-flight
      host.log(`re-executing in place: ${command.file} ${command.args.join(' ')} (the pre-flight read the state)`, { event: 'upgrade-self' });
      host.events.emit('upgrading-self', { version: version(), execs: this.execs + 1 });
      await new Promise(setImmediate);
      await host.operations.close(); // the control socket's answer goes first
      try {
        return reexec(command, stateFd, host.resources.keptFds);
      } catch (err) {
        await host.operations.open();
        throw err;
      }
    } finally {
      this.#running = false;
    }
  }

  /** The state the new image takes over. */
  snapshot(): SupervisorState {
    const { pool, resources, operations } = this.#host;
    const base = { schema: STATE_SCHEMA, version: version(), pid: process.pid, startedAt: this.startedAt, execs: this.execs + 1, count: this.#host.count() };
    return { ...base, resources: resources.snapshot(), slots: pool.snapshot(), generations: pool.generations.map((g) => g.snapshot()), operations: operations.snapshot() };
  }

  /** In the new image, once the resources are taken over: the generations and their slots, the counters. Returns the generations. */
  takeOver(state: SupervisorState): Generation[] {
    const { pool, resources, operations, log } = this.#host;
    [this.startedAt, this.execs] = [state.startedAt, state.execs];
    const generations = state.generations.map((g) => Generation.adopt(g, log));
    pool.adopt(state.slots, generations);
    operations.restore(state.operations);
    const adopted = `${resources.opened.listeners.length} listener(s) and ${generations.join(', ') || 'no generation'}`;
    log(`re-executed in place: handover ${state.version} -> ${version()} (exec ${state.execs}); took over ${adopted}`, { event: 'upgraded-self', from: state.version, to: version() });
    resources.upstream.send({ STATUS: servingStatus(pool) });
    return generations;
  }

  #refusal(): HandoverError | undefined {
    const why = this.#host.notRunning();
    if (why !== undefined) return new HandoverError('ERR_STOPPED', `cannot upgrade itself: the supervisor is ${why}`);
    if (!this.#host.pool.quiet) return new HandoverError('ERR_UPGRADE_IN_PROGRESS', 'a reload, restart or scale step runs: try again once it is over');
    return undefined;
  }
}
