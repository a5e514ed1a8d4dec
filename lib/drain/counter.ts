import { invalidType, invalidValue } from '../core';

interface Waiter {
  resolve(reached: boolean): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Go's `sync.WaitGroup` without its two traps: the count never goes
 * negative (a `done()` at zero is counted in {@link DrainCounter.surplus}
 * instead of panicking, as endless' hammer made `WaitGroup.Done` panic), and
 * {@link DrainCounter.track} hands out a release that works once, so closing
 * a connection twice releases it once.
 *
 * ```ts
 * const inFlight = new DrainCounter();
 * server.on('request', (req, res) => res.once('close', inFlight.track()));
 * const drained = await inFlight.wait(30_000); // false: timed out
 * ```
 */
export class DrainCounter {
  #count = 0;
  #surplus = 0;
  #waiters: Waiter[] = [];

  /** Adds `n` (a positive safe integer, default 1). Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE otherwise. */
  add(n = 1): void {
    if (typeof n !== 'number') invalidType('n', 'of type number', n);
    if (!Number.isSafeInteger(n) || n <= 0) invalidValue('n', 'must be a positive integer', n);
    if (!Number.isSafeInteger(this.#count + n)) invalidValue('n', 'would overflow the count', n);
    this.#count += n;
  }

  /** Subtracts 1; at 0 every {@link wait} resolves `true`. At 0 already, it only counts a {@link surplus}: never throws. */
  done(): void {
    if (this.#count === 0) {
      this.#surplus++;
      return;
    }
    if (--this.#count > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /** `add`s not yet matched by a `done`. */
  get count(): number {
    return this.#count;
  }

  /** `done()` calls that came at 0 and were ignored (a bug in the caller, never a crash). */
  get surplus(): number {
    return this.#surplus;
  }

  /**
   * Resolves `true` once the count is 0 (at once if it is), `false` after
   * `timeoutMs` (default: no limit). The timer is unref'd: waiting alone
   * never keeps the process alive.
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
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, Math.min(timeoutMs, 0x7fffffff)).unref();
      }
      this.#waiters.push(waiter);
    });
  }

  /** Adds 1 and returns its release: the first call does `done()`, later ones nothing (hand it to every event that may end the thing). */
  track(): () => void {
    this.add(1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.done();
    };
  }
}
