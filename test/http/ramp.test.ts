// GracefulServer's drainRamp across real upgrades: both generations serve
// during the ramp, the clients see no error, and the old one exits after it.
import { afterEach, expect, it } from 'vitest';
import { cleanupFleets, Fleet } from '../helpers/graceful';
import { LoadClient } from '../helpers/load-client';
import { connectOutcome } from '../helpers/net';

afterEach(cleanupFleets);

const ZERO_ERRORS = { connect: 0, read: 0, reset: 0, status: 0, timeout: 0, parse: 0 };
const RAMP = 1200;

for (const keepAlive of [true, false]) {
  it(`drainRamp ${RAMP}: the old generation goes on serving beside the new one for the ramp, then exits; zero errors (${keepAlive ? 'keep-alive' : 'Connection: close'})`, async () => {
    const fleet = new Fleet({ config: { kind: 'http', options: { drainRamp: RAMP } } });
    const first = await fleet.next({ event: 'ready' });
    const load = new LoadClient({ port: first.port as number, connections: 8, keepAlive }).start();
    try {
      let current = first;
      await expect.poll(() => load.served(String(current.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
      for (let round = 0; round < 2; round++) {
        const { ready } = await fleet.upgrade(current);
        // From the start of its drain on, the old generation goes on serving
        // while the new one serves too: the overlap.
        const oldServed = load.served(String(current.pid));
        await expect.poll(() => load.served(String(current.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(oldServed + 20);
        await expect.poll(() => load.served(String(ready.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(20);
        expect(fleet.all({ event: 'drained', pid: current.pid })).toEqual([]);
        const drained = await fleet.retired(current, ready);
        expect(drained.durationMs).toBeGreaterThanOrEqual(RAMP - 5);
        expect(drained.hammered).toBe(0);
        current = ready;
      }
      await expect.poll(() => load.served(String(current.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
      expect(Object.keys(stats.byBody).sort()).toEqual(fleet.all({ event: 'ready' }).map((e) => String(e.pid)).sort());
    } finally {
      await load.stop();
    }
  });
}

it(`drainRamp ${RAMP} on SIGTERM: new connections are refused at once; the keep-alive connections are served on and released over the ramp; exit 0`, async () => {
  const fleet = new Fleet({ config: { kind: 'http', options: { drainRamp: RAMP } } });
  const ready = await fleet.next({ event: 'ready' });
  const port = ready.port as number;
  const load = new LoadClient({ port, connections: 8 }).start();
  try {
    await expect.poll(() => load.served(String(ready.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
    fleet.signal(ready.pid, 'SIGTERM');
    await fleet.next({ event: 'draining', pid: ready.pid });
    const servedAtDrain = load.served(String(ready.pid));
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    // No listener, yet the connections not released yet are still served.
    await expect.poll(() => load.served(String(ready.pid)), { timeout: 10_000, interval: 5 }).toBeGreaterThan(servedAtDrain + 50);
    expect(fleet.all({ event: 'drained' })).toEqual([]);
    const drained = await fleet.next({ event: 'drained', pid: ready.pid });
    expect(drained.durationMs).toBeGreaterThanOrEqual(RAMP - 5);
    expect(drained.hammered).toBe(0);
    expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
  } finally {
    await load.stop();
  }
});
