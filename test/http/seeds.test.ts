// The seeds' programs (issue 4), rewritten with handover in
// examples/seed-hello (second seed: /hello sleeps, SIGUSR2 restarts) and
// examples/seed-sleep (fourth seed: /sleep?duration=, SIGHUP restarts):
// a request in flight when the signal arrives completes on the old pid. The
// examples run with the default drainRamp: both generations serve for a
// while after the upgrade, so "the new one serves" is checked once the old
// one is gone.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupFleets, Fleet, get, ROOT } from '../helpers/graceful';
import { SlowRelay } from '../helpers/slow-relay';

afterEach(cleanupFleets);

function startExample(name: string, env: Record<string, string>): Fleet {
  return new Fleet({ script: join(ROOT, 'examples', name, 'server.js'), env: { ADDR: '127.0.0.1:0', ...env } });
}

describe('seed programs', () => {
  it('seed-hello: a /hello in flight when SIGUSR2 arrives completes on the old pid; the next /hello is served by the new one', async () => {
    // Every /hello takes this long: more than an upgrade on 2 busy cores (up to 2.6 s seen).
    const fleet = startExample('seed-hello', { HELLO_SLEEP_MS: '5000' });
    const first = await fleet.next({ event: 'ready' });
    expect(first).toMatchObject({ parentPid: null, inherited: false });
    const port = first.port as number;
    const started = Date.now();
    const inFlight = get({ port }, '/hello');
    await fleet.next({ event: 'hello', pid: first.pid });

    const { ready } = await fleet.upgrade(first, 'SIGUSR2');
    expect(ready).toMatchObject({ parentPid: first.pid, inherited: true, port });

    const reply = await inFlight;
    expect(reply).toMatchObject({ status: 200, body: 'hello world233333!!!!' });
    expect(reply.headers['x-pid']).toBe(String(first.pid));
    expect(Date.now() - started).toBeGreaterThanOrEqual(4990);
    const drained = await fleet.next({ event: 'drained', pid: first.pid });
    expect(drained).toMatchObject({ hammered: 0, requestsAtStart: 1 });
    await fleet.gone(first.pid);

    const second = await get({ port }, '/hello');
    expect(second).toMatchObject({ status: 200, body: 'hello world233333!!!!' });
    expect(second.headers['x-pid']).toBe(String(ready.pid));
  });

  it('seed-sleep: /sleep requests in flight when SIGHUP arrives complete on the old pid; new requests reach the new one', async () => {
    const fleet = startExample('seed-sleep', {});
    const first = await fleet.next({ event: 'ready' });
    const port = first.port as number;
    const mark = fleet.mark();
    // One is in flight however long the upgrade takes (see SlowRelay).
    const relay = await SlowRelay.start(port, first.pid, 2000, (reply) => reply.headers['x-pid'] ?? '');
    try {
      await expect.poll(() => fleet.all({ event: 'sleep', pid: first.pid }).filter((e) => fleet.events.indexOf(e) >= mark).length).toBeGreaterThanOrEqual(2);
      const { ready } = await fleet.upgrade(first, 'SIGHUP');
      for (const replies of await relay.replies()) {
        for (const reply of replies) {
          expect(reply).toMatchObject({ status: 200, body: expect.stringMatching(/^URL\/sleep\?duration=\d+$/) });
          expect(reply.headers['x-pid']).toBe(String(first.pid));
        }
      }
      const drained = await fleet.next({ event: 'drained', pid: first.pid });
      expect(drained.hammered).toBe(0);
      expect(drained.requestsAtStart).toBeGreaterThanOrEqual(1);
      await fleet.gone(first.pid);
      const now = await get({ port }, '/sleep?duration=0');
      expect(now).toMatchObject({ status: 200, body: 'URL/sleep?duration=0' });
      expect(now.headers['x-pid']).toBe(String(ready.pid));
      expect((await get({ port }, '/sleep?duration=soon')).status).toBe(400);
    } finally {
      relay.destroy();
    }
  });
});
