/**
 * THE drain test: two generations share one listening socket, the old one
 * drains under a wrk-like load, and the clients see zero errors — where Go's
 * Server.Shutdown and Node's server.close() (which close idle keep-alive
 * connections at once) make clients that race a new request see resets and
 * EOFs. Every round runs a few times to catch the race.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate, type TestCertificate } from '../helpers/drain-tls';
import { drainUnderLoad, expectCleanRound } from '../helpers/drain-load';

const ROUNDS = 4;

function fast(name: string): http.RequestListener {
  return (_req, res) => {
    res.end(name);
  };
}

function slow(name: string, ms: number): http.RequestListener {
  return (_req, res) => {
    const timer = setTimeout(() => res.end(name), ms);
    res.once('close', () => clearTimeout(timer));
  };
}

describe('drain under HTTP/1.1 load', () => {
  it(`keep-alive load: zero client errors (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const result = await drainUnderLoad({
        create: (name) => http.createServer(fast(name)),
        keepAlive: true,
        warmup: 300,
        after: 200,
      });
      expectCleanRound(result);
    }
  });

  it(`Connection: close load (a connection per request): zero client errors (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const result = await drainUnderLoad({
        create: (name) => http.createServer(fast(name)),
        keepAlive: false,
        warmup: 100,
        after: 100,
      });
      expectCleanRound(result);
    }
  });

  it('slow handler: the requests in flight at drain time complete on A (2 rounds)', async () => {
    for (let round = 0; round < 2; round++) {
      const result = await drainUnderLoad({
        create: (name) => http.createServer(slow(name, 300)),
        keepAlive: true,
        warmup: 16,
        after: 16,
        // Every connection has a request in A's handler when A drains.
        beforeDrain: (drainer) => expect.poll(() => drainer.stats.requests, { timeout: 5000, interval: 2 }).toBe(16),
      });
      expectCleanRound(result);
      expect(result.result.requestsAtStart).toBe(16);
    }
  });
});

describe('drain under HTTPS load', () => {
  let certificate: TestCertificate;
  beforeAll(async () => {
    certificate = await makeCertificate();
  });

  it('keep-alive load over TLS: zero client errors (2 rounds)', async () => {
    for (let round = 0; round < 2; round++) {
      const result = await drainUnderLoad({
        create: (name) => https.createServer(certificate, fast(name)),
        tls: { ca: certificate.cert, servername: 'localhost' },
        keepAlive: true,
        warmup: 200,
        after: 100,
      });
      expectCleanRound(result);
    }
  });

  it('Connection: close load over TLS (a handshake per request): zero client errors', async () => {
    const result = await drainUnderLoad({
      create: (name) => https.createServer(certificate, fast(name)),
      tls: { ca: certificate.cert, servername: 'localhost' },
      keepAlive: false,
      connections: 8,
      warmup: 50,
      after: 50,
    });
    expectCleanRound(result);
  });
});
