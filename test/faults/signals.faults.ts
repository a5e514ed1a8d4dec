// Faults by signal: SIGTERM while an upgrade runs (to the old generation, to
// the whole process group as systemd's KillMode=control-group does, to the
// supervisor); a SIGHUP storm under load; a new generation frozen by SIGSTOP
// before it is ready (upgrade timeout: it is killed, the old one serves on).
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, procState, removeScratch, type GenEvent, type Run } from '../helpers/generations';
import { cleanupSupervisors, procState as stateOf, type SupervisorRun } from '../helpers/supervisor';
import { zombieChildren } from '../helpers/proc';
import { describeLoad, errorTotal, fdCountOf, gone, holders, Load, modeFile, outcome, readyOf, reloadNormallyToThird, report, servingPid, since, startGraceful, startSupervisor, gracefulUpgradeTo, stopLoads, supervisorReloadTo, upgrade, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

/** Errors of a load other than refused connections (expected once a server shut down). */
function nonRefused(load: Load): number {
  return load.errors.filter((e) => e.kind !== 'connect').length;
}

/**
 * Errors other than refusals later than `ms` after `t`. A connection the
 * kernel queued in the instant before the last listening fd was closed is
 * reset whatever the server does: that race is allowed right after the
 * shutdown starts, not later.
 */
function lateErrors(load: Load, t: number, ms = 100): { kind: string; at: number }[] {
  return load.errors.filter((e) => e.kind !== 'connect' && e.t - t > ms).map((e) => ({ kind: e.kind, at: e.t - t }));
}

function timings(load: Load, t: number): string {
  const errors = load.errors.filter((e) => e.kind !== 'connect');
  return errors.length === 0 ? 'none' : errors.map((e) => `${e.kind} at +${e.t - t} ms`).join(', ');
}

/** Live processes of a run, the subreaper (its first process) aside. */
function generations(run: Run): number[] {
  return run.scan().filter((pid) => pid !== run.firstPid);
}

/** Pacing a signal storm: a bounded wait between two signals, not a synchronisation. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A GracefulServer under load whose upgrade is underway (the new generation
 * holds before it listens) and which works on a request that takes 800 ms.
 */
async function upgradeUnderway(): Promise<{ run: Run; first: GenEvent; load: Load; child: GenEvent; inFlight: Promise<string> }> {
  const mode = modeFile();
  const run = startGraceful({ modeFile: mode.path, options: { upgradeTimeout: 30_000 } });
  const first = await readyOf(run, null);
  const load = new Load(first.port);
  await load.servedMore(first.pid);
  mode.set('hang-before-listen');
  run.signal(first.pid, 'SIGHUP');
  const child = await run.next({ event: 'holding' });
  const inFlight = outcome(first.port, '/pace?ms=800&tell&id=in-flight');
  await run.next({ event: 'request', id: 'in-flight' });
  return { run, first, load, child, inFlight };
}

it('GracefulServer: SIGTERM to the old generation while its upgrade runs', async (context) => {
  const row = report(context, {
    order: 70,
    scenario: 'SIGTERM to the old generation during an upgrade (new one still starting)',
    model: 'GracefulServer',
    must: "the upgrade is aborted ('upgrade-failed' ERR_STOPPED), the new process killed and reaped (no orphan); the old one drains: requests in flight complete; new connections refused, not queued (no error but refusals later than 100 ms after SIGTERM); exit 0",
  });
  const { run, first, load, child, inFlight } = await upgradeUnderway();
  const sent = Date.now();
  run.signal(first.pid, 'SIGTERM');
  const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
  await gone(run, child.pid);
  const answer = await inFlight;
  const exit = await run.next({ event: 'exit', pid: first.pid });
  await gone(run, first.pid);
  const left = generations(run);
  const totals = await load.stop();
  row.result =
    `'${failed.code}' "${failed.message}"; new pid reaped; request in flight: ${answer}; old pid exit code ${exit.code} ${exit.t - sent} ms after SIGTERM; processes left: ${left.length}; ` +
    `client errors other than refusals: ${nonRefused(load)} (${timings(load, sent)}); ${describeLoad(totals)}`;
  expect(failed.code).toBe('ERR_STOPPED');
  expect(answer).toBe(`200 ${first.pid}`);
  expect(exit.code).toBe(0);
  expect(left).toEqual([]);
  expect(lateErrors(load, sent)).toEqual([]);
});

it('GracefulServer: SIGTERM to the process group (old and new generation) while an upgrade runs', async (context) => {
  const row = report(context, {
    order: 71,
    scenario: 'SIGTERM to both generations at once during an upgrade (systemd `KillMode=control-group`)',
    model: 'GracefulServer',
    must: 'both exit (the new one, not listening yet, at once; the old one after draining, exit 0); requests in flight complete; no orphan, no zombie; new connections refused, not queued (no error but refusals later than 100 ms after SIGTERM)',
  });
  const { run, first, load, child, inFlight } = await upgradeUnderway();
  const sent = Date.now();
  // The subreaper made the first generation a process group leader; the new one is in it.
  expect(procState(child.pid)).not.toBeNull();
  process.kill(-first.pid, 'SIGTERM');
  const answer = await inFlight;
  const childExit = await run.next({ event: 'exit', pid: child.pid }).catch(() => null);
  const exit = await run.next({ event: 'exit', pid: first.pid });
  await gone(run, child.pid);
  await gone(run, first.pid);
  const left = generations(run);
  const failed = run.all({ event: 'upgrade-failed', pid: first.pid })[0];
  const totals = await load.stop();
  row.result =
    `new pid: ${childExit ? `exit code ${childExit.code} after ${childExit.t - sent} ms` : "SIGKILLed by the old one's stop() before its own exit"}; old pid: '${failed?.code}', exit code ${exit.code} after ${exit.t - sent} ms; request in flight: ${answer}; processes left: ${left.length}; ` +
    `client errors other than refusals: ${nonRefused(load)} (${timings(load, sent)}); ${describeLoad(totals)}`;
  expect(answer).toBe(`200 ${first.pid}`);
  expect(exit.code).toBe(0);
  expect(left).toEqual([]);
  expect(lateErrors(load, sent)).toEqual([]);
});

it('supervisor: SIGTERM while a reload runs', async (context) => {
  const row = report(context, {
    order: 72,
    scenario: 'SIGTERM to the supervisor during a reload (new generation still starting)',
    model: 'supervisor',
    must: "the reload is abandoned; SIGTERM reaches both generations; requests in flight complete; the supervisor exits with the app's status (0); no process left; new connections refused, not queued (no error but refusals later than 100 ms after SIGTERM)",
  });
  const { run, port, pid1, load, pid2, mark } = await supervisorReloadTo('hang-before-listen', ['--drain-timeout', '3s'], 'holding');
  const inFlight = outcome(port, '/pace?ms=800&tell&id=in-flight');
  await run.event({ event: 'request', id: 'in-flight' });
  const socket = (await run.event({ event: 'ready', pid: pid1 })).sockets[0] as string;
  const sent = Date.now();
  run.signal('SIGTERM');
  await run.event({ event: 'draining', pid: pid1 });
  await run.log(new RegExp(`generation 2 \\(pid ${pid2}\\) exited`), mark);
  // Both generations have let go of the listening socket (the old one closes its copies when it drains).
  const heldWhileDraining = holders(socket);
  const answer = await inFlight;
  const status = await run.exit;
  const took = since(sent);
  const stopping = (await run.log(/SIGTERM: stopping.*/, mark))[0];
  await expect.poll(() => run.processes(), { timeout: 10_000 }).toEqual([]);
  const totals = await load.stop();
  const lines = run.logs.slice(mark).filter((l) => /exited|reload|exiting/.test(l)).map((l) => l.replace(/^handover\[\d+\]: /, ''));
  const resets = load.errors.filter((e) => e.kind !== 'connect');
  row.result =
    `"${stopping.replace(/^handover\[\d+\]: /, '')}"; ${lines.map((l) => `"${l}"`).join(', ')}; supervisor exit ${JSON.stringify(status)} ${took} ms after SIGTERM; request in flight: ${answer}; ` +
    `while generation 1 drains the listening socket is held by [${heldWhileDraining.join(', ')}] (the supervisor is ${run.pid}), which accepts nothing; ` +
    `client errors other than refusals: ${resets.length} (${resets.map((e) => `${e.kind} at +${e.t - sent} ms`).join(', ') || 'none'}): connections made during the drain wait in that socket's backlog and are reset when the supervisor exits; ${describeLoad(totals)}`;
  expect(stopping).toMatch(new RegExp(`forwarding SIGTERM to generation 1 \\(pid ${pid1}\\), generation 2 \\(pid ${pid2}\\)`));
  expect(answer).toBe(`200 ${pid1}`);
  expect(status).toEqual({ code: 0, signal: null });
  expect(lateErrors(load, sent)).toEqual([]);
});

it('GracefulServer: a SIGHUP storm (every 10 ms for 2 s, to the newest generation) under load', async (context) => {
  const row = report(context, {
    order: 73,
    scenario: 'SIGHUP storm: one every 10 ms for 2 s, each to the newest generation',
    model: 'GracefulServer',
    must: 'one upgrade at a time, never more than 2 generations alive; every old generation exits 0; 0 client errors, 0 refused; ends with one generation, no zombie',
  });
  const run = startGraceful({});
  const first = await readyOf(run, null);
  const load = new Load(first.port);
  await load.servedMore(first.pid);
  let maxAlive = 0;
  let signals = 0;
  const started = Date.now();
  for (let i = 0; i < 200 && Date.now() - started < 4000; i++) {
    const newest = run.all({ event: 'ready' }).at(-1)!;
    if (run.owns(newest.pid)) {
      process.kill(newest.pid, 'SIGHUP');
      signals++;
    }
    maxAlive = Math.max(maxAlive, generations(run).length);
    await pause(10);
  }
  const stormMs = since(started);
  // Settled: one process, the newest generation, and no upgrade pending or queued.
  const settled = () => {
    const alive = generations(run);
    const newest = run.all({ event: 'ready' }).at(-1)!;
    const upgrading = run.all({ event: 'upgrading' });
    const pending = upgrading.some((u) => !run.events.some((e) => (e.event === 'ready' && e.pid === u.newPid) || (e.event === 'upgrade-failed' && e.pid === u.pid && e.childPid === u.newPid)));
    const queued = run.all({ event: 'upgrade-queued' }).some((q) => run.owns(q.pid) && !upgrading.some((u) => u.pid === q.pid));
    maxAlive = Math.max(maxAlive, alive.length);
    return alive.length === 1 && alive[0] === newest.pid && !pending && !queued;
  };
  await expect.poll(settled, { timeout: 30_000, interval: 20 }).toBe(true);
  const last = run.all({ event: 'ready' }).at(-1)!;
  await load.servedMore(last.pid, 100);
  const totals = await load.stop();
  const readies = run.all({ event: 'ready' });
  const exits = run.all({ event: 'exit' });
  const failures = run.all({ event: 'upgrade-failed' });
  const queued = run.all({ event: 'upgrade-queued' });
  row.result =
    `${signals} SIGHUPs in ${stormMs} ms -> ${readies.length - 1} upgrades (one at a time; ${queued.length} signals queued behind a draining parent, ${failures.length} refused: ${[...new Set(failures.map((f) => f.code))].join(', ') || 'none'}); ` +
    `most generations alive at once: ${maxAlive}; ${exits.length} old generations exited, codes ${[...new Set(exits.map((e) => e.code))].join(',')}; zombies at the end: ${zombieChildren(run.firstPid).length}; ${describeLoad(totals)}`;
  expect(maxAlive).toBeLessThanOrEqual(2);
  expect(readies.length).toBeGreaterThan(2);
  expect(exits.map((e) => e.code)).toEqual(Array(readies.length - 1).fill(0));
  expect(zombieChildren(run.firstPid)).toEqual([]);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});

/** Live generations of a supervisor run (the supervisor aside). */
function supervised(run: SupervisorRun): number[] {
  return run.processes().filter((pid) => pid !== run.pid);
}

it('supervisor: a SIGHUP storm (every 10 ms for 2 s) under load', async (context) => {
  const row = report(context, {
    order: 74,
    scenario: 'SIGHUP storm to the supervisor: one every 10 ms for 2 s',
    model: 'supervisor',
    must: 'reloads one at a time, at most one queued; 0 client errors, 0 refused; ends with one generation serving, no zombie, no fd growth in the supervisor',
  });
  const run = startSupervisor({});
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid1);
  const fdsBefore = fdCountOf(run.pid);
  let maxAlive = 0;
  let signals = 0;
  const started = Date.now();
  for (let i = 0; i < 200 && Date.now() - started < 4000; i++) {
    run.signal('SIGHUP');
    signals++;
    maxAlive = Math.max(maxAlive, supervised(run).length);
    await pause(10);
  }
  const stormMs = since(started);
  const settled = () => {
    maxAlive = Math.max(maxAlive, supervised(run).length);
    const started = run.logsMatching(/generation [0-9]+ started/).length;
    const done = run.logsMatching(/reloaded: generation|reload failed/).length + 1;
    return started === done && supervised(run).length === 1 && !run.logs.slice(-3).some((l) => /will follow|already queued/.test(l));
  };
  await expect.poll(settled, { timeout: 30_000, interval: 20 }).toBe(true);
  const last = Number(/reloaded: generation [0-9]+ \(pid ([0-9]+)\)/.exec(run.logsMatching(/reloaded: generation/).at(-1)!)![1]);
  await load.servedMore(last, 100);
  const totals = await load.stop();
  const fdsAfter = fdCountOf(run.pid);
  const reloads = run.logsMatching(/reloaded: generation/).length;
  const follow = run.logsMatching(/one more reload will follow/).length;
  const already = run.logsMatching(/a reload is already queued/).length;
  row.result =
    `${signals} SIGHUPs in ${stormMs} ms -> ${reloads} reloads (${follow} queued as "one more", ${already} folded into it, ${run.logsMatching(/reload failed/).length} failed); most generations alive at once: ${maxAlive}; ` +
    `zombies: ${zombieChildren(run.pid).length}; supervisor fds ${fdsBefore} -> ${fdsAfter}; ${describeLoad(totals)}`;
  expect(stateOf(run.pid)).not.toBeNull();
  expect(run.logsMatching(/reload failed/)).toEqual([]);
  expect(reloads).toBeGreaterThan(2);
  expect(maxAlive).toBeLessThanOrEqual(3);
  expect(zombieChildren(run.pid)).toEqual([]);
  expect(fdsAfter).toBe(fdsBefore);
  expect(errorTotal(totals.keepAlive), totals.keepAlive.samples.join('\n')).toBe(0);
  expect(errorTotal(totals.connectLoop), totals.connectLoop.samples.join('\n')).toBe(0);
});

