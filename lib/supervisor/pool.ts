import { EventEmitter } from 'node:events';
import { HandoverError } from '../core';
import type { Generation } from './generation';
import { Slot, type SlotHost } from './slot';

/** Slot events the pool passes on, unchanged, to the supervisor. */
const SLOT_EVENTS = ['spawn', 'launching', 'launched', 'launch-failed', 'crash', 'generation-exit', 'ended'] as const;

/**
 * The worker slots of a supervisor and what is done to several of them:
 * starting all, the rolling reload, adding and removing slots, recycling
 * one. Each slot holds one replaceable process ({@link Slot}); one worker
 * is the case of one slot, not another code path.
 *
 * A rolling reload replaces `parallel` slots at a time, each by a successor
 * that is ready (and through its probation) before the old worker drains,
 * so capacity never drops below the number of slots and at most `parallel`
 * extra processes run. A successor that fails stops the roll: its slot
 * keeps its old worker, the slots replaced so far keep their new ones (a
 * stalled Kubernetes rolling update), and the reload rejects. A reload asked
 * for during a roll starts the roll again from the first slot, with the
 * newest release, once the step running now is over; however many are
 * asked for, one roll runs, and every caller gets its outcome.
 *
 * Events: those of its slots (`spawn`, `launching`, `launched`,
 * `launch-failed`, `crash`, `generation-exit`, `ended`), each with the slot
 * as an extra last argument; `roll-start`; `roll-end` { error, durationMs };
 * `recycling` { kind, slot }.
 */
export class Pool extends EventEmitter {
  readonly slots: Slot[] = [];
  /** Slots removed by {@link scale} whose workers are still draining. */
  readonly #closing = new Set<Slot>();
  readonly #host: SlotHost;
  readonly #parallel: number;
  #roll: Promise<Generation> | null = null;
  #again = false;
  #recycling: Slot | null = null;

  constructor(host: SlotHost, size: number, parallel: number) {
    super();
    this.#host = host;
    this.#parallel = parallel;
    for (let id = 0; id < size; id++) this.slots.push(this.#slot(id));
  }

  /** Every generation of every slot whose process has not exited. */
  get generations(): Generation[] {
    return [...this.slots, ...this.#closing].flatMap((slot) => slot.generations);
  }

  /** The generation of the first slot that serves, or is being started. */
  get first(): Generation | null {
    return this.slots[0].current ?? this.slots[0].next;
  }

  /** A rolling reload is running. */
  get rolling(): boolean {
    return this.#roll !== null;
  }

  /** True when no slot serves and none will: every one ended by its restart policy. */
  get ended(): boolean {
    return this.slots.every((slot) => slot.current === null && !slot.busy && !slot.restarting);
  }

  /** Starts the first generation of every slot; resolves with slot 0's once all are ready. */
  async start(): Promise<Generation> {
    const [first] = await Promise.all(this.slots.map((slot) => slot.start()));
    return first;
  }

  /** The rolling reload (see the class); resolves with slot 0's new generation. */
  reload(): Promise<Generation> {
    if (this.#roll !== null) {
      if (this.#again) {
        this.#host.log('reload requested again: a reload is already queued');
      } else {
        this.#again = true;
        this.#host.log(
          this.slots.length > 1
            ? 'reload requested during a reload: one more reload will follow it, from the first worker, once the step running now is over'
            : 'reload requested during a reload: one more reload will follow it',
        );
      }
      return this.#roll;
    }
    const roll = this.#rollAll();
    this.#roll = roll;
    const done = () => {
      if (this.#roll === roll) this.#roll = null;
    };
    roll.then(done, done);
    return roll;
  }

  /**
   * Replaces `slot`'s worker by a successor, as a reload step does (ready
   * first, then the old one drains); `reason` is logged. One recycling at a
   * time, and none during a roll (which replaces it anyway): false when it
   * could not start now.
   */
  recycle(slot: Slot, reason: string, kind: 'memory' | 'lifetime'): boolean {
    if (this.#roll !== null || this.#recycling !== null || slot.busy || slot.current === null || !this.slots.includes(slot)) return false;
    this.#recycling = slot;
    this.#host.log(`recycling ${slot.current}: ${reason}`, { event: 'recycling', kind, worker: slot.id, generation: slot.current.number, generationPid: slot.current.pid });
    this.emit('recycling', { kind, slot });
    slot
      .replace('recycle')
      .catch(() => {}) // logged as a launch failure; the old worker goes on
      .finally(() => {
        if (this.#recycling === slot) this.#recycling = null;
      });
    return true;
  }

  /**
   * Adds or removes slots until there are `size`. A new slot starts like a
   * restart (a failure is retried with back-off); a removed one (the last
   * ones first) has its workers drain (SIGTERM).
   */
  scale(size: number): void {
    const before = this.slots.length;
    if (size !== before) this.#host.log(`${size > before ? 'adding' : 'removing'} ${Math.abs(size - before)} worker(s): ${before} -> ${size}`, { event: 'scale', from: before, to: size });
    while (this.slots.length < size) {
      const slot = this.#slot(this.slots.length);
      this.slots.push(slot);
      slot.begin().catch(() => {}); // logged; retried with back-off
    }
    while (this.slots.length > size) {
      const slot = this.slots.pop()!;
      if (slot.generations.length > 0) this.#closing.add(slot);
      slot.once('empty', () => this.#closing.delete(slot));
      slot.close('SIGTERM', 'its worker slot was removed');
    }
  }

  /** Sends `signal` to the first worker's serving generation (SIGUSR1, SIGUSR2); false when none serves. */
  forward(signal: NodeJS.Signals): boolean {
    const target = this.first;
    if (target === null) {
      this.#host.log(`no generation to forward ${signal} to`);
      return false;
    }
    this.#host.log(`forwarding ${signal} to ${target}`);
    return target.signal(signal);
  }

  /** Stops every slot (see {@link Slot.stop}). */
  stop(signal: NodeJS.Signals, reason: string): void {
    for (const slot of this.slots) slot.stop(signal, reason);
  }

  async #rollAll(): Promise<Generation> {
    const started = Date.now();
    this.emit('roll-start');
    let error: unknown = null;
    try {
      for (;;) {
        this.#again = false;
        try {
          await this.#rollOnce();
        } catch (err) {
          // Asked again meanwhile: the newest release may be the fix.
          if (!this.#again || !this.#host.running()) throw err;
          this.#host.log(`${(err as Error).message}; a reload was asked for since, so the roll starts again`);
        }
        if (!this.#again) break;
        this.#host.log('rolling again from the first worker: a reload was asked for during the roll');
      }
      const first = this.slots[0]?.current;
      if (!first) throw new HandoverError('ERR_STOPPED', 'no worker serves after the reload');
      return first;
    } catch (err) {
      error = err;
      throw err;
    } finally {
      this.emit('roll-end', { error, durationMs: Date.now() - started });
    }
  }

  // One pass over the slots, `parallel` at a time; throws at the first failed step.
  async #rollOnce(): Promise<void> {
    const queue = [...this.slots];
    while (queue.length > 0) {
      const step = queue.splice(0, this.#parallel).filter((slot) => this.slots.includes(slot));
      for (const slot of step) if (slot.busy) this.#host.log(`worker ${slot.id} is being started: its reload follows once that is over`);
      const results = await Promise.allSettled(step.map((slot) => slot.replaceWhenSettled()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (this.#again) return;
    }
  }

  #slot(id: number): Slot {
    const slot = new Slot(id, this.#host);
    for (const event of SLOT_EVENTS) slot.on(event, (...args: unknown[]) => this.emit(event, ...args, slot));
    return slot;
  }
}
