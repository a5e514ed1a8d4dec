import { HandoverError } from '../core';
import type { ExitStatus } from '../native';
import { describeExit, type Generation } from './generation';
import type { Log } from './log';
import type { ResolvedOptions } from './options';
import { FAILED_GENERATION_GRACE } from './grace';

/** After this long without READY=1 from the first generation, the log says what READY=1 is. */
const READY_NOTICE_MS = 10_000;
const READY_HINT =
  "The app must send READY=1 to $NOTIFY_SOCKET once it serves: a Node app does with handover's listenAndServe or GracefulServer, other programs with sd_notify or systemd-notify --ready; an app that cannot notify can run with --ready exec";

/** What {@link awaitReady} and {@link probation} need around them. */
export interface WaitContext {
  options: ResolvedOptions;
  log: Log;
  /** False once stopping: a failed generation is then not dismissed (it got the stop signal). */
  running(): boolean;
  /** Why a first generation exited before it was ready ('' when no guess). */
  exitHint(status: ExitStatus): string;
}

/**
 * Resolves once `generation` said READY=1 (at once with `ready: 'exec'`).
 * Rejects with ERR_CHILD_EXITED when it exits first and ERR_UPGRADE_TIMEOUT
 * after `readyTimeout` — then it is dismissed and gone before the rejection
 * — or with whatever error is passed to the function given to `abortable`.
 */
export function awaitReady(generation: Generation, context: WaitContext, abortable: (abort: ((err: HandoverError) => void) | undefined) => void): Promise<void> {
  const o = context.options;
  if (o.ready === 'exec') {
    generation.markReady();
    return Promise.resolve();
  }
  const timeout = o.readyTimeout;
  const first = generation.number === 1;
  return new Promise<void>((resolveReady, rejectReady) => {
    let settled = false;
    const finish = (err: HandoverError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(notice);
      generation.off('ready', onReady);
      generation.off('exit', onExit);
      abortable(undefined);
      if (err === null) {
        resolveReady();
        return;
      }
      if (!generation.alive) {
        rejectReady(err);
        return;
      }
      if (context.running()) generation.dismiss(Math.min(FAILED_GENERATION_GRACE, o.drainTimeout));
      generation.exited.then(() => rejectReady(err));
    };
    const onReady = () => finish(null);
    const onExit = (status: ExitStatus) =>
      finish(
        new HandoverError('ERR_CHILD_EXITED', `${generation} exited before it was ready: ${describeExit(status)}${first ? context.exitHint(status) : ''}`, {
          pid: generation.pid,
          exitCode: status.code,
          signal: status.signal,
        }),
      );
    const timer = setTimeout(
      () => finish(new HandoverError('ERR_UPGRADE_TIMEOUT', `${generation} was not ready within ${timeout} ms; it was killed${first ? `. ${READY_HINT}` : ''}`, { pid: generation.pid })),
      timeout,
    );
    // A newcomer's app that never notifies should not wait a minute in silence.
    const notice =
      first && timeout > 2 * READY_NOTICE_MS
        ? setTimeout(() => context.log(`${generation} has not said READY=1 after ${READY_NOTICE_MS / 1000} s (killed after ${timeout / 1000} s). ${READY_HINT}`), READY_NOTICE_MS)
        : undefined;
    generation.on('ready', onReady);
    generation.on('exit', onExit);
    abortable(finish);
    if (generation.state !== 'starting') finish(null);
  });
}

/**
 * Both serve; the new generation must survive `probation` ms. Resolves at
 * its end, or early through the function given to `endable` (the old
 * generation exited meanwhile: the new one is all there is). Rejects with
 * ERR_CHILD_EXITED when the new one dies meanwhile, and with ERR_STOPPED
 * when the supervisor stopped.
 */
export function probation(generation: Generation, old: Generation, context: WaitContext, endable: (end: (() => void) | undefined) => void): Promise<void> {
  const ms = context.options.probation;
  context.log(`${generation} is ready; probation for ${ms} ms while ${old} goes on serving`);
  return new Promise<void>((resolveProbation, rejectProbation) => {
    let settled = false;
    const finish = (err: HandoverError | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      generation.off('exit', onExit);
      endable(undefined);
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
    const end = () => finish(context.running() ? null : new HandoverError('ERR_STOPPED', `stopped during the probation of ${generation}`));
    const timer = setTimeout(end, ms);
    generation.on('exit', onExit);
    endable(end);
  });
}
