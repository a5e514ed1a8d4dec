/** How the test helpers pick an event: a predicate, or the fields it must have. */
export type Match<E> = ((e: E) => boolean) | Partial<E>;

/** `match` as a predicate: a function as it is, an object by equality of each of its fields. */
export function matcher<E extends object>(match: Match<E>): (e: E) => boolean {
  if (typeof match === 'function') return match;
  return (e) => Object.entries(match).every(([k, v]) => (e as Record<string, unknown>)[k] === v);
}
