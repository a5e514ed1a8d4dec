import { printable } from '../core';
import type { NotifyListener, NotifyMessage } from './sd-notify';

/** How often the notifications that were ignored without a line of their own are summed up in one. */
export const IGNORED_NOTIFY_INTERVAL = 5_000;
/** Senders whose first ignored notification of an interval gets a line of its own. */
const SENDERS_IN_FULL = 4;
/** Pids a summary names. */
const PIDS_NAMED = 5;

/**
 * The log of notifications a receiver ignores (senders that are not the
 * process it waits for), bounded whatever the senders do: per interval, the
 * first notification of each of the first few senders gets a line of its
 * own (escaped, see printable()), the rest are counted and summed up in one
 * line at the end of the interval. A flood costs at most a handful of lines
 * every {@link IGNORED_NOTIFY_INTERVAL} ms. The timer never keeps the
 * process alive; {@link close} reports what is still counted.
 */
export class IgnoredNotifications {
  readonly #log: (line: string) => void;
  readonly #interval: number;
  readonly #shown = new Set<number>();
  readonly #pids = new Set<number>();
  #count = 0;
  #otherPids = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: (line: string) => void, interval = IGNORED_NOTIFY_INTERVAL) {
    this.#log = log;
    this.#interval = interval;
  }

  /** Counts what `listener` ignores until it closes. */
  static for(listener: NotifyListener, log: (line: string) => void): IgnoredNotifications {
    const ignored = new IgnoredNotifications(log);
    listener.once('close', () => ignored.close());
    return ignored;
  }

  /** Records one ignored notification; `why` completes "ignoring a notification from pid N: ...". */
  ignore(message: NotifyMessage, why: string): void {
    this.#timer ??= setInterval(() => this.#report(), this.#interval).unref();
    if (this.#shown.size < SENDERS_IN_FULL && !this.#shown.has(message.pid)) {
      this.#shown.add(message.pid);
      this.#log(`ignoring a notification from pid ${message.pid}: ${why} (${printable(message.raw)})`);
      return;
    }
    this.#count++;
    if (this.#pids.size < PIDS_NAMED) this.#pids.add(message.pid);
    else if (!this.#pids.has(message.pid)) this.#otherPids = true;
  }

  /** Reports what is counted and stops the timer. */
  close(): void {
    this.#report();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #report(): void {
    if (this.#count === 0 && this.#shown.size === 0) {
      // A quiet interval: nothing to say, and no timer until the next one.
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#count > 0) {
      const pids = [...this.#pids].join(', ') + (this.#otherPids ? ' and others' : '');
      this.#log(`ignored ${this.#count} more notification${this.#count === 1 ? '' : 's'} from pid ${pids} in the last ${this.#interval / 1000} s`);
    }
    this.#count = 0;
    this.#otherPids = false;
    this.#pids.clear();
    this.#shown.clear();
  }
}
