// Fault: the new generation says READY=1, then crashes a second later.
//
// Supervisor: the crash falls in --probation (3 s), so handover rolls back:
// the old generation was never told to stop and serves on, on the socket the
// supervisor holds.
//
// GracefulServer (self-replace): there is nothing to roll back to. READY=1
// was the old generation's signal to retire, and by the time the new one
// crashes the old one has drained and exited. These tests find out who still
// holds the listening socket (every process with an fd on its inode, read
// from /proc) and what clients see — the honest outcome of the model, which
// only an outer supervisor (handover run, systemd's Restart=) can cover.
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, gone, holders, Load, modeFile, outcome, readyOf, report, reloadNormallyToThird, servingPid, startGraceful, startSupervisor, stopLoads, upgrade, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());


function kinds(errors: { kind: string }[]): string {
  const counts: Record<string, number> = {};
  for (const e of errors) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  return Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';
}

it('supervisor: the new generation crashes 1 s after READY=1, within --probation 3s: rolled back', async (context) => {
  const row = report(context, {
    order: 20,
    scenario: 'New generation crashes 1 s after ready (`--probation 3s`)',
    model: 'supervisor',
    must: 'rollback: the old generation is never stopped and serves on; the port never closes (0 refused); errors only on connections the crashed pid held; a later reload works',
  });
  const mode = modeFile();
  const run = startSupervisor({ modeFile: mode.path, crashAfterMs: 1000 }, ['--probation', '3s']);
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const first = await run.event({ event: 'ready', pid: pid1 });
  const load = new Load(port);
  await load.servedMore(pid1);
  mode.set('crash-after-ready');
  const mark = run.logs.length;
  run.signal('SIGHUP');
  const probation = await run.log(/generation 2 \(pid ([0-9]+)\) is ready; probation for 3000 ms/, mark);
  const pid2 = Number(probation[1]);
  const crash = await run.event({ event: 'crashing', pid: pid2 });
  const failed = await run.log(
    new RegExp(`reload failed: generation 2 \\(pid ${pid2}\\) exited during its probation: exit code 7; rolled back; generation 1 \\(pid ${pid1}\\) goes on serving`),
    mark,
  );
  const heldBy = holders(first.sockets[0]);
  await load.servedMore(pid1, 800);
  const servedByCrashed = load.served(pid2);
  const errorsAtCrash = load.errors.filter((e) => e.t >= crash.t && e.t < crash.t + 500);
  const errorsAfter = load.errors.filter((e) => e.t >= crash.t + 500);
  const { pid3, totals } = await reloadNormallyToThird(run, mode, load);
  row.result =
    `"${failed[0].replace(/^handover\[\d+\]: /, '')}"; the crashed pid had answered ${servedByCrashed} requests (new connections during probation); ` +
    `errors at the crash: ${errorsAtCrash.length} (${kinds(errorsAtCrash)}), after it: ${errorsAfter.length}; socket held by the supervisor and generation 1 (${heldBy.length} processes); ${describeLoad(totals)}; later reload: pid ${pid1} -> ${pid3}`;
  expect(run.events.filter((e) => e.event === 'draining' && e.pid === pid1)).toHaveLength(1); // only at the last reload
  expect(run.events.findIndex((e) => e.event === 'draining' && e.pid === pid1)).toBeGreaterThan(run.events.indexOf(crash));
  expect(heldBy).toEqual([run.pid, pid1].sort((a, b) => a - b));
  expect(totals.connectLoop.errors.connect).toBe(0);
  expect(totals.keepAlive.errors.connect).toBe(0);
  expect(errorsAfter).toEqual([]);
  // At most the requests on the wire to the crashed process: one per client connection.
  expect(load.errors.length).toBeLessThanOrEqual(5);
  expect(load.errors.every((e) => e.t >= crash.t && e.t < crash.t + 500)).toBe(true);
});