it('GracefulServer: the new generation SIGSTOPped before it is ready', async (context) => {
  const row = report(context, {
    order: 75,
    scenario: 'New generation frozen by SIGSTOP before it is ready',
    model: 'GracefulServer',
    must: "'upgrade-failed' ERR_UPGRADE_TIMEOUT at upgradeTimeout (2 s); the stopped process is killed and reaped; the old one serves on (0 client errors, 0 refused); the next upgrade works",
  });
  const { mode, run, first, load, child, sentAt: sent } = await gracefulUpgradeTo('sigstop', 2000, 'stopping-self');
  await expect.poll(() => procState(child.pid)?.state).toBe('T');
  const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
  await gone(run, child.pid);
  await load.servedMore(first.pid, 200);
  mode.set('normal');
  const second = await upgrade(run, first);
  await load.servedMore(second.pid);
  const totals = await load.stop();
  const continued = run.all({ event: 'continued', pid: child.pid }).length > 0;
  row.result = `new pid stopped (state T); '${failed.code}' after ${failed.t - sent} ms: "${failed.message}"; ${continued ? 'sent SIGTERM + SIGCONT, it woke, stopped itself and was reaped' : 'reaped'}; old pid served on; next upgrade -> pid ${second.pid}; ${describeLoad(totals)}`;
  expect(failed).toMatchObject({ code: 'ERR_UPGRADE_TIMEOUT', childPid: child.pid });
  expect(failed.t - sent).toBeGreaterThanOrEqual(2000);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});

