// GracefulServer (issue 4): every kind of server upgraded twice, for real.
// Generations of test/fixtures/graceful-app.js run under a subreaper; every
// step waits on a JSON event a generation printed, a process exit or
// expect.poll. Requests "in flight" are answered by the fixture only after
// its drain has started (`drain=1`), so they are in flight by construction.
// Tests that check that a new connection reaches the new generation right
// after it is ready run with `drainRamp: 0` (NO_RAMP), the documented way
// back to "stop accepting at once"; the ramp's own tests are in ramp.test.ts.
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { removeTempDirs } from '../helpers/children';
import { makeCertificate } from '../helpers/drain-tls';
import { cleanupFleets, Fleet, get, pidOf, type AppConfig, type AppEvent } from '../helpers/graceful';
import { ERROR_KINDS, LoadClient, type LoadErrorKind } from '../helpers/load-client';

let tls: { key: string; cert: string };

beforeAll(async () => {
  const certificate = await makeCertificate();
  tls = { key: certificate.key.toString(), cert: certificate.cert.toString() };
});
afterEach(cleanupFleets);
afterAll(() => removeTempDirs());

const ZERO_ERRORS = Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<LoadErrorKind, number>;
const IN_FLIGHT = 3;
const NO_RAMP = { drainRamp: 0 };

async function startFleet(config: AppConfig): Promise<{ fleet: Fleet; ready: AppEvent }> {
  const fleet = new Fleet({ config });
  const ready = await fleet.next({ event: 'ready' });
  return { fleet, ready };
}

/** Waits until the generation `pid` has printed a 'request' event for each id. */
async function arrived(fleet: Fleet, pid: number, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => fleet.next({ event: 'request', pid, id })));
}

/** The numbers a log line needs, on the events of one upgrade from `old` to `next`. */
function expectUpgradeNumbers(fleet: Fleet, old: AppEvent, next: AppEvent, drained: AppEvent, inFlight: number): void {
  const upgrading = fleet.all({ event: 'upgrading', pid: old.pid });
  expect(upgrading.map((e) => e.newPid)).toEqual([next.pid]);
  const [upgraded] = fleet.all({ event: 'upgraded', pid: old.pid });
  expect(upgraded).toMatchObject({ newPid: next.pid });
  expect(upgraded.durationMs).toBeGreaterThan(0);
  const [draining] = fleet.all({ event: 'draining', pid: old.pid });
  expect(draining.requests).toBe(inFlight);
  expect(draining.connections).toBeGreaterThanOrEqual(inFlight === 0 ? 0 : 1);
  expect(drained).toMatchObject({ hammered: 0, requestsAtStart: inFlight, connectionsAtStart: draining.connections });
  expect(drained.durationMs).toBeGreaterThanOrEqual(0);
}

describe('HTTP/1.1 and HTTPS', () => {
  for (const secure of [false, true]) {
    const kind = secure ? 'https' : 'http';
    it(`${kind}: requests in flight on keep-alive connections complete on the old pid across two upgrades; new requests reach the new pid`, async () => {
      const { fleet, ready: first } = await startFleet({ kind, tls, options: NO_RAMP });
      const port = first.port as number;
      let current = first;
      for (const round of [1, 2]) {
        const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: IN_FLIGHT, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
        try {
          // Open IN_FLIGHT keep-alive connections, then put a request on each.
          const warm = await Promise.all(Array.from({ length: IN_FLIGHT }, () => get({ port }, '/', { agent, tls: secure })));
          expect(warm.map(pidOf)).toEqual(Array(IN_FLIGHT).fill(current.pid));
          expect(warm.every((r) => r.headers.connection === 'keep-alive')).toBe(true);
          const ids = Array.from({ length: IN_FLIGHT }, (_, i) => `${kind}-${round}-${i}`);
          const slow = ids.map((id) => get({ port }, `/slow?ms=200&drain=1&id=${id}`, { agent, tls: secure }));
          await arrived(fleet, current.pid, ids);

          const { ready } = await fleet.upgrade(current);
          // The old generation accepts nothing any more: a new connection reaches the new one.
          expect(pidOf(await get({ port }, '/', { tls: secure }))).toBe(ready.pid);
          const replies = await Promise.all(slow);
          expect(replies.map(pidOf)).toEqual(Array(IN_FLIGHT).fill(current.pid));
          // Each kept-alive connection is told to close after its last response.
          expect(replies.map((r) => r.headers.connection)).toEqual(Array(IN_FLIGHT).fill('close'));
          const drained = await fleet.retired(current, ready);
          expectUpgradeNumbers(fleet, current, ready, drained, IN_FLIGHT);
          expect(ready.port).toBe(port);
          current = ready;
        } finally {
          agent.destroy();
        }
      }
    });

    it(`${kind}: zero client errors under keep-alive load across two upgrades`, async () => {
      const { fleet, ready: first } = await startFleet({ kind, tls });
      const load = new LoadClient({ port: first.port, connections: 8, tls: secure ? {} : undefined }).start();
      try {
        let current = first;
        await expect.poll(() => load.served(String(current.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
        for (let round = 0; round < 2; round++) {
          const { ready } = await fleet.upgrade(current);
          await expect.poll(() => load.served(String(ready.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
          await fleet.retired(current, ready);
          current = ready;
        }
        const stats = await load.stop();
        expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
        const pids = fleet.all({ event: 'ready' }).map((e) => String(e.pid));
        expect(pids).toHaveLength(3);
        for (const pid of pids) expect(stats.byBody[pid], JSON.stringify(stats.byBody)).toBeGreaterThan(50);
        expect(Object.keys(stats.byBody).sort()).toEqual([...pids].sort());
      } finally {
        await load.stop();
      }
    });
  }
});

/** One HTTP/2 request on `session`. */
function h2get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, rejectGet) => {
    const stream = session.request({ ':path': path });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolveGet({ status, body }));
    stream.on('error', rejectGet);
    stream.end();
  });
}

function h2connect(port: number, secure: boolean): http2.ClientHttp2Session {
  const session = secure ? http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false }) : http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return session;
}

