/**
 * The drain-under-load scenario shared by the HTTP and HTTPS tests: server A
 * serves a wrk-like load, server B (the "next generation") starts accepting
 * from the same kernel socket, A drains while the load goes on; the clients
 * must see no error of any kind.
 */
import type * as http from 'node:http';
import type * as tls from 'node:tls';
import { expect } from 'vitest';
import type { DrainResult } from '../../lib/drain/server-drainer';
import { ServerDrainer } from './drain-surplus';
import { ERROR_KINDS, LoadClient, type LoadErrorKind, type LoadStats } from './load-client';
import { closeServer, listenLocal, listenOnSameSocket } from './drain-servers';

/** Options of {@link drainUnderLoad}. */
export interface DrainUnderLoadOptions {
  /** Makes server "A" or "B"; its handler must answer the body `name`. */
  create(name: 'A' | 'B'): http.Server;
  /** TLS options for the client (the servers are then https servers). */
  tls?: tls.ConnectionOptions;
  keepAlive: boolean;
  /** Concurrent client connections (default 16). */
  connections?: number;
  /** Responses A must have served before B starts and A drains. */
  warmup: number;
  /** Responses B must serve after A's drain. */
  after: number;
  /** Runs after B listens, right before A drains (to wait for requests in flight, say). */
  beforeDrain?: (drainer: ServerDrainer) => Promise<void>;
  /** How to drain A (default: the ServerDrainer). Lets an experiment swap in a naive drain. */
  drain?: (server: http.Server, drainer: ServerDrainer) => Promise<Pick<DrainResult, 'hammered' | 'requestsAtStart'>>;
}

/** What one round saw. */
export interface DrainRound {
  stats: LoadStats;
  result: Pick<DrainResult, 'hammered' | 'requestsAtStart'>;
  servedByABeforeDrain: number;
}

const ZERO_ERRORS = Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<LoadErrorKind, number>;

/** Runs one round; cleans up its servers and sockets whatever happens. */
export async function drainUnderLoad(options: DrainUnderLoadOptions): Promise<DrainRound> {
  const a = options.create('A');
  const drainer = new ServerDrainer(a);
  const b = options.create('B');
  let load: LoadClient | undefined;
  try {
    const port = await listenLocal(a);
    load = new LoadClient({ port, connections: options.connections ?? 16, keepAlive: options.keepAlive, tls: options.tls }).start();
    const client = load;
    // Only A listens yet, so A holds every connection, as the old generation does.
    await expect.poll(() => client.served('A'), { timeout: 15_000, interval: 5 }).toBeGreaterThanOrEqual(options.warmup);
    await listenOnSameSocket(b, a);
    await options.beforeDrain?.(drainer);
    const servedByABeforeDrain = client.served('A');
    const result = await (options.drain ? options.drain(a, drainer) : drainer.drain({ timeout: 10_000 }));
    // A is done: nothing open, nothing accepted any more.
    expect(a.listening).toBe(false);
    if (!options.drain) expect(drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
    const servedByBAfterDrain = client.served('B');
    await expect.poll(() => client.served('B'), { timeout: 15_000, interval: 5 }).toBeGreaterThanOrEqual(servedByBAfterDrain + options.after);
    const stats = await client.stop();
    return { stats, result, servedByABeforeDrain };
  } finally {
    await load?.stop();
    await closeServer(b);
    await closeServer(a);
  }
}

/** The assertions every round must pass. */
export function expectCleanRound(round: DrainRound): void {
  const { stats, result } = round;
  expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(result.hammered).toBe(0);
  expect(stats.byBody.A).toBeGreaterThanOrEqual(round.servedByABeforeDrain + result.requestsAtStart);
  expect(stats.byBody.B).toBeGreaterThan(0);
}
