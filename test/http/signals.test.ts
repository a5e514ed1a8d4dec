// GracefulServer and process signals (issue 4): which signal upgrades, which
// shuts down, what a second one does, what the application's own handlers
// still see. Real generations of test/fixtures/graceful-app.js, real signals.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../helpers/children';
import { cleanupFleets, Fleet, get, pidOf, type AppConfig, type AppEvent } from '../helpers/graceful';
import { connectOutcome } from '../helpers/net';

afterEach(cleanupFleets);
afterAll(() => removeTempDirs());

async function startFleet(config: AppConfig): Promise<{ fleet: Fleet; ready: AppEvent }> {
  const fleet = new Fleet({ config });
  const ready = await fleet.next({ event: 'ready' });
  return { fleet, ready };
}

/** A request that is never answered; resolves with the client's error code. */
function never(port: number, id: string): Promise<string> {
  return get({ port }, `/never?id=${id}`).then(
    () => 'answered',
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
}

describe('upgrade signals', () => {
  for (const signal of ['SIGHUP', 'SIGUSR2'] as const) {
    it(`${signal} upgrades (default upgradeSignals)`, async () => {
      const { fleet, ready: first } = await startFleet({ kind: 'http' });
      const { ready } = await fleet.upgrade(first, signal);
      expect(ready).toMatchObject({ gen: 2, parentPid: first.pid, port: first.port });
      // With the default drainRamp the old generation accepts for a while yet.
      await fleet.retired(first, ready);
      expect(pidOf(await get({ port: first.port }))).toBe(ready.pid);
    });
  }

  it('a storm of 50 SIGHUPs within 100 ms yields exactly one new generation', async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http' });
    expect(fleet.owns(first.pid)).toBe(true);
    const started = performance.now();
    for (let i = 0; i < 50; i++) process.kill(first.pid, 'SIGHUP');
    expect(performance.now() - started).toBeLessThan(100);
    const ready = await fleet.next((e) => e.event === 'ready' && e.parentPid === first.pid);
    await fleet.retired(first, ready);
    expect(fleet.all({ event: 'upgrading' }).map((e) => e.newPid)).toEqual([ready.pid]);
    expect(fleet.all({ event: 'upgrade-failed' })).toEqual([]);
    expect(fleet.all({ event: 'ready' }).map((e) => e.pid)).toEqual([first.pid, ready.pid]);
    // Nothing else of this run is alive: one process, the new generation.
    expect(fleet.scan()).toEqual([ready.pid]);
    expect(pidOf(await get({ port: first.port }))).toBe(ready.pid);
  });

  it('a SIGHUP while the previous generation still drains is carried out once it has exited, not dropped', async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http' });
    const port = first.port as number;
    const slow = get({ port }, '/slow?ms=600&drain=1&id=s');
    await fleet.next({ event: 'request', id: 's' });
    const { ready: second } = await fleet.upgrade(first);
    // The first generation drains for 600 ms more: the second may not upgrade yet.
    fleet.signal(second.pid, 'SIGHUP');
    const queued = await fleet.next({ event: 'upgrade-queued', pid: second.pid });
    expect(queued).toMatchObject({ parentPid: first.pid, signal: 'SIGHUP' });
    expect(fleet.all({ event: 'exit', pid: first.pid })).toEqual([]);
    expect(pidOf(await slow)).toBe(first.pid);
    const third = await fleet.next((e) => e.event === 'ready' && e.parentPid === second.pid);
    const [upgrading] = fleet.all({ event: 'upgrading', pid: second.pid });
    const [firstExit] = fleet.all({ event: 'exit', pid: first.pid });
    expect(fleet.events.indexOf(upgrading)).toBeGreaterThan(fleet.events.indexOf(firstExit));
    await fleet.retired(second, third);
    expect(pidOf(await get({ port }))).toBe(third.pid);
  });
});

