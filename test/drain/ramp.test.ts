// ServerDrainer's ramp (drain({ ramp })) and GracefulServer's drainRamp: for
// `ramp` ms the draining server goes on accepting, and it releases its open
// keep-alive connections in batches instead of all at once.
import * as http from 'node:http';
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerDrainer } from '../helpers/drain-surplus';
import { GracefulServer } from '../../lib/http/graceful-server';
import { RawHttpConnection, TestResources, listenLocal } from '../helpers/drain-servers';

const resources = new TestResources();
afterEach(() => resources.cleanup());
const track = <T extends net.Server>(server: T): T => resources.server(server);
const connect = (port: number): Promise<RawHttpConnection> => resources.connect(port);

function okServer(): http.Server {
  return track(http.createServer((_req, res) => res.end('ok')));
}

/** An okServer with a drainer and `count` keep-alive connections, each answered once (with keep-alive). */
async function servedClients(count: number): Promise<{ server: http.Server; drainer: ServerDrainer; port: number; clients: RawHttpConnection[] }> {
  const server = okServer();
  const drainer = new ServerDrainer(server);
  const port = await listenLocal(server);
  const clients = await Promise.all(Array.from({ length: count }, () => connect(port)));
  for (const client of clients) expect((await client.request()).headers.connection).toBe('keep-alive');
  return { server, drainer, port, clients };
}

describe('ServerDrainer: ramp', () => {
  it('validates ramp; GracefulServer validates drainRamp before doing anything', () => {
    const drainer = new ServerDrainer(http.createServer());
    expect(() => drainer.drain({ ramp: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => drainer.drain({ ramp: Infinity })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => drainer.drain({ ramp: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => drainer.drain({ ramp: '100' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(drainer.draining).toBe(false);
    expect(() => new GracefulServer(http.createServer(), { drainRamp: -5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new GracefulServer(http.createServer(), { drainRamp: '5' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('releases busy keep-alive connections in batches over the ramp; until its turn each is served with keep-alive', async () => {
    const { drainer, clients } = await servedClients(4);

    const ramp = 400;
    const start = performance.now();
    const drained = drainer.drain({ ramp, timeout: 10_000 });
    // Each client sends one request after the other, as a keep-alive load
    // client does, until a response says Connection: close.
    const runs = await Promise.all(
      clients.map(async (client) => {
        const keepAliveAt: number[] = [];
        for (let i = 0; i < 1_000_000; i++) {
          const response = await client.request();
          expect(response.body).toBe('ok');
          const at = performance.now() - start;
          if (response.headers.connection === 'close') {
            await client.closed;
            return { keepAliveAt, closeAt: at };
          }
          expect(response.headers.connection).toBe('keep-alive');
          keepAliveAt.push(at);
        }
        throw new Error('never released');
      }),
    );
    const result = await drained;
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 4, requestsAtStart: 0 });
    expect(result.durationMs).toBeGreaterThanOrEqual(ramp - 5);
    for (const client of clients) {
      expect(client.errors).toEqual([]);
      expect(client.ended).toBe(true);
    }
    // Four connections, four batches: one at ramp/4, ..., the last at the ramp.
    const closes = runs.map((r) => r.closeAt).sort((a, b) => a - b);
    expect(closes[0]).toBeGreaterThanOrEqual(ramp / 4 - 5);
    expect(closes[3]).toBeGreaterThanOrEqual(ramp - 5);
    expect(closes[3]).toBeLessThan(ramp + 5_000);
    // The connections released later were still served with keep-alive after the first was released.
    const first = runs.find((r) => r.closeAt === closes[0])!;
    for (const run of runs) if (run !== first) expect(run.keepAliveAt.at(-1)).toBeGreaterThan(first.closeAt);
    expect(drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
  });

  it('goes on accepting until the ramp ends (a connection accepted then is drained at once), then refuses', async () => {
    const server = okServer();
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const events: string[] = [];
    drainer.on('draining', () => events.push('draining'));
    const drained = drainer.drain({ ramp: 300, timeout: 10_000 });
    expect(events).toEqual(['draining']);
    expect(server.listening).toBe(true);
    const late = await connect(port);
    const response = await late.request();
    expect(response.body).toBe('ok');
    expect(response.headers.connection).toBe('close');
    await late.closed;
    expect(late.errors).toEqual([]);
    const result = await drained;
    expect(result.durationMs).toBeGreaterThanOrEqual(295);
    expect(result.hammered).toBe(0);
    expect(server.listening).toBe(false);
    await expect(RawHttpConnection.open(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('acceptDuringRamp: false closes the listener at once and still releases the keep-alive connections in batches', async () => {
    const { server, drainer, port, clients } = await servedClients(2);
    const ramp = 600;
    const start = performance.now();
    const drained = drainer.drain({ ramp, acceptDuringRamp: false, timeout: 10_000 });
    expect(server.listening).toBe(false);
    await expect(RawHttpConnection.open(port)).rejects.toThrow(/ECONNREFUSED/);
    // Both are idle: each is released in its batch, then the idle rule
    // applies; a request in between is answered with keep-alive.
    const answers = await Promise.all(clients.map((client) => client.request()));
    expect(answers.map((a) => a.headers.connection)).toEqual(['keep-alive', 'keep-alive']);
    const closedAt = await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < 1_000_000; i++) {
          const response = await client.request();
          if (response.headers.connection === 'close') break;
        }
        await client.closed;
        return performance.now() - start;
      }),
    );
    closedAt.sort((a, b) => a - b);
    expect(closedAt[0]).toBeGreaterThanOrEqual(ramp / 2 - 5);
    expect(closedAt[1]).toBeGreaterThanOrEqual(ramp - 5);
    expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 2 });
    expect(() => drainer.drain({ acceptDuringRamp: 'no' as never })).not.toThrow(); // the running drain: options ignored
    expect(() => new ServerDrainer(http.createServer()).drain({ acceptDuringRamp: 'no' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('stopAccepting() during a ramp closes the listener at once; the keep-alive connections still wait for their turn', async () => {
    const { server, drainer, port, clients } = await servedClients(2);
    const drained = drainer.drain({ ramp: 60_000, timeout: 120_000 });
    drainer.stopAccepting();
    expect(server.listening).toBe(false);
    await expect(RawHttpConnection.open(port)).rejects.toThrow(/ECONNREFUSED/);
    for (const client of clients) expect((await client.request()).headers.connection).toBe('keep-alive');
    // hammer() ends the ramp too; nothing else would before a minute.
    expect((await drainer.hammer()).hammered).toBe(2);
    await Promise.all(clients.map((c) => c.closed));
    expect(await drained).toMatchObject({ connectionsAtStart: 2 });
  });

  it('hammer() during a ramp closes the listener and destroys every connection at once', async () => {
    const server = track(http.createServer(() => {}));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await connect(port);
    const pending = client.request('/never');
    pending.catch(() => {});
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const drained = drainer.drain({ ramp: 60_000, timeout: 120_000 });
    expect(server.listening).toBe(true);
    const result = await drainer.hammer();
    expect(result).toMatchObject({ hammered: 1, connectionsAtStart: 1, requestsAtStart: 1 });
    expect(result.durationMs).toBeLessThan(60_000);
    expect(await drained).toBe(result);
    await client.closed;
    expect(server.listening).toBe(false);
  });
});