describe('HTTP/2', () => {
  for (const kind of ['http2', 'http2-secure'] as const) {
    it(`${kind}: streams in flight complete on the old pid after its GOAWAY, across two upgrades; new sessions reach the new pid`, async () => {
      const secure = kind === 'http2-secure';
      const { fleet, ready: first } = await startFleet({ kind, tls, options: NO_RAMP });
      const port = first.port as number;
      let current = first;
      for (const round of [1, 2]) {
        const session = h2connect(port, secure);
        let fresh: http2.ClientHttp2Session | undefined;
        try {
          const goaway = once(session, 'goaway');
          expect(Number((await h2get(session, '/')).body)).toBe(current.pid);
          const ids = Array.from({ length: IN_FLIGHT }, (_, i) => `${kind}-${round}-${i}`);
          const streams = ids.map((id) => h2get(session, `/slow?ms=200&drain=1&id=${id}`));
          await arrived(fleet, current.pid, ids);

          const { ready } = await fleet.upgrade(current);
          const [code] = (await goaway) as [number];
          expect(code).toBe(http2.constants.NGHTTP2_NO_ERROR);
          // A session opened now is accepted by the new generation.
          fresh = h2connect(port, secure);
          expect(Number((await h2get(fresh, '/')).body)).toBe(ready.pid);
          const replies = await Promise.all(streams);
          expect(replies).toEqual(Array(IN_FLIGHT).fill({ status: 200, body: String(current.pid) }));
          const drained = await fleet.retired(current, ready);
          expectUpgradeNumbers(fleet, current, ready, drained, IN_FLIGHT);
          current = ready;
        } finally {
          session.destroy();
          fresh?.destroy();
        }
      }
    });
  }
});

describe('WebSocket (ws on the http server)', () => {
  it('messages in flight are answered by the old pid, then the client gets 1001 "going away", across two upgrades; new sockets reach the new pid', async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'ws', options: NO_RAMP });
    const port = first.port as number;
    let current = first;
    const open = async (): Promise<{ ws: WebSocket; replies: { pid: number; id: string }[]; closed: Promise<[number, string]> }> => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const replies: { pid: number; id: string }[] = [];
      ws.on('message', (data) => replies.push(JSON.parse(data.toString())));
      const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
      await once(ws, 'open');
      return { ws, replies, closed };
    };
    for (const round of [1, 2]) {
      const clients = [await open(), await open()];
      try {
        const ids: string[] = [];
        clients.forEach((client, c) => {
          for (let i = 0; i < IN_FLIGHT; i++) {
            const id = `ws-${round}-${c}-${i}`;
            ids.push(id);
            client.ws.send(`drain:${100 + 50 * i}:${id}`);
          }
        });
        await arrived(fleet, current.pid, ids);

        const { ready, draining } = await fleet.upgrade(current);
        expect(draining.connections).toBe(2);
        const newcomer = await open();
        newcomer.ws.send('pid:new');
        await expect.poll(() => newcomer.replies, { timeout: 5000, interval: 5 }).toEqual([{ pid: ready.pid, id: 'new' }]);
        newcomer.ws.close();

        for (const client of clients) {
          expect(await client.closed).toEqual([1001, 'going away']);
          // Every message sent before the goodbye was answered, by the old pid.
          expect(client.replies.map((r) => r.pid)).toEqual(Array(IN_FLIGHT).fill(current.pid));
        }
        expect(clients.flatMap((c) => c.replies.map((r) => r.id)).sort()).toEqual([...ids].sort());
        const drained = await fleet.retired(current, ready);
        expect(drained).toMatchObject({ hammered: 0, connectionsAtStart: 2 });
        current = ready;
      } finally {
        for (const client of clients) client.ws.terminate();
      }
    }
  });
});

