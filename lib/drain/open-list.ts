/** Fewest additions between two sweeps of an {@link OpenList}. */
const MIN_SWEEP = 64;

/**
 * The connections a drainer has seen before its drain starts, kept without a
 * `'close'` listener or a Set entry per connection: measured with
 * `npm run bench:overhead` (a connection per request), those two cost a
 * hello-world server about 5% of its throughput, an array append nothing
 * measurable.
 *
 * Closed items are dropped in sweeps instead of when they close. A sweep
 * runs once the array has grown to twice the open items found by the
 * previous sweep, and to at least {@link MIN_SWEEP}: the work per addition
 * is O(1) amortised, and the array never grows past twice the items open at
 * its last sweep, or 64 when that is more.
 */
export class OpenList<T> {
  #items: T[] = [];
  #sweepAt = MIN_SWEEP;
  readonly #isOpen: (item: T) => boolean;

  /** `isOpen(item)` false: the item is closed for good, and dropped at the next sweep. */
  constructor(isOpen: (item: T) => boolean) {
    this.#isOpen = isOpen;
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length >= this.#sweepAt) this.#sweep();
  }

  /** The open items, in the order they were added (duplicates stay). */
  open(): T[] {
    this.#sweep();
    return this.#items.slice();
  }

  /** Forgets every item. */
  clear(): void {
    this.#items = [];
    this.#sweepAt = MIN_SWEEP;
  }

  #sweep(): void {
    this.#items = this.#items.filter(this.#isOpen);
    this.#sweepAt = Math.max(MIN_SWEEP, 2 * this.#items.length);
  }
}
