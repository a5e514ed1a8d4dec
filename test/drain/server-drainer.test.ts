import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_IDLE_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, type DrainResult } from '../../lib/drain/server-drainer';
import { ServerDrainer } from '../helpers/drain-surplus';
import { RawHttpConnection, TestResources, listenLocal } from '../helpers/drain-servers';
import { makeCertificate, type TestCertificate } from '../helpers/drain-tls';

// Every server and client socket a test makes, closed after it whatever happened.
const resources = new TestResources();
afterEach(() => resources.cleanup());

function track<T extends net.Server>(server: T): T {
  return resources.server(server);
}

function connect(port: number): Promise<RawHttpConnection> {
  return resources.connect(port);
}

function rawSocket(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  resources.add(() => socket.destroy());
  return socket;
}

/** Reads from `socket` until `text` has arrived; resolves with everything read. */
function readUntil(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        socket.off('data', onData).off('close', onClose);
        resolve(seen);
      }
    };
    const onClose = (): void => reject(new Error(`closed before ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`));
    socket.on('data', onData).once('close', onClose);
  });
}

describe('ServerDrainer: arguments and edge cases', () => {
  it('validates its arguments', () => {
    expect(() => new ServerDrainer({} as net.Server)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const server = http.createServer();
    expect(() => new ServerDrainer(server, { idleTimeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new ServerDrainer(server, { idleTimeout: Infinity })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new ServerDrainer(server, { onUpgraded: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const drainer = new ServerDrainer(server);
    expect(() => drainer.drain({ timeout: -5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => drainer.drain({ timeout: '1' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(DEFAULT_DRAIN_TIMEOUT).toBe(30_000);
    expect(DEFAULT_DRAIN_IDLE_TIMEOUT).toBe(5_000);
  });

  it('resolves at once for a server that never listened; drain() twice is one drain', async () => {
    const server = http.createServer();
    const drainer = new ServerDrainer(server);
    const events: string[] = [];
    drainer.on('draining', (info) => events.push(`draining ${info.connections}/${info.requests}`));
    drainer.on('drained', (result) => events.push(`drained ${result.hammered}`));
    const first = drainer.drain({ timeout: 1000 });
    expect(drainer.drain()).toBe(first);
    expect(drainer.draining).toBe(true);
    const result = await first;
    expect(result).toEqual({ durationMs: expect.any(Number), hammered: 0, connectionsAtStart: 0, requestsAtStart: 0 });
    expect(events).toEqual(['draining 0/0', 'drained 0']);
  });

  it('closes the listener of a server without connections and resolves', async () => {
    const server = track(http.createServer());
    const drainer = new ServerDrainer(server);
    await listenLocal(server);
    const closed = once(server, 'close');
    const result = await drainer.drain({ timeout: 5000 });
    await closed;
    expect(server.listening).toBe(false);
    expect(result.hammered).toBe(0);
    expect(drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
  });

  it('stopAccepting() before listen(): the server is closed again as soon as it listens', async () => {
    const server = track(http.createServer());
    const drainer = new ServerDrainer(server);
    drainer.stopAccepting();
    drainer.stopAccepting();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    expect(server.listening).toBe(false);
  });

  it('stopAccepting() closes only the listener: an idle keep-alive connection stays usable', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await connect(port);
    expect((await client.request()).body).toBe('ok');
    drainer.stopAccepting();
    expect(server.listening).toBe(false);
    await expect(RawHttpConnection.open(port)).rejects.toThrow(/ECONNREFUSED/);
    const response = await client.request();
    expect(response.body).toBe('ok');
    expect(response.headers.connection).toBe('keep-alive');
    expect(drainer.stats).toEqual({ connections: 1, requests: 0, upgraded: 0 });
  });
});

describe('ServerDrainer: HTTP/1 keep-alive rule', () => {
  it('does not close an idle connection at the start of the drain; its next request is answered with Connection: close', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await connect(port);
    await client.request();
    const drained = drainer.drain({ timeout: 10_000 });
    // The client races a request with the drain, as a keep-alive client does.
    const response = await client.request();
    expect(response.status).toBe(200);
    expect(response.body).toBe('ok');
    expect(response.headers.connection).toBe('close');
    await client.closed;
    expect(client.errors).toEqual([]);
    const result = await drained;
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 0 });
  });

  it('sets Connection: close on responses in flight whose headers are not sent yet', async () => {
    let respond: (() => void) | undefined;
    const server = track(
      http.createServer((_req, res) => {
        respond = () => res.end('late');
      }),
    );
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await connect(port);
    const pending = client.request();
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const drained = drainer.drain({ timeout: 10_000 });
    respond!();
    const response = await pending;
    expect(response.body).toBe('late');
    expect(response.headers.connection).toBe('close');
    await client.closed;
    expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
  });

  it('closes a connection that stays idle only after the idle bound, counted from its last response', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    server.keepAliveTimeout = 0; // Node's own idle timeout off: only the drainer's bound applies
    const idleTimeout = 300;
    const drainer = new ServerDrainer(server, { idleTimeout });
    const port = await listenLocal(server);
    const client = await connect(port);
    await client.request();
    const lastResponseAt = performance.now();
    const result = await drainer.drain({ timeout: 10_000 });
    const closedAfter = performance.now() - lastResponseAt;
    await client.closed;
    expect(client.ended).toBe(true);
    expect(client.errors).toEqual([]);
    expect(closedAfter).toBeGreaterThanOrEqual(idleTimeout - 5);
    expect(closedAfter).toBeLessThan(idleTimeout + 2000);
    expect(result.hammered).toBe(0);
  });

  it('a connection receiving a request slowly is not idle: its request completes', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    server.keepAliveTimeout = 0;
    let serverSide: net.Socket | undefined;
    server.on('connection', (socket) => {
      serverSide = socket;
    });
    const drainer = new ServerDrainer(server, { idleTimeout: 300 });
    const port = await listenLocal(server);
    const client = await connect(port);
    const drained = drainer.drain({ timeout: 10_000 });
    // Half a request head now, the rest once the idle bound has passed (but
    // not twice): the bytes received reset the bound.
    client.write('GET / HTTP/1.1\r\nHo');
    await expect.poll(() => serverSide?.bytesRead, { interval: 1 }).toBe(18);
    // The scenario is a slow client: time passes on purpose, nothing waits on it.
    await new Promise((resolve) => setTimeout(resolve, 350));
    const response = new Promise<string>((resolve) => {
      let text = '';
      client.socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      client.socket.once('end', () => resolve(text));
    });
    client.write('st: x\r\n\r\n');
    expect(await response).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*Connection: close[\s\S]*ok$/);
    expect((await drained).hammered).toBe(0);
  });

  // Made before listen(), the drainer sees every connection open and reads what
  // is in flight off the socket; made after, it keeps a record per connection.
  it.each(['before', 'after'])('pipelined requests in flight at the start all complete; only the last response says Connection: close (drainer made %s listen)', async (when) => {
    const responders = new Map<string, (body: string) => void>();
    let bothArrived: () => void;
    const arrived = new Promise<void>((resolve) => {
      bothArrived = resolve;
    });
    const server = track(
      http.createServer((req, res) => {
        responders.set(req.url!, (body) => res.end(body));
        if (responders.size === 2) bothArrived();
      }),
    );
    let drainer = when === 'before' ? new ServerDrainer(server) : undefined;
    const port = await listenLocal(server);
    drainer ??= new ServerDrainer(server);
    const socket = rawSocket(port);
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const ended = once(socket, 'end');
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await arrived;
    // Before the drain, requests pipelined on one connection count as one.
    expect(drainer.stats).toEqual({ connections: 1, requests: 1, upgraded: 0 });
    const drained = drainer.drain({ timeout: 10_000 });
    // The second answer first: Node holds it back until the first is sent.
    responders.get('/b')!('second');
    responders.get('/a')!('first');
    await ended;
    const responses = text.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: keep-alive\r\n[\s\S]*first$/);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n[\s\S]*second$/);
    expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
  });

  it('a client reset under a pipelined request releases it: the drain ends without waiting for the timeout', async () => {
    let arrived: () => void;
    const bothArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let requests = 0;
    const server = track(
      http.createServer(() => {
        // Never answered: the client gives up.
        if (++requests === 2) arrived();
      }),
    );
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const socket = rawSocket(port);
    await once(socket, 'connect');
    socket.on('error', () => {});
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await bothArrived;
    const drained = drainer.drain({ timeout: 60_000 });
    await expect.poll(() => drainer.stats.requests).toBe(1);
    socket.resetAndDestroy();
    // The queued response of /b never emits 'close' on Node 20: the socket's close releases it.
    await expect.poll(() => drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
    expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
  });

  it('counts only the connections still open when the drain starts, after many have come and gone', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const serverSideClosed: Promise<unknown>[] = [];
    server.on('connection', (socket: net.Socket) => serverSideClosed.push(once(socket, 'close')));
    // More than one sweep's worth of short connections (see OpenList).
    for (let i = 0; i < 150; i++) {
      const client = await connect(port);
      expect((await client.request('/', 'Connection: close\r\n')).body).toBe('ok');
      await client.closed;
    }
    await Promise.all(serverSideClosed);
    const kept = [await connect(port), await connect(port)];
    await Promise.all(kept.map((client) => client.request()));
    expect(drainer.stats).toEqual({ connections: 2, requests: 0, upgraded: 0 });
    const result = await drainer.drain({ timeout: 10_000 });
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 2, requestsAtStart: 0 });
  });

  it('a drainer made after listen() counts once both a connection it saw open and one it did not; both in-flight responses get Connection: close', async () => {
    const responders: (() => void)[] = [];
    const server = track(
      http.createServer((_req, res) => {
        responders.push(() => res.end('late'));
      }),
    );
    const port = await listenLocal(server);
    const before = await connect(port);
    const drainer = new ServerDrainer(server);
    const after = await connect(port);
    const pending = [before.request(), after.request()];
    await expect.poll(() => responders.length).toBe(2);
    expect(drainer.stats).toEqual({ connections: 2, requests: 2, upgraded: 0 });
    const drained = drainer.drain({ timeout: 10_000 });
    for (const respond of responders) respond();
    for (const response of await Promise.all(pending)) {
      expect(response.body).toBe('late');
      expect(response.headers.connection).toBe('close');
    }
    await Promise.all([before.closed, after.closed]);
    expect(await drained).toMatchObject({ hammered: 0, connectionsAtStart: 2, requestsAtStart: 2 });
  });

  it("tracks requests that Node hands to a 'checkContinue' listener instead of 'request'", async () => {
    let respond: (() => void) | undefined;
    const server = track(http.createServer());
    const drainer = new ServerDrainer(server);
    server.on('checkContinue', (_req, res) => {
      res.writeContinue();
      respond = () => res.end('continued');
    });
    const port = await connect(await listenLocal(server));
    const pending = port.request('/', 'Expect: 100-continue\r\n');
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const drained = drainer.drain({ timeout: 10_000 });
    respond!();
    // The interim 100 Continue comes first; the parser reports the final response.
    expect(await pending).toMatchObject({ status: 200, body: 'continued', headers: { connection: 'close' } });
    expect((await drained).hammered).toBe(0);
  });

  it('a connection opened before the drainer existed is picked up at its next request', async () => {
    const server = track(http.createServer((_req, res) => res.end('ok')));
    const port = await listenLocal(server);
    const client = await connect(port);
    await client.request();
    const drainer = new ServerDrainer(server);
    expect(drainer.stats.connections).toBe(0);
    const drained = drainer.drain({ timeout: 10_000 });
    const response = await client.request();
    expect(response.headers.connection).toBe('close');
    await client.closed;
    expect((await drained).hammered).toBe(0);
  });
});

describe('ServerDrainer: hammer', () => {
  it('destroys a request that never finishes at the timeout', async () => {
    const server = track(http.createServer(() => {}));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = rawSocket(port);
    client.on('error', () => {});
    client.write('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const hammers: number[] = [];
    drainer.on('hammer', ({ destroyed }) => hammers.push(destroyed));
    const closed = once(client, 'close');
    const result: DrainResult = await drainer.drain({ timeout: 200 });
    expect(result).toMatchObject({ hammered: 1, connectionsAtStart: 1, requestsAtStart: 1 });
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(hammers).toEqual([1]);
    await closed;
    await expect.poll(() => drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
  });

  it('hammer() ends a running drain at once', async () => {
    const server = track(http.createServer(() => {}));
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = rawSocket(port);
    client.on('error', () => {});
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const drained = drainer.drain({ timeout: 60_000 });
    const closed = once(client, 'close');
    expect(drainer.hammer()).toBe(drained);
    expect((await drained).hammered).toBe(1);
    await closed;
  });
});

describe('ServerDrainer: upgraded connections', () => {
  const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n';

  function upgradingServer(): http.Server {
    const server = track(http.createServer((_req, res) => res.end('http')));
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      // An echo protocol; no 'error' listener, as many applications forget it.
      socket.on('data', (chunk) => socket.write(chunk));
    });
    return server;
  }

  async function upgradedClient(port: number): Promise<net.Socket> {
    const client = rawSocket(port);
    client.write(UPGRADE);
    await readUntil(client, '\r\n\r\n');
    return client;
  }

  it('leaves a server without an upgrade listener as it was: the Upgrade request is answered as HTTP', async () => {
    const server = track(http.createServer((_req, res) => res.end('http')));
    const drainer = new ServerDrainer(server);
    expect(server.listenerCount('upgrade')).toBe(0);
    const port = await listenLocal(server);
    const client = await connect(port);
    const response = await client.request('/ws', 'Connection: Upgrade\r\nUpgrade: test\r\n');
    expect(response).toMatchObject({ status: 200, body: 'http' });
    expect(drainer.stats.upgraded).toBe(0);
  });

  it('lets the onUpgraded hook say goodbye; drained without hammer', async () => {
    const server = upgradingServer();
    const told: net.Socket[] = [];
    const drainer = new ServerDrainer(server, {
      onUpgraded: (socket) => {
        told.push(socket);
        socket.end('goodbye\n');
      },
    });
    const events: net.Socket[] = [];
    drainer.on('upgraded-connection', (socket) => events.push(socket));
    const port = await listenLocal(server);
    const client = await upgradedClient(port);
    client.write('ping\n');
    await readUntil(client, 'ping\n');
    expect(drainer.stats).toEqual({ connections: 1, requests: 0, upgraded: 1 });
    const received = readUntil(client, 'goodbye\n');
    const result = await drainer.drain({ timeout: 10_000 });
    await received;
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 1 });
    expect(told).toHaveLength(1);
    expect(events).toEqual(told);
    expect(drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
  });

  it('hammers an upgraded socket whose hook does nothing, at the timeout', async () => {
    const server = upgradingServer();
    const drainer = new ServerDrainer(server, { onUpgraded: () => {} });
    const port = await listenLocal(server);
    const client = await upgradedClient(port);
    client.on('error', () => {});
    const closed = once(client, 'close');
    const result = await drainer.drain({ timeout: 200 });
    expect(result.hammered).toBe(1);
    await closed;
  });

  it('an upgraded socket is never closed as an idle HTTP connection: the hook says goodbye, long after the idle bound', async () => {
    const server = upgradingServer();
    server.keepAliveTimeout = 0;
    const idleTimeout = 100;
    let tell: (() => void) | undefined;
    const told = new Promise<void>((resolve) => {
      tell = resolve;
    });
    const drainer = new ServerDrainer(server, {
      idleTimeout,
      onUpgraded: (socket) => {
        // The application's protocol decides when to end: here, after the
        // test has seen the socket outlive the idle bound several times.
        tell!();
        told.then(() => setTimeout(() => socket.end('goodbye\n'), idleTimeout * 5));
      },
    });
    const port = await listenLocal(server);
    const client = await upgradedClient(port);
    const drained = drainer.drain({ timeout: 10_000 });
    await told;
    const startedAt = performance.now();
    const goodbye = readUntil(client, 'goodbye\n');
    await goodbye;
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(idleTimeout * 5 - 5);
    expect((await drained).hammered).toBe(0);
  });

  it('a CONNECT tunnel opened before the drain is not closed as idle either', async () => {
    const server = track(http.createServer());
    server.keepAliveTimeout = 0;
    server.on('connect', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.on('data', (chunk) => socket.write(chunk));
    });
    const drainer = new ServerDrainer(server, { idleTimeout: 100, onUpgraded: () => {} });
    const port = await listenLocal(server);
    const client = rawSocket(port);
    client.write('CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n');
    await readUntil(client, '\r\n\r\n');
    const drained = drainer.drain({ timeout: 600 });
    // Only the hammer at the timeout ends it, not the idle bound.
    const result = await drained;
    expect(result.hammered).toBe(1);
    expect(result.durationMs).toBeGreaterThanOrEqual(595);
  });

  it('a client reset on an upgraded socket during the drain does not crash the process', async () => {
    const server = upgradingServer();
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);
    const client = await upgradedClient(port);
    const drained = drainer.drain({ timeout: 10_000 });
    client.resetAndDestroy();
    expect((await drained).hammered).toBe(0);
  });

  it('asks a socket upgraded during the drain to say goodbye, after the app handled the upgrade', async () => {
    const server = upgradingServer();
    const drainer = new ServerDrainer(server, { onUpgraded: (socket) => socket.end('bye\n') });
    const port = await listenLocal(server);
    // A keep-alive connection that upgrades after the drain started.
    const client = await connect(port);
    await client.request();
    const drained = drainer.drain({ timeout: 10_000 });
    const text = await new Promise<string>((resolve) => {
      let seen = '';
      client.socket.removeAllListeners('data');
      client.socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
      });
      client.socket.once('end', () => resolve(seen));
      client.write(UPGRADE);
    });
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\nbye\n$/);
    expect((await drained).hammered).toBe(0);
  });
});