describe('net.Server', () => {
  it('an echo in flight is answered by the old pid before onConnectionDrain ends the socket, across two upgrades; new connections reach the new pid', async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'net', options: NO_RAMP });
    const port = first.port as number;
    let current = first;
    const connect = async (): Promise<{ socket: net.Socket; lines: string[]; ended: Promise<void> }> => {
      const socket = net.connect(port, '127.0.0.1');
      const lines: string[] = [];
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          lines.push(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      });
      const ended = new Promise<void>((resolveEnd, rejectEnd) => {
        socket.once('end', () => resolveEnd());
        socket.once('error', rejectEnd);
      });
      await once(socket, 'connect');
      return { socket, lines, ended };
    };
    for (const round of [1, 2]) {
      const clients = [await connect(), await connect()];
      try {
        const ids: string[] = [];
        clients.forEach((client, c) => {
          for (let i = 0; i < IN_FLIGHT; i++) {
            const id = `net-${round}-${c}-${i}`;
            ids.push(id);
            client.socket.write(`drain:${100 + 50 * i}:${id}\n`);
          }
        });
        await arrived(fleet, current.pid, ids);

        const { ready } = await fleet.upgrade(current);
        const newcomer = await connect();
        newcomer.socket.write('pid:new\n');
        await expect.poll(() => newcomer.lines, { timeout: 5000, interval: 5 }).toEqual([`${ready.pid} new`]);
        newcomer.socket.end();

        for (const [c, client] of clients.entries()) {
          await client.ended;
          expect(client.lines).toEqual(ids.filter((id) => id.startsWith(`net-${round}-${c}-`)).map((id) => `${current.pid} ${id}`));
        }
        const drained = await fleet.retired(current, ready);
        expect(drained).toMatchObject({ hammered: 0, connectionsAtStart: 2 });
        current = ready;
      } finally {
        for (const client of clients) client.socket.destroy();
      }
    }
  });
});

describe('drainTimeout and failed upgrades', () => {
  it('drainTimeout destroys a connection whose request never finishes ("hammer"), and the old generation exits', async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http', options: { drainTimeout: 500, ...NO_RAMP } });
    const port = first.port as number;
    const never = get({ port }, '/never?id=n').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await arrived(fleet, first.pid, ['n']);
    const { ready } = await fleet.upgrade(first);
    expect(pidOf(await get({ port }))).toBe(ready.pid);
    const hammer = await fleet.next({ event: 'hammer', pid: first.pid });
    expect(hammer.destroyed).toBe(1);
    const drained = await fleet.retired(first, ready);
    expect(drained).toMatchObject({ hammered: 1, connectionsAtStart: 1, requestsAtStart: 1 });
    expect(drained.durationMs).toBeGreaterThanOrEqual(490);
    expect(drained.durationMs).toBeLessThan(5000);
    expect(await never).toBe('ECONNRESET');
    // The new generation serves on.
    expect(pidOf(await get({ port }))).toBe(ready.pid);
  });

  it("'upgrade-failed' when the new generation crashes: the old one keeps serving, and the next upgrade works", async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http', modes: { '2.1': 'crash' } });
    const port = first.port as number;
    const inFlight = get({ port }, '/slow?ms=300&id=s');
    await arrived(fleet, first.pid, ['s']);
    fleet.signal(first.pid, 'SIGHUP');
    const failed = await fleet.next({ event: 'upgrade-failed', pid: first.pid });
    expect(failed).toMatchObject({ code: 'ERR_CHILD_EXITED', exitCode: 3 });
    expect(fleet.all({ event: 'upgrading', pid: first.pid }).map((e) => e.newPid)).toEqual([failed.childPid]);
    // The crashed process is reaped before the failure is reported.
    await fleet.gone(failed.childPid);
    expect(pidOf(await inFlight)).toBe(first.pid);
    expect(pidOf(await get({ port }))).toBe(first.pid);
    expect(fleet.all({ event: 'draining' })).toEqual([]);

    // A failure disables nothing: the second attempt is a normal upgrade.
    const { ready } = await fleet.upgrade(first);
    expect(ready).toMatchObject({ gen: 2, attempt: 2 });
    await fleet.retired(first, ready);
    expect(pidOf(await get({ port }))).toBe(ready.pid);
  });

  it("'upgrade-failed' (ERR_UPGRADE_TIMEOUT) when the new generation is never ready: it is stopped, the old one keeps serving", async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http', modes: { '2.1': 'never-ready' }, options: { upgradeTimeout: 800 } });
    const port = first.port as number;
    fleet.signal(first.pid, 'SIGUSR2');
    const failed = await fleet.next({ event: 'upgrade-failed', pid: first.pid });
    expect(failed).toMatchObject({ code: 'ERR_UPGRADE_TIMEOUT' });
    expect(fleet.all({ event: 'listening', pid: failed.childPid })).toHaveLength(1);
    await fleet.gone(failed.childPid);
    expect(pidOf(await get({ port }))).toBe(first.pid);
    // The old generation never drained; the failed one was told to stop
    // (SIGTERM) and drained what it had accepted before it was killed.
    expect(fleet.all({ event: 'draining', pid: first.pid })).toEqual([]);
    expect(fleet.all({ event: 'draining', pid: failed.childPid })).toHaveLength(1);
  });
});
