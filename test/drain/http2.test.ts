import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServerDrainer } from '../../lib/drain/server-drainer';
import { makeCertificate, type TestCertificate } from '../helpers/drain-tls';
import { listenLocal, listenOnSameSocket } from '../helpers/drain-servers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Closes a server, destroying its sessions (test clean-up). */
function trackServer(server: http2.Http2Server | http2.Http2SecureServer): void {
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  cleanups.push(async () => {
    for (const session of sessions) session.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

function connect(authority: string, options?: http2.SecureClientSessionOptions): http2.ClientHttp2Session {
  const session = http2.connect(authority, options);
  session.on('error', () => {});
  cleanups.push(() => session.destroy());
  return session;
}

/** A 'stream'-API server answering `name`; `/slow` after 300 ms, `/forever` never. */
function streamServer(name: string): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = headers[':path'];
    if (path === '/forever') return;
    const timer = setTimeout(
      () => {
        stream.respond({ ':status': 200 });
        stream.end(name);
      },
      path === '/slow' ? 300 : 0,
    );
    stream.once('close', () => clearTimeout(timer));
  });
  trackServer(server);
  return server;
}

function get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = session.request({ ':path': path });
    let status = 0;
    let body = '';
    request.setEncoding('utf8');
    request.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => resolve({ status, body }));
    request.on('error', reject);
  });
}

describe('ServerDrainer: HTTP/2', () => {
  it('streams in flight complete, the client gets GOAWAY, new streams go to B over a new session', async () => {
    const a = streamServer('A');
    const drainer = new ServerDrainer(a);
    // Observing must not install the compatibility layer on a 'stream'-API server.
    expect(a.listenerCount('request')).toBe(0);
    const port = await listenLocal(a);
    const b = streamServer('B');

    const old = connect(`http://127.0.0.1:${port}`);
    const goaways: [number, number][] = [];
    old.on('goaway', (code, lastStreamID) => goaways.push([code, lastStreamID]));
    const inFlight = [1, 2, 3, 4].map(() => get(old, '/slow'));
    await expect.poll(() => drainer.stats).toEqual({ connections: 1, requests: 4, upgraded: 0 });

    await listenOnSameSocket(b, a);
    const result = await drainer.drain({ timeout: 10_000 });
    expect(await Promise.all(inFlight)).toEqual(Array(4).fill({ status: 200, body: 'A' }));
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 4 });
    // NO_ERROR, naming the last of the four streams (ids 1, 3, 5, 7) as processed.
    expect(goaways[0]).toEqual([http2.constants.NGHTTP2_NO_ERROR, 7]);
    expect(old.closed || old.destroyed).toBe(true);

    const fresh = connect(`http://127.0.0.1:${port}`);
    expect(await get(fresh, '/')).toEqual({ status: 200, body: 'B' });
  });

  it('destroys a stream that never ends at the timeout', async () => {
    const a = streamServer('A');
    const drainer = new ServerDrainer(a);
    const port = await listenLocal(a);
    const session = connect(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/forever' });
    stream.on('error', () => {});
    await expect.poll(() => drainer.stats.requests).toBe(1);
    const closed = once(session, 'close');
    const hammers: number[] = [];
    drainer.on('hammer', ({ destroyed }) => hammers.push(destroyed));
    const result = await drainer.drain({ timeout: 200 });
    expect(result.hammered).toBe(1);
    expect(hammers).toEqual([1]);
    await closed;
    await expect.poll(() => drainer.stats).toEqual({ connections: 0, requests: 0, upgraded: 0 });
  });
});

describe('ServerDrainer: HTTP/2 over TLS with allowHTTP1', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  it('sends GOAWAY to HTTP/2 sessions and Connection: close to HTTP/1.1 connections', async () => {
    const server = http2.createSecureServer({ ...certificate, allowHTTP1: true }, (_req, res) => {
      res.end('A');
    });
    trackServer(server);
    const drainer = new ServerDrainer(server);
    const port = await listenLocal(server);

    const h2 = connect(`https://127.0.0.1:${port}`, { ca: certificate.cert, servername: 'localhost' });
    expect(await get(h2, '/')).toEqual({ status: 200, body: 'A' });
    const goaway = once(h2, 'goaway');

    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const h1 = (): Promise<{ body: string; connection: string | undefined; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const request = https.get({ host: '127.0.0.1', port, agent, ca: certificate.cert, servername: 'localhost' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ body, connection: res.headers.connection, reused: request.reusedSocket }));
        });
        request.on('error', reject);
      });
    expect(await h1()).toEqual({ body: 'A', connection: 'keep-alive', reused: false });
    await expect.poll(() => drainer.stats.connections).toBe(2);

    const drained = drainer.drain({ timeout: 10_000 });
    // The idle HTTP/1.1 connection is reused for a request that races the drain.
    expect(await h1()).toEqual({ body: 'A', connection: 'close', reused: true });
    await goaway;
    const result = await drained;
    expect(result).toMatchObject({ hammered: 0, connectionsAtStart: 2 });
  });
});
