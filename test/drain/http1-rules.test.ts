// The drain's HTTP/1 rules that clients feel (issue 16): every request a
// connection has received is answered, pipelined ones included, and only the
// answer to the last one carries Connection: close; an application's own
// `Connection: keep-alive` does not keep a draining connection open; an idle
// connection is closed no earlier than Node itself would close it.
import { once } from 'node:events';
import * as http from 'node:http';
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeKeepAliveBuffer } from '../../lib/drain/server-drainer';
import { TestResources, listenLocal } from '../helpers/drain-servers';
import { ServerDrainer } from '../helpers/drain-surplus';
import { ResponseParser, type ParsedResponse } from '../helpers/load-client';

const resources = new TestResources();
afterEach(() => resources.cleanup());

/** A raw client socket and everything the server sends on it until it closes. */
async function rawClient(port: number): Promise<{ socket: net.Socket; got: ParsedResponse[]; lastAt: () => number; responses: Promise<ParsedResponse[]>; errors: Error[] }> {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  resources.add(() => socket.destroy());
  await once(socket, 'connect');
  const errors: Error[] = [];
  socket.on('error', (err) => errors.push(err));
  const parser = new ResponseParser();
  const got: ParsedResponse[] = [];
  let lastAt = 0;
  socket.on('data', (chunk: Buffer) => {
    got.push(...parser.push(chunk));
    lastAt = performance.now();
  });
  const responses = new Promise<ParsedResponse[]>((resolve) =>
    socket.once('close', () => {
      const last = parser.end();
      if (last) got.push(last);
      resolve(got);
    }),
  );
  return { socket, got, lastAt: () => lastAt, responses, errors };
}

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

/**
 * A server answering `/slow` when the test says so and `/n` with `rN`: at
 * once from a synchronous handler, after an `await` (as most frameworks'
 * handlers do), or when the test says so too ('held').
 */
function pipelineServer(handler: 'sync' | 'async' | 'held'): { server: http.Server; slowArrived: Promise<void>; answerSlow: () => void; answerRest: () => void; serverSide: () => net.Socket | undefined } {
  let answer: (() => void) | undefined;
  const rest: (() => void)[] = [];
  let arrived: () => void;
  const slowArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  let socket: net.Socket | undefined;
  const server = resources.server(
    http.createServer(async (req, res) => {
      if (req.url === '/slow') {
        answer = () => res.end('slow');
        arrived();
        return;
      }
      const respond = (): void => void res.end(`r${req.url!.slice(1)}`);
      if (handler === 'held') return void rest.push(respond);
      if (handler === 'async') await null;
      respond();
    }),
  );
  server.on('connection', (s: net.Socket) => {
    socket = s;
  });
  return { server, slowArrived, answerSlow: () => answer!(), answerRest: () => rest.splice(0).forEach((respond) => respond()), serverSide: () => socket };
}

const bodies = (depth: number): string[] => ['slow', ...Array.from({ length: depth - 1 }, (_, i) => `r${i + 2}`)];
const rest = (depth: number): string => Array.from({ length: depth - 1 }, (_, i) => GET(`/${i + 2}`)).join('');

/** A drained-to-be server (see pipelineServer) and a client that has sent `/slow` and `depth - 1` requests behind it, every byte received by the server. */
async function pipelinedBehindSlow(handler: 'sync' | 'held', depth: number, options: { idleTimeout?: number } = {}) {
  const { server, slowArrived, answerSlow, answerRest, serverSide } = pipelineServer(handler);
  const drainer = new ServerDrainer(server, options);
  const client = await rawClient(await listenLocal(server));
  client.socket.write(GET('/slow') + rest(depth));
  await slowArrived;
  await expect.poll(() => serverSide()?.bytesRead).toBe(GET('/slow').length + rest(depth).length);
  return { answerSlow, answerRest, drainer, client };
}

