/** How the test helpers pick an event: a predicate, or the fields it must have. */
export type Match<E> = ((e: E) => boolean) | Partial<E>;

/**
 * `match` as a predicate: a function as it is, an object by its fields — each
 * equal (===), a nested object matched the same way (its fields only), an
 * array element by element.
 */
export function matcher<E extends object>(match: Match<E>): (e: E) => boolean {
  if (typeof match === 'function') return match;
  return (e) => contains(e, match);
}

function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => contains(actual[i], v));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(expected).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
  }
  return actual === expected;
}
