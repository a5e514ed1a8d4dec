// Soak: FAULTS_SOAK_UPGRADES (default 1000) upgrades in a row under the light
// load, for each model. Nothing may accumulate: not the fds a generation
// inherits, not memory, not zombies, not client errors. For the supervisor,
// the one process that lives through all of them, its own fd count and
// resident memory are what must stay flat.
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch, type GenEvent, type Run } from '../helpers/generations';
import { zombieChildren } from '../helpers/proc';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, fdCountOf, gone, Load, readyOf, report, rssOf, servingPid, startGraceful, startSupervisor, stopLoads, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

const UPGRADES = Number(process.env.FAULTS_SOAK_UPGRADES ?? 1000);
if (!Number.isInteger(UPGRADES) || UPGRADES < 10) throw new Error(`FAULTS_SOAK_UPGRADES must be an integer >= 10, got ${process.env.FAULTS_SOAK_UPGRADES}`);
/**
 * The soaks' drain ramp and probation (ms): short, so that the ramp's code
 * path is soaked too but an upgrade takes ~0.3 s; with the defaults (1 s
 * each) a soak of 1,000 took ~25 min.
 */
const SOAK_RAMP = 100;
/** A bound that turns a hang into a failure: generous per upgrade. */
const SOAK_TIMEOUT = 60_000 + UPGRADES * 1500;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const MiB = 2 ** 20;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/** Zombies waiting for the run's subreaper, which adopts every generation whose parent exited. */
function zombiesOfRun(run: Run): number {
  return zombieChildren(run.firstPid).length;
}

it(`GracefulServer: ${UPGRADES} upgrades in a row under load`, async (context) => {
  const row = report(context, {
    order: 90,
    scenario: `Soak: ${UPGRADES} upgrades in a row (FAULTS_SOAK_UPGRADES)`,
    model: 'GracefulServer',
    must: 'no leaked fd (each new generation has the same fds, connections aside), no zombie left, flat RSS, never more than 2 generations, 0 client errors, 0 refused',
  });
  const run = startGraceful({ options: { drainRamp: SOAK_RAMP } });
  let current: GenEvent = await readyOf(run, null);
  const load = new Load(current.port);
  await load.servedMore(current.pid);
  const fds: number[] = [];
  const rss: number[] = [];
  const durations: number[] = [];
  let transientZombies = 0;
  let maxAlive = 1;
  const started = Date.now();
  for (let i = 1; i <= UPGRADES; i++) {
    const old = current;
    run.signal(old.pid, 'SIGHUP');
    current = await readyOf(run, old.pid);
    maxAlive = Math.max(maxAlive, run.scan().length - 1);
    const upgraded = await run.next({ event: 'upgraded', pid: old.pid });
    durations.push(upgraded.durationMs);
    await run.next({ event: 'exit', pid: old.pid });
    await gone(run, old.pid);
    // A generation that just exited may be a zombie for a moment, until the
    // subreaper's wait() runs: none may stay.
    if (zombiesOfRun(run) > 0) {
      transientZombies++;
      await expect.poll(() => zombiesOfRun(run), { timeout: 2000, interval: 5 }).toBe(0);
    }
    fds.push(current.baseFds);
    rss.push(current.rss);
    // Keep the load honest: the new generation serves before the next upgrade.
    await load.servedMore(current.pid, 5);
    if (i % 100 === 0) row.result = `${i} of ${UPGRADES} upgrades after ${Math.round((Date.now() - started) / 1000)} s`;
  }
  const seconds = (Date.now() - started) / 1000;
  const totals = await load.stop();
  const first = rss.slice(0, 100);
  const last = rss.slice(-100);
  row.result =
    `${UPGRADES} upgrades in ${seconds.toFixed(0)} s (${((seconds * 1000) / UPGRADES).toFixed(0)} ms each, spawn->ready p50 ${median(durations)} ms, p99 ${percentile(durations, 99)} ms); ` +
    `fds of each new generation at ready (accepted connections aside): min ${Math.min(...fds)}, max ${Math.max(...fds)}; RSS at ready: median of the first 100 ${mib(median(first))} MiB, of the last 100 ${mib(median(last))} MiB, max ${mib(Math.max(...rss))} MiB; ` +
    `zombies left: ${zombiesOfRun(run)} (${transientZombies} seen for a moment, reaped within 2 s); most generations alive: ${maxAlive}; ${describeLoad(totals)}`;
  expect(Math.max(...fds) - Math.min(...fds)).toBeLessThanOrEqual(1);
  expect(zombiesOfRun(run)).toBe(0);
  expect(maxAlive).toBeLessThanOrEqual(2);
  expect(median(last)).toBeLessThan(median(first) * 1.15);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
}, SOAK_TIMEOUT);

