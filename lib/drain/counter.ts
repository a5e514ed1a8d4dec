import { invalidType, invalidValue } from '../core';

interface Waiter {
  resolve(reached: boolean): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Go's `sync.WaitGroup`, without its two traps: the count never goes
 * negative (a {@link DrainCounter.done | done()} at zero is ignored and
 * counted in {@link DrainCounter.surplus | surplus} instead of panicking, the
 * way endless' hammer made `WaitGroup.Done` panic), and {@link
 * DrainCounter.track | track()} hands out a release function that works once,
 * so closing one connection twice releases it once.
 *
 * ```ts
 * const inFlight = new DrainCounter();
 * server.on('request', (req, res) => {
 *   const release = inFlight.track();
 *   res.once('finish', release).once('close', release);
 * });
 * const drained = await inFlight.wait(30_000); // false: timed out
 * ```
 */
export class DrainCounter {
  #count = 0;
  #surplus = 0;
  #waiters: Waiter[] = [];

  /**
   * Adds `n` (a positive integer, default 1) to the count. Throws
   * ERR_INVALID_ARG_TYPE when `n` is not a number and ERR_INVALID_ARG_VALUE
   * when it is not a positive safe integer.
   */
  add(n = 1): void {
    if (typeof n !== 'number') invalidType('n', 'of type number', n);
    if (!Number.isSafeInteger(n) || n <= 0) invalidValue('n', 'must be a positive integer', n);
    if (!Number.isSafeInteger(this.#count + n)) invalidValue('n', 'would overflow the count', n);
    this.#count += n;
  }

  /**
   * Subtracts 1 from the count; when it reaches 0, every {@link wait} resolves
   * `true`. At 0 the call is ignored and {@link surplus} grows: it never
   * throws and the count never goes negative.
   */
  done(): void {
    if (this.#count === 0) {
      this.#surplus++;
      return;
    }
    this.#count--;
    if (this.#count === 0) this.#wake();
  }

  /** The current count: `add`s not yet matched by a `done`. */
  get count(): number {
    return this.#count;
  }

  /** How many `done()` calls arrived at 0 and were ignored (a bug in the caller, never a crash). */
  get surplus(): number {
    return this.#surplus;
  }

  /**
   * Resolves `true` as soon as the count is 0 (at once when it already is),
   * or `false` after `timeoutMs` milliseconds (default: no limit). Any number
   * of callers may wait. The timer is unref'd: waiting alone never keeps the
   * process alive.
   */
  wait(timeoutMs?: number): Promise<boolean> {
    if (timeoutMs !== undefined) {
      if (typeof timeoutMs !== 'number') invalidType('timeoutMs', 'of type number', timeoutMs);
      if (Number.isNaN(timeoutMs) || timeoutMs < 0) invalidValue('timeoutMs', 'must be a non-negative number of milliseconds', timeoutMs);
    }
    if (this.#count === 0) return Promise.resolve(true);
    if (timeoutMs === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined };
      if (timeoutMs !== undefined && timeoutMs !== Infinity) {
        // setTimeout caps delays at 2^31-1 ms; longer waits are as good as infinite.
        waiter.timer = setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          resolve(false);
        }, Math.min(timeoutMs, 0x7fffffff));
        waiter.timer.unref();
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Adds 1 and returns the matching release: calling it the first time does
   * `done()`, calling it again does nothing. Hand it to every event that may
   * end the tracked thing (`'finish'` and `'close'`, say) without counting
   * twice.
   */
  track(): () => void {
    this.add(1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.done();
    };
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }
}