it('GracefulServer: the new generation crashes 1 s after ready, the old one already gone: nothing holds the port', async (context) => {
  const row = report(context, {
    order: 21,
    scenario: 'New generation crashes 1 s after ready, old one already exited',
    model: 'GracefulServer',
    must: 'honest outcome, measured: self-replace has no rollback once READY=1 retired the old generation; who holds the socket after the crash, and what clients see',
  });
  const mode = modeFile();
  // drainRamp 0: the old generation retires at once (with a ramp it would still accept at the crash).
  const run = startGraceful({ modeFile: mode.path, crashAfterMs: 1000, options: { drainRamp: 0 } });
  const first = await readyOf(run, null);
  const socket = first.sockets[0] as string;
  const load = new Load(first.port, { requestTimeoutMs: 2000 });
  await load.servedMore(first.pid);
  mode.set('crash-after-ready');
  const second = await upgrade(run, first);
  await run.next({ event: 'exit', pid: first.pid });
  await gone(run, first.pid);
  const heldBefore = holders(socket);
  const crash = await run.next({ event: 'crashing', pid: second.pid });
  await gone(run, second.pid);
  const heldAfter = holders(socket);
  const probe = await outcome(first.port, '/', 2000);
  await expect.poll(() => load.connectLoop.stats.errors.connect, { timeout: 5000 }).toBeGreaterThan(10);
  const totals = await load.stop();
  const beforeCrash = load.errors.filter((e) => e.t < crash.t);
  const firstRefused = load.errors.find((e) => e.kind === 'connect');
  row.result =
    `before the crash: ${beforeCrash.length} errors; socket held by [${heldBefore.join(', ')}] (the new pid ${second.pid} only) before, by [${heldAfter.join(', ')}] after the crash; ` +
    `a new connection: ${probe}; first refusal ${firstRefused ? firstRefused.t - crash.t : '-'} ms after the crash; ${describeLoad(totals)}. ` +
    'Outcome: the service is down until something restarts it (handover run restarts it with back-off on a socket it keeps open; systemd: Restart=).';
  expect(beforeCrash).toEqual([]);
  expect(heldBefore).toEqual([second.pid]);
  expect(heldAfter).toEqual([]);
  expect(probe).toBe('ECONNREFUSED');
});

it('GracefulServer: the new generation crashes 1 s after ready while the old one still drains: the old one does not take over', async (context) => {
  const row = report(context, {
    order: 22,
    scenario: 'New generation crashes 1 s after ready, old one still draining',
    model: 'GracefulServer',
    must: 'honest outcome, measured: who holds the socket while the old generation drains on, and what new connections see until it exits',
  });
  const mode = modeFile();
  // drainRamp 0: the old generation stops accepting as soon as the new one is ready.
  const run = startGraceful({ modeFile: mode.path, crashAfterMs: 1000, options: { drainTimeout: 4000, drainRamp: 0 } });
  const first = await readyOf(run, null);
  const socket = first.sockets[0] as string;
  const load = new Load(first.port, { requestTimeoutMs: 1500 });
  await load.servedMore(first.pid);
  const held = outcome(first.port, '/never?id=held');
  await run.next({ event: 'request', pid: first.pid });
  mode.set('crash-after-ready');
  const second = await upgrade(run, first);
  const crash = await run.next({ event: 'crashing', pid: second.pid });
  await gone(run, second.pid);
  const heldAfterCrash = holders(socket);
  const stillDraining = run.all({ event: 'exit', pid: first.pid }).length === 0;
  const probeWhileDraining = await outcome(first.port, '/', 1500);
  const exit = await run.next({ event: 'exit', pid: first.pid }, 10_000);
  await gone(run, first.pid);
  const heldOutcome = await held;
  const probeAfter = await outcome(first.port, '/', 1500);
  const totals = await load.stop();
  const between = load.errors.filter((e) => e.t >= crash.t && e.t < exit.t);
  const hammer = run.all({ event: 'hammer', pid: first.pid });
  row.result =
    `after the crash the socket is held by [${heldAfterCrash.join(', ')}]: the draining old pid ${first.pid} closed its copies when the new one became ready, so a new connection gets ${probeWhileDraining} at once (1.5 s bound) instead of waiting in a queue nobody accepts; ` +
    `errors between the crash and the old pid's exit ${exit.t - crash.t} ms later (drainTimeout 4 s, ${hammer.length > 0 ? 'hammered' : 'not hammered'}): ${between.length} (${kinds(between)}); held request: ${heldOutcome}; after its exit: ${probeAfter}; ${describeLoad(totals)}`;
  expect(stillDraining).toBe(true);
  expect(heldAfterCrash).toEqual([]);
  expect(probeWhileDraining).toBe('ECONNREFUSED');
  expect(probeAfter).toBe('ECONNREFUSED');
  expect(totals.keepAlive.errors).not.toEqual(ZERO_ERRORS);
});