describe('pipelined requests during a drain', () => {
  for (const depth of [3, 10]) {
    for (const handler of ['sync', 'async'] as const) {
      it(`${depth} deep, pipelined during the drain behind a slow first request (${handler} handler): every one answered, only the last with Connection: close`, async () => {
        const { server, slowArrived, answerSlow, serverSide } = pipelineServer(handler);
        const drainer = new ServerDrainer(server);
        const port = await listenLocal(server);
        const client = await rawClient(port);
        client.socket.write(GET('/slow'));
        await slowArrived;
        const drained = drainer.drain({ timeout: 10_000 });
        client.socket.write(rest(depth));
        await expect.poll(() => serverSide()?.bytesRead).toBe(GET('/slow').length + rest(depth).length);
        answerSlow();
        const responses = await client.responses;
        expect(client.errors).toEqual([]);
        expect(responses.map((r) => r.body)).toEqual(bodies(depth));
        expect(responses.map((r) => r.headers.connection)).toEqual([...Array(depth - 1).fill('keep-alive'), 'close']);
        expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
      });
    }

    it(`${depth} deep, pipelined before the drain behind a slow first request, answered during it: every one answered, only the last with Connection: close`, async () => {
      const { answerSlow, answerRest, drainer, client } = await pipelinedBehindSlow('held', depth);
      const drained = drainer.drain({ timeout: 10_000 });
      answerRest();
      answerSlow();
      const responses = await client.responses;
      expect(client.errors).toEqual([]);
      expect(responses.map((r) => r.body)).toEqual(bodies(depth));
      expect(responses.map((r) => r.headers.connection)).toEqual([...Array(depth - 1).fill('keep-alive'), 'close']);
      expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
    });

    it(`${depth} deep, pipelined and answered before the drain behind a slow first request: every one answered; their heads were written with keep-alive, so the connection closes once idle`, async () => {
      const idleTimeout = 300;
      const { answerSlow, drainer, client } = await pipelinedBehindSlow('sync', depth, { idleTimeout });
      const drained = drainer.drain({ timeout: 10_000 });
      answerSlow();
      const responses = await client.responses;
      // Counted from the last response: the client cannot be sending before.
      expect(performance.now() - client.lastAt()).toBeGreaterThanOrEqual(idleTimeout - 5);
      expect(client.errors).toEqual([]);
      expect(responses.map((r) => r.body)).toEqual(bodies(depth));
      expect(responses.map((r) => r.headers.connection)).toEqual(Array(depth).fill('keep-alive'));
      expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
    });
  }

  it('pipelined on an idle connection during the drain, answered synchronously: all answered, the last with Connection: close', async () => {
    const { server } = pipelineServer('sync');
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await rawClient(port);
    client.socket.write(GET('/1'));
    await expect.poll(() => client.got.length).toBe(1);
    const drained = drainer.drain({ timeout: 10_000 });
    client.socket.write(GET('/2') + GET('/3') + GET('/4'));
    const responses = await client.responses;
    expect(responses.map((r) => [r.body, r.headers.connection])).toEqual([
      ['r1', 'keep-alive'],
      ['r2', 'keep-alive'],
      ['r3', 'keep-alive'],
      ['r4', 'close'],
    ]);
    expect(await drained).toMatchObject({ hammered: 0 });
  });
});