describe('ServerDrainer: plain net.Server', () => {
  it('asks every connection to end; the exchange in flight finishes first', async () => {
    // A line protocol answering each line after 50 ms of "work".
    const busy = new Map<net.Socket, boolean>();
    const endWhenIdle = new Set<net.Socket>();
    const server = track(
      net.createServer((socket) => {
        busy.set(socket, false);
        socket.on('data', (chunk) => {
          busy.set(socket, true);
          setTimeout(() => {
            socket.write(`echo ${chunk.toString()}`);
            busy.set(socket, false);
            if (endWhenIdle.has(socket)) socket.end();
          }, 50);
        });
      }),
    );
    const told: net.Socket[] = [];
    const drainer = new ServerDrainer(server, {
      onConnectionDrain: (socket) => {
        told.push(socket);
        if (busy.get(socket)) endWhenIdle.add(socket);
        else socket.end();
      },
    });
    let events = 0;
    drainer.on('connection-drain', () => events++);
    const port = await listenLocal(server);
    const clients = [rawSocket(port), rawSocket(port), rawSocket(port)];
    await Promise.all(clients.map((client) => once(client, 'connect')));
    await expect.poll(() => drainer.stats.connections).toBe(3);
    const texts = clients.map(
      (client) =>
        new Promise<string>((resolve, reject) => {
          let seen = '';
          client.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
          });
          client.once('end', () => resolve(seen));
          client.once('error', reject);
        }),
    );
    clients[0]!.write('in flight\n');
    await expect.poll(() => [...busy.values()].filter(Boolean).length).toBe(1);
    const result = await drainer.drain({ timeout: 10_000 });
    expect(await Promise.all(texts)).toEqual(['echo in flight\n', '', '']);
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 3 });
    expect(told).toHaveLength(3);
    expect(events).toBe(3);
  });
});

