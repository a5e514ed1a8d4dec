// The seeds' programs (issue 4), rewritten with handover in
// examples/seed-hello (second seed: /hello sleeps, SIGUSR2 restarts) and
// examples/seed-sleep (fourth seed: /sleep?duration=, SIGHUP restarts):
// a request in flight when the signal arrives completes on the old pid.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupFleets, Fleet, get, ROOT } from '../helpers/graceful';

afterEach(cleanupFleets);

function startExample(name: string, env: Record<string, string>): Fleet {
  return new Fleet({ script: join(ROOT, 'examples', name, 'server.js'), env: { ADDR: '127.0.0.1:0', ...env } });
}

describe('seed programs', () => {
  it('seed-hello: a /hello in flight when SIGUSR2 arrives completes on the old pid; the next /hello is served by the new one', async () => {
    const fleet = startExample('seed-hello', { HELLO_SLEEP_MS: '2000' });
    const first = await fleet.next({ event: 'ready' });
    expect(first).toMatchObject({ parentPid: null, inherited: false });
    const port = first.port as number;
    const started = Date.now();
    const inFlight = get({ port }, '/hello');
    await fleet.next({ event: 'hello', pid: first.pid });

    const { ready } = await fleet.upgrade(first, 'SIGUSR2');
    expect(ready).toMatchObject({ parentPid: first.pid, inherited: true, port });
    const next = get({ port }, '/hello');

    const reply = await inFlight;
    expect(reply).toMatchObject({ status: 200, body: 'hello world233333!!!!' });
    expect(reply.headers['x-pid']).toBe(String(first.pid));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1990);
    const drained = await fleet.next({ event: 'drained', pid: first.pid });
    expect(drained).toMatchObject({ hammered: 0, requestsAtStart: 1 });
    await fleet.gone(first.pid);

    const second = await next;
    expect(second).toMatchObject({ status: 200, body: 'hello world233333!!!!' });
    expect(second.headers['x-pid']).toBe(String(ready.pid));
  });

  it('seed-sleep: a /sleep?duration=1500ms in flight when SIGHUP arrives completes on the old pid; new requests reach the new one', async () => {
    const fleet = startExample('seed-sleep', {});
    const first = await fleet.next({ event: 'ready' });
    const port = first.port as number;
    const inFlight = get({ port }, '/sleep?duration=1500ms');
    expect(await fleet.next({ event: 'sleep', pid: first.pid })).toMatchObject({ ms: 1500 });

    const { ready } = await fleet.upgrade(first, 'SIGHUP');
    const now = await get({ port }, '/sleep?duration=0');
    expect(now).toMatchObject({ status: 200, body: 'URL/sleep?duration=0' });
    expect(now.headers['x-pid']).toBe(String(ready.pid));

    const reply = await inFlight;
    expect(reply).toMatchObject({ status: 200, body: 'URL/sleep?duration=1500ms' });
    expect(reply.headers['x-pid']).toBe(String(first.pid));
    expect(await fleet.next({ event: 'drained', pid: first.pid })).toMatchObject({ hammered: 0, requestsAtStart: 1 });
    await fleet.gone(first.pid);
    expect((await get({ port }, '/sleep?duration=soon')).status).toBe(400);
  });
});
