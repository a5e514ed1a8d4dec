import { EventEmitter } from 'node:events';
import type { Generation } from './generation';
import { Slot, type SlotHost } from './slot';

/** Slot events the pool passes on, unchanged, to the supervisor. */
const SLOT_EVENTS = ['spawn', 'launching', 'launched', 'launch-failed', 'crash', 'generation-exit', 'ended'] as const;

/**
 * The slots of a supervisor and what is done to all of them at once:
 * starting, reloading (one reload at a time; one more queued, however many
 * are asked for meanwhile) and stopping. Each slot holds one replaceable
 * process ({@link Slot}).
 *
 * Events: those of its slots (`spawn`, `launching`, `launched`,
 * `launch-failed`, `crash`, `generation-exit`, `ended`), each with the slot
 * as an extra last argument.
 */
export class Pool extends EventEmitter {
  readonly slots: Slot[];
  readonly #host: SlotHost;
  #queued: Promise<Generation> | null = null;

  constructor(host: SlotHost, size = 1) {
    super();
    this.#host = host;
    this.slots = Array.from({ length: size }, (_, id) => this.#slot(id));
  }

  /** Every generation of every slot whose process has not exited. */
  get generations(): Generation[] {
    return this.slots.flatMap((slot) => slot.generations);
  }

  /** The generation of the first slot that serves, or is being started. */
  get first(): Generation | null {
    return this.slots[0].current ?? this.slots[0].next;
  }

  /** Starts the first generation of every slot; resolves with slot 0's once all are ready. */
  async start(): Promise<Generation> {
    const [first] = await Promise.all(this.slots.map((slot) => slot.start()));
    return first;
  }

  /**
   * Replaces the generation of every slot. A reload asked for while a slot
   * is busy (starting, restarting, being replaced) runs once it is done.
   */
  reload(): Promise<Generation> {
    if (this.slots.some((slot) => slot.busy)) {
      if (this.#queued === null) {
        this.#host.log('reload requested while another start is running: one more reload will follow it');
        this.#queued = Promise.all(this.slots.map((slot) => slot.settled())).then(() => {
          this.#queued = null;
          return this.reload();
        });
      } else {
        this.#host.log('reload requested again: a reload is already queued');
      }
      return this.#queued;
    }
    return this.slots[0].replace();
  }

  /** Stops every slot (see {@link Slot.stop}). */
  stop(signal: NodeJS.Signals, reason: string): void {
    for (const slot of this.slots) slot.stop(signal, reason);
  }

  #slot(id: number): Slot {
    const slot = new Slot(id, this.#host);
    for (const event of SLOT_EVENTS) slot.on(event, (...args: unknown[]) => this.emit(event, ...args, slot));
    return slot;
  }
}
