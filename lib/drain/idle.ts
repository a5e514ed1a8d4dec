import type { Duplex } from 'node:stream';

/** An HTTP/1 connection as the idle queue sees it. */
export interface IdleConnection {
  readonly socket: Duplex;
  /** `performance.now()` when the connection was opened or its last response finished. */
  idleSince: number;
  /** `socket.bytesRead` at `idleSince` (-1 when the stream does not count bytes). */
  bytesReadAtIdle: number;
}

/** `socket.bytesRead` when the stream is a net.Socket (or a TLSSocket), -1 for any other Duplex. */
export function bytesRead(socket: Duplex): number {
  const value = (socket as { bytesRead?: unknown }).bytesRead;
  return typeof value === 'number' ? value : -1;
}

/** Marks `connection` as idle from now on. */
export function markIdle(connection: IdleConnection): void {
  connection.idleSince = performance.now();
  connection.bytesReadAtIdle = bytesRead(connection.socket);
}

/**
 * The connections that a drain will close once they have stayed idle for
 * `boundMs`, with a single unref'd timer. Every connection gets the same
 * bound, so the one that became idle first expires first: entries are kept in
 * the order of their `idleSince` (a Map keeps insertion order) and the timer
 * is always armed for the head. No polling: the timer fires once per expiry.
 *
 * A connection that received bytes while "idle" (a request whose headers are
 * not complete yet, which Node has not announced with 'request') is not
 * closed: its client is sending. It is requeued as idle from the moment of the
 * check.
 */
export class IdleQueue {
  readonly #entries = new Map<IdleConnection, true>();
  readonly #boundMs: number;
  readonly #expire: (connection: IdleConnection) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  constructor(boundMs: number, expire: (connection: IdleConnection) => void) {
    this.#boundMs = boundMs;
    this.#expire = expire;
  }

  /**
   * Adds a batch of connections that are idle now, whatever their age; the
   * oldest are queued first so that the order invariant holds.
   */
  addAll(connections: IdleConnection[]): void {
    connections.sort((a, b) => a.idleSince - b.idleSince);
    for (const connection of connections) this.#entries.set(connection, true);
    this.#arm();
  }

  /** Queues a connection that became idle just now (after {@link markIdle}). */
  add(connection: IdleConnection): void {
    this.#entries.delete(connection);
    this.#entries.set(connection, true);
    this.#arm();
  }

  /** Forgets a connection that is busy again or closed. */
  delete(connection: IdleConnection): void {
    this.#entries.delete(connection);
    // The timer may now fire early for a later entry; #fire() simply re-arms.
  }

  /** Forgets everything and stops the timer. */
  clear(): void {
    this.#entries.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(): void {
    const head = this.#entries.keys().next();
    if (head.done) return;
    const at = head.value.idleSince + this.#boundMs;
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    const delay = Math.min(Math.max(0, Math.ceil(at - performance.now())), 0x7fffffff);
    this.#timer = setTimeout(() => this.#fire(), delay);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const expired: IdleConnection[] = [];
    for (const connection of this.#entries.keys()) {
      // A timer can fire a fraction of a millisecond early by performance.now():
      // then nothing expires and #arm() sets a 1 ms timer. Never close early.
      if (connection.idleSince + this.#boundMs > now) break;
      expired.push(connection);
    }
    for (const connection of expired) {
      this.#entries.delete(connection);
      if (connection.bytesReadAtIdle !== bytesRead(connection.socket)) {
        markIdle(connection);
        this.#entries.set(connection, true);
      } else {
        this.#expire(connection);
      }
    }
    this.#arm();
  }
}