it(`supervisor: ${UPGRADES} reloads in a row under load`, async (context) => {
  const row = report(context, {
    order: 91,
    scenario: `Soak: ${UPGRADES} reloads in a row (FAULTS_SOAK_UPGRADES)`,
    model: 'supervisor',
    must: "the supervisor's fd count and RSS stay flat, no zombie, never more than 2 generations once a reload is over, 0 client errors, 0 refused",
  });
  const run = startSupervisor({ options: { drainRamp: SOAK_RAMP } }, ['--probation', `${SOAK_RAMP}ms`]);
  const port = await run.port();
  let pid = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid);
  const fds: number[] = [];
  const rss: number[] = [];
  const ready: number[] = [];
  const baseline = fdCountOf(run.pid);
  let transientFds = 0;
  let transientZombies = 0;
  let maxAlive = 1;
  const started = Date.now();
  for (let n = 2; n <= UPGRADES + 1; n++) {
    const mark = run.logs.length;
    run.signal('SIGHUP');
    const m = await run.log(new RegExp(`reloaded: generation ${n} \\(pid ([0-9]+)\\) serves \\(ready after ([0-9]+) ms\\)`), mark);
    ready.push(Number(m[2]));
    maxAlive = Math.max(maxAlive, run.processes().length - 1);
    await run.log(new RegExp(`generation ${n - 1} \\(pid ${pid}\\) exited \\(exit code 0\\)`), mark);
    pid = Number(m[1]);
    // The old generation's exit watch closes its pidfd on a later turn of the
    // supervisor's loop: the count must come back to the baseline.
    if (fdCountOf(run.pid) > baseline) {
      transientFds++;
      await expect.poll(() => fdCountOf(run.pid), { timeout: 2000, interval: 5 }).toBeLessThanOrEqual(baseline);
    }
    if (zombieChildren(run.pid).length > 0) {
      transientZombies++;
      await expect.poll(() => zombieChildren(run.pid).length, { timeout: 2000, interval: 5 }).toBe(0);
    }
    fds.push(fdCountOf(run.pid));
    rss.push(rssOf(run.pid));
    await load.servedMore(pid, 5);
    // The log grows by ~6 lines a reload: drop what is no longer looked at.
    if (run.logs.length > 1000) run.logs.splice(0, run.logs.length - 100);
    if (n % 100 === 0) row.result = `${n - 1} of ${UPGRADES} reloads after ${Math.round((Date.now() - started) / 1000)} s`;
  }
  const seconds = (Date.now() - started) / 1000;
  const totals = await load.stop();
  const tenth = Math.max(1, Math.floor(UPGRADES / 10));
  const early = median(rss.slice(tenth, 2 * tenth));
  const late = median(rss.slice(-tenth));
  row.result =
    `${UPGRADES} reloads in ${seconds.toFixed(0)} s (${((seconds * 1000) / UPGRADES).toFixed(0)} ms each, ready after p50 ${median(ready)} ms, p99 ${percentile(ready, 99)} ms); ` +
    `supervisor fds: ${baseline} before, after each reload min ${Math.min(...fds)}, max ${Math.max(...fds)} (${transientFds} times one more for a moment), last ${fds.at(-1)}; supervisor RSS: ${mib(rss[0])} MiB after the first reload, median ${mib(early)} MiB over reloads ${tenth}-${2 * tenth}, ${mib(late)} MiB over the last ${tenth}, max ${mib(Math.max(...rss))} MiB; ` +
    `zombies left: ${zombieChildren(run.pid).length} (${transientZombies} seen for a moment); most generations alive after a reload: ${maxAlive}; ${describeLoad(totals)}`;
  expect(Math.max(...fds)).toBeLessThanOrEqual(baseline);
  expect(zombieChildren(run.pid)).toEqual([]);
  expect(maxAlive).toBeLessThanOrEqual(2);
  expect(late).toBeLessThan(early * 1.2);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
}, SOAK_TIMEOUT);