describe('shutdown signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} drains the request in flight, exits 0, and only then removes the Unix socket path`, async () => {
      const path = join(tempDir('handover-graceful-'), 'app.sock');
      const { fleet, ready } = await startFleet({ kind: 'http', listen: [{ path }] });
      expect(ready.address).toBe(path);
      const slow = get({ socketPath: path }, '/slow?ms=800&drain=1&id=s');
      await fleet.next({ event: 'request', id: 's' });
      fleet.signal(ready.pid, signal);
      const draining = await fleet.next({ event: 'draining', pid: ready.pid });
      expect(draining).toMatchObject({ connections: 1, requests: 1 });
      // Draining: the path is still there.
      expect(existsSync(path)).toBe(true);
      expect(pidOf(await slow)).toBe(ready.pid);
      const drained = await fleet.next({ event: 'drained', pid: ready.pid });
      expect(drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
      expect(drained.durationMs).toBeGreaterThanOrEqual(790);
      expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
      expect(existsSync(path)).toBe(false);
      expect(fleet.all({ event: 'upgrading' })).toEqual([]);
    });
  }

  it('SIGTERM: the listening socket is closed while draining, so new connections are refused at once instead of hanging in the backlog', async () => {
    const { fleet, ready } = await startFleet({ kind: 'http' });
    const port = ready.port as number;
    const slow = get({ port }, '/slow?ms=800&drain=1&id=s').then(pidOf, (err: NodeJS.ErrnoException) => err.code);
    await fleet.next({ event: 'request', id: 's' });
    fleet.signal(ready.pid, 'SIGTERM');
    await fleet.next({ event: 'draining', pid: ready.pid });
    // Nobody will accept it: no successor, and this generation has stopped.
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    expect(fleet.all({ event: 'exit' })).toEqual([]);
    expect(await slow).toBe(ready.pid);
    expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
  });

  it('a second SIGINT while draining stops at once: the request that never ends is destroyed, exit 0', async () => {
    const { fleet, ready } = await startFleet({ kind: 'http', options: { drainTimeout: 20_000 } });
    const hung = never(ready.port, 'n');
    await fleet.next({ event: 'request', id: 'n' });
    fleet.signal(ready.pid, 'SIGINT');
    await fleet.next({ event: 'draining', pid: ready.pid });
    fleet.signal(ready.pid, 'SIGINT');
    expect(await fleet.next({ event: 'hammer', pid: ready.pid })).toMatchObject({ destroyed: 1 });
    const drained = await fleet.next({ event: 'drained', pid: ready.pid });
    expect(drained).toMatchObject({ hammered: 1, requestsAtStart: 1 });
    expect(drained.durationMs).toBeLessThan(5000);
    expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
    expect(await hung).toBe('ECONNRESET');
  });

  it('a second SIGINT during shutdownDelay stops at once too', async () => {
    const { fleet, ready } = await startFleet({ kind: 'http', options: { shutdownDelay: 20_000 }, appSignals: ['SIGINT'] });
    const hung = never(ready.port, 'n');
    await fleet.next({ event: 'request', id: 'n' });
    fleet.signal(ready.pid, 'SIGINT');
    await fleet.next({ event: 'app-signal', pid: ready.pid, signal: 'SIGINT' });
    fleet.signal(ready.pid, 'SIGINT');
    expect(await fleet.next({ event: 'hammer', pid: ready.pid })).toMatchObject({ destroyed: 1 });
    const exit = await fleet.next({ event: 'exit', pid: ready.pid });
    expect(exit.code).toBe(0);
    expect(Number(exit.t) - Number(fleet.all({ event: 'app-signal' })[0].t)).toBeLessThan(5000);
    expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
    expect(await hung).toBe('ECONNRESET');
  });

  it("the application's own SIGTERM and SIGHUP handlers still run (handover adds its listeners, never replaces)", async () => {
    const { fleet, ready: first } = await startFleet({ kind: 'http', appSignals: ['SIGHUP', 'SIGTERM'] });
    const { ready } = await fleet.upgrade(first, 'SIGHUP');
    expect(fleet.all({ event: 'app-signal', pid: first.pid })).toMatchObject([{ signal: 'SIGHUP' }]);
    await fleet.retired(first, ready);
    fleet.signal(ready.pid, 'SIGTERM');
    await fleet.next({ event: 'app-signal', pid: ready.pid, signal: 'SIGTERM' });
    await fleet.next({ event: 'drained', pid: ready.pid });
    expect(await fleet.next({ event: 'exit', pid: ready.pid })).toMatchObject({ code: 0 });
    await fleet.gone(ready.pid);
  });

  it('shutdownDelay keeps serving new connections for that long after SIGTERM, then drains', async () => {
    const { fleet, ready } = await startFleet({ kind: 'http', options: { shutdownDelay: 600 }, appSignals: ['SIGTERM'] });
    const port = ready.port as number;
    fleet.signal(ready.pid, 'SIGTERM');
    const signalled = await fleet.next({ event: 'app-signal', signal: 'SIGTERM' });
    // Still accepting and answering, on new connections.
    expect(pidOf(await get({ port }, '/?tell&id=during'))).toBe(ready.pid);
    const during = await fleet.next({ event: 'request', id: 'during' });
    // SIGHUP during the delay: the process is shutting down, no successor.
    fleet.signal(ready.pid, 'SIGHUP');
    const draining = await fleet.next({ event: 'draining', pid: ready.pid });
    expect(Number(during.t)).toBeLessThan(Number(draining.t));
    expect(Number(draining.t) - Number(signalled.t)).toBeGreaterThanOrEqual(590);
    expect(await fleet.firstExit).toEqual({ code: 0, signal: null });
    expect(fleet.all({ event: 'upgrading' })).toEqual([]);
  });
});