describe('a client that says Connection: close, on a connection accepted during the ramp', () => {
  // Its last request goes to the application at once (nothing may follow it);
  // Node answers it with close and ends the connection, long before the idle bound.
  for (const pipelined of [0, 2]) {
    it(`${pipelined ? `behind ${pipelined} pipelined keep-alive requests` : 'alone'}: every request answered, only the last with Connection: close, the connection closed by the server at once`, async () => {
      const { server } = pipelineServer('sync');
      const drainer = new ServerDrainer(server, { idleTimeout: 60_000 });
      const port = await listenLocal(server);
      const drained = drainer.drain({ ramp: 400, timeout: 60_000 });
      const client = await rawClient(port);
      const ids = Array.from({ length: pipelined + 1 }, (_, i) => i + 1);
      client.socket.write(ids.map((i) => (i === ids.length ? GET(`/${i}`).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n') : GET(`/${i}`))).join(''));
      const responses = await client.responses;
      expect(responses.map((r) => [r.body, r.headers.connection])).toEqual(ids.map((i) => [`r${i}`, i === ids.length ? 'close' : 'keep-alive']));
      expect(client.errors).toEqual([]);
      // Closed by Node after the last answer: the drain ends with its ramp, not at the idle bound or the hammer.
      const result = await drained;
      expect(result.hammered).toBe(0);
      expect(result.durationMs).toBeLessThan(30_000);
    });
  }
});

describe("an application's own Connection header", () => {
  for (const how of ['writeHead', 'setHeader'] as const) {
    it(`Connection: keep-alive set with ${how} does not keep a draining connection open`, async () => {
      const server = resources.server(
        http.createServer((_req, res) => {
          if (how === 'writeHead') {
            res.writeHead(200, { Connection: 'keep-alive', 'Content-Length': '2' });
          } else {
            res.setHeader('Connection', 'keep-alive');
          }
          res.end('ok');
        }),
      );
      const drainer = new ServerDrainer(server);
      const port = await listenLocal(server);
      const client = await resources.connect(port);
      expect((await client.request()).headers.connection).toBe('keep-alive');
      const drained = drainer.drain({ timeout: 10_000 });
      // A client that keeps sending, as a busy keep-alive client does: it is never idle.
      let closed = false;
      for (let i = 0; i < 1000 && !closed; i++) {
        const response = await client.request();
        expect(response.body).toBe('ok');
        closed = response.headers.connection === 'close';
      }
      expect(closed).toBe(true);
      await client.closed;
      expect(client.errors).toEqual([]);
      expect(await drained).toMatchObject({ hammered: 0 });
    });
  }
});

describe('the idle bound', () => {
  it("knows each Node's keep-alive buffer: none before 20.18 and 22.9, 1000 ms since, the server's own keepAliveTimeoutBuffer where Node has it", () => {
    const server = http.createServer();
    const versions = { '20.17.0': 0, '20.18.0': 1000, '20.20.2': 1000, '22.8.0': 0, '22.9.0': 1000, '23.0.0': 1000, '24.5.0': 1000 };
    const plain = Object.assign(Object.create(http.Server.prototype) as http.Server, { keepAliveTimeoutBuffer: undefined });
    for (const [version, buffer] of Object.entries(versions)) expect([version, nodeKeepAliveBuffer(plain, version)]).toEqual([version, buffer]);
    expect(nodeKeepAliveBuffer(Object.assign(server, { keepAliveTimeoutBuffer: 250 }), '24.6.0')).toBe(250);
  });

  it("closes an idle keep-alive connection no earlier than this Node would close it by itself (keepAliveTimeout plus Node's buffer)", async () => {
    const keepAliveTimeout = 1000;
    const idleClose = async (drain: boolean): Promise<number> => {
      const server = resources.server(http.createServer((_req, res) => res.end('ok')));
      server.keepAliveTimeout = keepAliveTimeout;
      const drainer = new ServerDrainer(server);
      const port = await listenLocal(server);
      const client = await resources.connect(port);
      await client.request();
      const answeredAt = performance.now();
      if (drain) drainer.drain({ timeout: 10_000 });
      await client.closed;
      expect(client.errors).toEqual([]);
      return performance.now() - answeredAt;
    };
    // What this Node does on its own, then what the drain does.
    const [byNode, byDrain] = await Promise.all([idleClose(false), idleClose(true)]);
    expect(byNode).toBeGreaterThanOrEqual(keepAliveTimeout - 5);
    expect(byDrain).toBeGreaterThanOrEqual(byNode - 50);
    expect(byDrain).toBeLessThan(byNode + 1000);
  });
});

describe('what a drain adds to the sockets of an HTTP server', () => {
  // A listener the drain adds to every socket gives each a new shape and
  // deoptimizes Node's stream code for all of them: BENCHMARKS.md measured
  // a third of the throughput dip after drain() from it (issue 16).
  it('no listener on a connection open at its start, none on one accepted during its ramp, and the drain still waits for both', async () => {
    // The events the drain once listened to on each socket (its close answer adds 'finish' on the second: destroySoon).
    const listeners = (socket: net.Socket): Record<string, number> => ({ error: socket.listenerCount('error'), close: socket.listenerCount('close') });
    const answered: Promise<net.Socket>[] = [];
    const server = resources.server(http.createServer((req, res) => {
      answered.push(once(res, 'close').then(() => req.socket as net.Socket));
      res.end('ok');
    }));
    const drainer = new ServerDrainer(server, { idleTimeout: 300 });
    const port = await listenLocal(server);
    const request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const early = await rawClient(port);
    early.socket.write(request);
    while (answered.length < 1) await once(server, 'request');
    const first = await answered[0]!;
    // What Node's server leaves on a kept-alive connection between requests.
    const idle = listeners(first);
    const drained = drainer.drain({ ramp: 400, timeout: 60_000 });
    const late = await rawClient(port);
    late.socket.write(request);
    while (answered.length < 2) await once(server, 'request');
    const second = await answered[1]!;
    expect(listeners(first)).toEqual(idle);
    expect(listeners(second)).toEqual(idle);
    // Neither client closes: the drain closes both (idle bound), and resolves only once both have closed.
    const result = await drained;
    expect([first.destroyed, second.destroyed]).toEqual([true, true]);
    expect(result.hammered).toBe(0);
    await Promise.all([early.responses, late.responses]);
  });
});

describe('what a drain keeps', () => {
  it('holds no closed connection until its idle bound: 300 Connection: close requests during a ramp leave at most what the open list keeps until its next sweep', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sockets: WeakRef<net.Socket>[] = [];
    let closed = 0;
    let allClosed: () => void;
    const everyOneClosed = new Promise<void>((resolve) => (allClosed = resolve));
    const server = resources.server(http.createServer((_req, res) => res.end('ok')));
    server.on('connection', (socket: net.Socket) => {
      sockets.push(new WeakRef(socket));
      socket.once('close', () => ++closed === 300 && allClosed());
    });
    // An idle bound of a minute: a timer per released connection, if left pending, would hold it that long.
    const drainer = new ServerDrainer(server, { idleTimeout: 60_000 });
    const port = await listenLocal(server);
    const drained = drainer.drain({ ramp: 60_000, timeout: 60_000 });
    const agent = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 300; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ port, host: '127.0.0.1', agent }, resolve).once('error', reject));
      res.resume();
      await once(res, 'end');
    }
    await everyOneClosed;
    expect(drainer.stats.connections).toBe(0); // also sweeps the open lists
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(sockets).toHaveLength(300);
    const kept = sockets.filter((ref) => ref.deref() !== undefined).length;
    // The open list drops closed connections at its sweeps (when it has doubled, from 64 on): the rest are garbage.
    expect(kept).toBeLessThan(64);
    drainer.hammer();
    await drained;
  });
});