describe('ServerDrainer: https.Server', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  it('a connection upgraded before the drain counts once (the raw socket and its TLS socket are one connection)', async () => {
    const server = track(https.createServer(certificate, (_req, res) => res.end('https')));
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
      socket.on('data', () => {});
    });
    const drainer = new ServerDrainer(server, { onUpgraded: (socket) => socket.end() });
    const port = await listenLocal(server);
    const client = tls.connect({ host: '127.0.0.1', port, ca: certificate.cert, servername: 'localhost' });
    resources.add(() => client.destroy());
    await once(client, 'secureConnect');
    client.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await readUntil(client, '\r\n\r\n');
    expect(drainer.stats).toEqual({ connections: 1, requests: 0, upgraded: 1 });
    const result = await drainer.drain({ timeout: 10_000 });
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 1 });
  });
});

describe('ServerDrainer: plain tls.Server', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  it('hands the TLS sockets to the hook; drain resolves once they closed', async () => {
    const server = track(tls.createServer(certificate, (socket) => socket.on('data', (chunk) => socket.write(chunk))));
    const drainer = new ServerDrainer(server, { onConnectionDrain: (socket) => socket.end('bye') });
    const port = await listenLocal(server);
    const client = tls.connect({ host: '127.0.0.1', port, ca: certificate.cert, servername: 'localhost' });
    resources.add(() => client.destroy());
    await once(client, 'secureConnect');
    client.write('hi');
    expect(await readUntil(client, 'hi')).toBe('hi');
    const rest = readUntil(client, 'bye');
    const result = await drainer.drain({ timeout: 10_000 });
    expect(await rest).toBe('bye');
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 1 });
  });
});