describe('custom and disabled signals', () => {
  it('upgradeSignals and shutdownSignals choose the signals; the defaults no longer act', async () => {
    const { fleet, ready: first } = await startFleet({
      kind: 'http',
      options: { upgradeSignals: ['SIGWINCH'], shutdownSignals: ['SIGQUIT'] },
      appSignals: ['SIGHUP', 'SIGTERM'],
    });
    // SIGHUP and SIGTERM reach only the application's own handlers.
    for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
      fleet.signal(first.pid, signal);
      await fleet.next({ event: 'app-signal', pid: first.pid, signal });
    }
    expect(fleet.all({ event: 'upgrading' })).toEqual([]);
    expect(fleet.all({ event: 'draining' })).toEqual([]);
    expect(pidOf(await get({ port: first.port }))).toBe(first.pid);

    const { ready } = await fleet.upgrade(first, 'SIGWINCH');
    await fleet.retired(first, ready);
    fleet.signal(ready.pid, 'SIGQUIT');
    await fleet.next({ event: 'drained', pid: ready.pid });
    expect(await fleet.next({ event: 'exit', pid: ready.pid })).toMatchObject({ code: 0 });
    await fleet.gone(ready.pid);
  });

  it('false disables them: signals go to the application (or their default action), upgrade() still works', async () => {
    const { fleet, ready: first } = await startFleet({
      kind: 'http',
      options: { upgradeSignals: false, shutdownSignals: false },
      appSignals: ['SIGHUP', 'SIGUSR2', 'SIGINT'],
    });
    for (const signal of ['SIGHUP', 'SIGUSR2', 'SIGINT'] as const) {
      fleet.signal(first.pid, signal);
      await fleet.next({ event: 'app-signal', pid: first.pid, signal });
    }
    expect(fleet.all({ event: 'upgrading' })).toEqual([]);
    expect(fleet.all({ event: 'draining' })).toEqual([]);
    expect(pidOf(await get({ port: first.port }))).toBe(first.pid);

    // The API still upgrades.
    await get({ port: first.port }, '/upgrade');
    const ready = await fleet.next((e) => e.event === 'ready' && e.parentPid === first.pid);
    await fleet.retired(first, ready);
    // No SIGTERM listener was installed: the default action kills the process.
    fleet.signal(ready.pid, 'SIGTERM');
    await fleet.gone(ready.pid);
    expect(fleet.all({ event: 'draining', pid: ready.pid })).toEqual([]);
    expect(fleet.all({ event: 'exit', pid: ready.pid })).toEqual([]);
  });

  it('false on the first generation: SIGTERM keeps its default action (killed by SIGTERM)', async () => {
    const { fleet, ready } = await startFleet({ kind: 'http', options: { upgradeSignals: false, shutdownSignals: false } });
    fleet.signal(ready.pid, 'SIGTERM');
    expect(await fleet.firstExit).toEqual({ code: null, signal: constants.signals.SIGTERM });
  });
});