it('supervisor: the new generation SIGSTOPped before it is ready', async (context) => {
  const row = report(context, {
    order: 76,
    scenario: 'New generation frozen by SIGSTOP before it is ready',
    model: 'supervisor',
    must: 'reload failed at --ready-timeout (2 s), the stopped generation killed and reaped; the old one serves on (0 client errors, 0 refused); the next reload works',
  });
  const { mode, run, pid1, load, pid2, mark } = await supervisorReloadTo('sigstop', ['--ready-timeout', '2s'], 'stopping-self');
  await expect.poll(() => stateOf(pid2)).toBe('T');
  const failed = await run.log(new RegExp(`reload failed: generation 2 \\(pid ${pid2}\\) was not ready within 2000 ms; it was killed; generation 1 \\(pid ${pid1}\\) goes on serving`), mark);
  expect(stateOf(pid2)).toBeNull();
  await load.servedMore(pid1, 200);
  const { pid3, totals } = await reloadNormallyToThird(run, mode, load);
  // Generation 1 drains after its successor's probation: the supervisor logs its exit once it has reaped it.
  await run.log(new RegExp(`generation 1 \\(pid ${pid1}\\) exited`), mark);
  row.result = `new pid stopped (state T); "${failed[0]}"; reaped; next reload -> pid ${pid3}; zombies: ${zombieChildren(run.pid).length}; ${describeLoad(totals)}`;
  expect(zombieChildren(run.pid)).toEqual([]);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});
