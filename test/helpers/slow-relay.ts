/**
 * Keeps a slow request in flight on one generation for as long as an
 * upgrade takes, however long that is: two keep-alive connections pinned to
 * the generation (their first answer names its pid), each sending
 * `/sleep?duration=MS` again as soon as the previous one is answered, the
 * second starting with half the duration so that whenever one is answered
 * the other still has about MS / 2 to go. Each connection stops once the
 * generation answers it with `Connection: close` (its drain released it).
 *
 * A single slow request started before the upgrade proves nothing when the
 * upgrade takes longer than the request: on 2 busy cores it takes 1.3–2.6 s.
 */
import { expect } from 'vitest';
import { RawHttpConnection } from './drain-servers';
import type { ParsedResponse } from './load-client';

/** At most this many requests per connection: every loop is bounded. */
const MAX_REQUESTS = 100;

export class SlowRelay {
  readonly #connections: RawHttpConnection[];
  readonly #runs: Promise<ParsedResponse[]>[];

  private constructor(connections: RawHttpConnection[], ms: number) {
    this.#connections = connections;
    this.#runs = connections.map((connection, i) => this.#relay(connection, i === 0 ? ms : Math.round(ms / 2), ms));
    // A failure is reported by replies(); until then it must not be unhandled.
    for (const run of this.#runs) run.catch(() => {});
  }

  /**
   * Pins two connections to the generation `pid` serving on `port` and
   * starts relaying; `servedBy` reads the pid off a reply (default: the body).
   */
  static async start(port: number, pid: number, ms: number, servedBy = (reply: ParsedResponse): string => reply.body): Promise<SlowRelay> {
    const connections = [await RawHttpConnection.open(port), await RawHttpConnection.open(port)];
    for (const connection of connections) {
      const first = await connection.request('/');
      expect(servedBy(first), 'pinned to the wrong generation').toContain(String(pid));
      expect(first.headers.connection).toBe('keep-alive');
    }
    return new SlowRelay(connections, ms);
  }

  /** Every reply on both connections, once each was answered with Connection: close and closed. */
  async replies(): Promise<ParsedResponse[][]> {
    return Promise.all(this.#runs);
  }

  destroy(): void {
    for (const connection of this.#connections) connection.destroy();
  }

  async #relay(connection: RawHttpConnection, firstMs: number, ms: number): Promise<ParsedResponse[]> {
    const replies: ParsedResponse[] = [];
    for (let i = 0, duration = firstMs; i < MAX_REQUESTS; i++, duration = ms) {
      const reply = await connection.request(`/sleep?duration=${duration}`);
      replies.push(reply);
      if (reply.headers.connection === 'close') {
        await connection.closed;
        expect(connection.errors).toEqual([]);
        return replies;
      }
    }
    throw new Error(`no Connection: close in ${MAX_REQUESTS} replies`);
  }
}
