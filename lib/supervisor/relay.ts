import type { EventEmitter } from 'node:events';
import type { HandoverError } from '../core';
import type { ExitStatus } from '../native';
import { monotonicUsec, type Upstream } from '../protocol';
import type { Generation } from './generation';
import type { Log } from './log';
import type { Pool } from './pool';
import { describeCrash, type Crash, type LaunchKind, type Slot } from './slot';

/** What the relay tells and asks the supervisor. */
export interface RelayTarget {
  /** The supervisor's public events. */
  events: EventEmitter;
  upstream: Pick<Upstream, 'send'>;
  log: Log;
  running(): boolean;
  /** The first generation of a slot could not be started: the supervisor's start failed. */
  startFailed(err: HandoverError): void;
  /** A generation exited (the supervisor's exit status and clean-up). */
  exited(info: { generation: Generation; status: ExitStatus; wasCurrent: boolean }): void;
  /** A slot's worker exited and its restart policy leaves it so. */
  ended(): void;
}

/** systemd's STATUS= line for what serves now. */
export function servingStatus(pool: Pool): string {
  const serving = pool.slots.map((slot) => slot.current).filter((g): g is Generation => g !== null);
  if (pool.slots.length === 1 && serving.length === 1) return `serving: generation ${serving[0].number} (pid ${serving[0].pid})`;
  return `serving: ${serving.length} of ${pool.slots.length} workers (generations ${serving.map((g) => g.number).join(', ') || 'none'})`;
}

/**
 * Turns what the pool's slots do into the supervisor's events, its log
 * lines and what systemd is told: RELOADING=1 when a roll starts and READY=1
 * when it ends, failed or not (systemd #19300: a RELOADING=1 never followed
 * by READY=1 leaves the unit "reloading"); READY=1 again after a crashed
 * worker was restarted; STATUS= lines.
 */
export function relay(pool: Pool, target: RelayTarget): void {
  const { events, upstream, log } = target;
  pool.on('spawn', (generation: Generation) => events.emit('spawn', generation));
  pool.on('launched', ({ kind, generation, previous }: { kind: LaunchKind; generation: Generation; previous: Generation | null }) => {
    if (kind === 'restart' && !pool.rolling) upstream.send({ READY: 1, STATUS: servingStatus(pool) });
    events.emit('ready', generation);
    if (kind === 'reload') events.emit('reloaded', { generation, previous });
    if (kind === 'recycle') events.emit('recycled', { generation, previous });
  });
  pool.on('launch-failed', ({ kind, error }: { kind: LaunchKind; error: HandoverError }, slot: Slot) => {
    if (kind === 'start') {
      if (target.running()) target.startFailed(error);
    } else if (kind === 'reload' || kind === 'recycle') {
      // Also when a stop cut it short.
      const serving = slot.current;
      log(`${kind === 'reload' ? 'reload' : 'recycling'} failed: ${error.message}; ${serving !== null ? `${serving} goes on serving` : 'no generation serves'}`);
    }
  });
  pool.on('roll-start', () => {
    upstream.send({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString(), STATUS: 'reloading' });
  });
  pool.on('roll-end', ({ error, durationMs }: { error: HandoverError | null; durationMs: number }) => {
    upstream.send({ READY: 1, STATUS: error ? `reload failed: ${error.message}` : servingStatus(pool) });
    if (error) events.emit('reload-failed', error);
    else if (pool.slots.length > 1) log(`reloaded all ${pool.slots.length} workers in ${durationMs} ms`);
    events.emit('rolled', { error, durationMs });
  });
  pool.on('crash', (crash: Crash & { delay: number }) => {
    upstream.send({ STATUS: `${describeCrash(crash)}; restarting in ${crash.delay} ms` });
    events.emit('crash', crash);
  });
  pool.on('recycling', ({ kind, slot }: { kind: string; slot: Slot }) => events.emit('recycling', { kind, worker: slot.id }));
  pool.on('generation-exit', (info: { generation: Generation; status: ExitStatus; wasCurrent: boolean }) => target.exited(info));
  pool.on('ended', () => {
    if (pool.ended) target.ended();
  });
}
