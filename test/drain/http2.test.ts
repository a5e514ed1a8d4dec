import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate, type TestCertificate } from '../helpers/drain-tls';
import { listenLocal, listenOnSameSocket } from '../helpers/drain-servers';
import { ServerDrainer } from '../helpers/drain-surplus';

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

describe('ServerDrainer: an HTTP/2 session begun during a ramp (over TLS)', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  function secureStreamServer(name: string): http2.Http2SecureServer {
    const server = http2.createSecureServer(certificate);
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(name);
    });
    trackServer(server);
    return server;
  }

  const tlsOptions = (): http2.SecureClientSessionOptions => ({ ca: certificate.cert, servername: 'localhost' });

  it('a client that does not retry gets the requests it sent with its preface answered, then GOAWAY', async () => {
    const a = secureStreamServer('A');
    const drainer = new ServerDrainer(a);
    const port = await listenLocal(a);
    const drained = drainer.drain({ ramp: 2000, timeout: 10_000 });
    expect(a.listening).toBe(true);
    const client = connect(`https://127.0.0.1:${port}`, tlsOptions());
    const goaway = once(client, 'goaway');
    const first = [get(client, '/'), get(client, '/'), get(client, '/')];
    expect(await Promise.all(first)).toEqual(Array(3).fill({ status: 200, body: 'A' }));
    const [code, lastStreamID] = await goaway;
    expect([code, lastStreamID]).toEqual([http2.constants.NGHTTP2_NO_ERROR, 5]);
    expect(await drained).toMatchObject({ hammered: 0 });
  });

  it('a client that retries refused requests on a new session needs no retry for its first flight; later requests are retried and answered', async () => {
    const a = secureStreamServer('A');
    const drainer = new ServerDrainer(a);
    const port = await listenLocal(a);
    const drained = drainer.drain({ ramp: 2000, timeout: 10_000 });
    // Only A listens: the first session is A's.
    let session = connect(`https://127.0.0.1:${port}`, tlsOptions());
    const first = session;
    const goaway = once(first, 'goaway');
    let retries = 0;
    /** GET on the current session; a request refused by a GOAWAY (or a closed session) is sent again on a new one. */
    const retrying = async (): Promise<{ status: number; body: string }> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          return await get(session, '/');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ERR_HTTP2_STREAM_ERROR' && code !== 'ERR_HTTP2_GOAWAY_SESSION' && code !== 'ERR_HTTP2_INVALID_SESSION') throw err;
          retries++;
          if (session === first || session.closed || session.destroyed) session = connect(`https://127.0.0.1:${port}`, tlsOptions());
        }
      }
      throw new Error('refused five times');
    };
    expect(await Promise.all([retrying(), retrying(), retrying()])).toEqual(Array(3).fill({ status: 200, body: 'A' }));
    expect(retries).toBe(0);
    // The successor starts; the first session gets its GOAWAY; later requests go to a new session.
    const b = secureStreamServer('B');
    await listenOnSameSocket(b, a);
    await goaway;
    const later = await Promise.all([retrying(), retrying(), retrying()]);
    expect(later.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await drained).toMatchObject({ hammered: 0 });
  });
});
