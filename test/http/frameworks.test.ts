// The framework examples (issue 4): examples/express, fastify, koa and hono,
// each started as is and upgraded twice with SIGHUP under light keep-alive
// load, with slow requests in flight at each upgrade (test/helpers/slow-relay.ts:
// one is in flight however long the upgrade takes). Every step waits on a
// JSON log line the example printed, a reply, a process exit or expect.poll.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupFleets, Fleet, get, pidOf, ROOT, type AppEvent } from '../helpers/graceful';
import { ERROR_KINDS, LoadClient, type LoadErrorKind } from '../helpers/load-client';
import { SlowRelay } from '../helpers/slow-relay';

afterEach(cleanupFleets);

const ZERO_ERRORS = Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<LoadErrorKind, number>;
const SLOW_MS = 2000;

describe('framework examples', () => {
  for (const framework of ['express', 'fastify', 'koa', 'hono']) {
    it(`${framework}: two upgrades under light load, zero errors; the slow requests in flight complete on the old pid`, async () => {
      const fleet = new Fleet({ script: join(ROOT, 'examples', framework, 'server.js'), env: { PORT: '0', HOST: '127.0.0.1' } });
      const first = await fleet.next({ event: 'ready' });
      const port = first.port as number;
      expect((await get({ port })).body).toBe(`hello from pid ${first.pid}\n`);
      const load = new LoadClient({ port, connections: 4 }).start();
      let relay: SlowRelay | undefined;
      try {
        let current: AppEvent = first;
        await expect.poll(() => load.served(`hello from pid ${current.pid}\n`), { timeout: 10_000, interval: 5 }).toBeGreaterThan(20);
        for (let round = 0; round < 2; round++) {
          const mark = fleet.mark();
          relay = await SlowRelay.start(port, current.pid, SLOW_MS);
          await expect.poll(() => fleet.events.slice(mark).filter((e) => e.event === 'sleep' && e.pid === current.pid).length).toBeGreaterThanOrEqual(2);
          const { ready, draining } = await fleet.upgrade(current);
          expect(draining.requests).toBeGreaterThanOrEqual(1);
          await expect.poll(() => load.served(`hello from pid ${ready.pid}\n`), { timeout: 10_000, interval: 5 }).toBeGreaterThan(20);
          for (const replies of await relay.replies()) {
            for (const reply of replies) expect(reply).toMatchObject({ status: 200, body: expect.stringMatching(new RegExp(`^pid ${current.pid} slept \\d+ ms\n$`)) });
          }
          const drained = await fleet.next({ event: 'drained', pid: current.pid });
          expect(drained.hammered).toBe(0);
          await fleet.gone(current.pid);
          // The examples run with the default drainRamp: only now is the new one alone.
          expect(pidOf(await get({ port }))).toBe(ready.pid);
          current = ready;
        }
        const stats = await load.stop();
        expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
        expect(Object.keys(stats.byBody)).toHaveLength(3);
        if (framework === 'fastify') expect(fleet.all({ event: 'closed' })).toHaveLength(2);
      } finally {
        relay?.destroy();
        await load.stop();
      }
    });
  }
});
