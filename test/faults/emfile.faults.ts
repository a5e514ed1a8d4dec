// Fault: the process that runs the upgrade sits at its RLIMIT_NOFILE.
//
// GracefulServer: the first generation runs under `prlimit --nofile=128:128`
// (every generation inherits it); on SIGHUP, just before handover's own
// listener, the fixture opens /dev/null until EMFILE and closes N again, so
// the upgrade starts with exactly N free fds (held until it has settled). With
// none free the upgrade must fail with a clear error and change nothing.
//
// Supervisor: `prlimit --pid` lowers the running supervisor's limit to its
// lowest free fd number (the soft limit), so that it cannot open a single fd;
// its generations run under `prlimit --nofile=4096:` to get their room back
// (the limit is inherited, and a node generation needs ~22 fds of its own).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch, scratchDir } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, fdCountOf, Load, nth, readyOf, report, servingPid, startGraceful, startSupervisor, stopLoads, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

const LIMIT = 128;

/** Soft limit of open files of pid, from /proc/PID/limits. */
function nofileOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3]);
}

/** The lowest fd number pid has free: with RLIMIT_NOFILE at it, pid can open nothing. */
function lowestFreeFd(pid: number): number {
  const used = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
  let fd = 0;
  while (used.has(fd)) fd++;
  return fd;
}

it(`GracefulServer: RLIMIT_NOFILE ${LIMIT}, fd table full when the upgrade starts`, async (context) => {
  const row = report(context, {
    order: 40,
    scenario: `\`prlimit --nofile=${LIMIT}\`, fd table filled to EMFILE before the upgrade`,
    model: 'GracefulServer',
    must: 'with 0 free fds: a clear error (ERR_EXEC, cause EMFILE), no child, no fd leaked, the old generation serves on (0 client errors, 0 refused); with 1 free fd the upgrade works; the new generation inherits the limit',
  });
  const fillFile = join(scratchDir('faults-emfile-'), 'free');
  const run = startGraceful({ fillFile }, { wrap: ['/usr/bin/prlimit', `--nofile=${LIMIT}:${LIMIT}`] });
  const first = await readyOf(run, null);
  const firstLimit = nofileOf(first.pid);
  const load = new Load(first.port);
  await load.servedMore(first.pid);

  writeFileSync(fillFile, '0');
  run.signal(first.pid, 'SIGHUP');
  const filled = await nth(run, 0, { event: 'filled', pid: first.pid });
  const failed = await nth(run, 0, { event: 'upgrade-failed', pid: first.pid });
  await load.servedMore(first.pid, 200);

  writeFileSync(fillFile, '1');
  run.signal(first.pid, 'SIGHUP');
  const second = await readyOf(run, first.pid);
  await run.next({ event: 'draining', pid: first.pid });
  await load.servedMore(second.pid, 200);
  const secondLimit = nofileOf(second.pid);
  const totals = await load.stop();
  row.result =
    `limit ${firstLimit}; 0 free (${filled.held} fds of /dev/null held): '${failed.code}' "${failed.message}", ${run.all({ event: 'upgrading' }).length === 1 ? 'one child started only at the 1-free attempt' : `${run.all({ event: 'upgrading' }).length} children started`}; ` +
    `old pid's fds ${filled.fds} before the fill, ${failed.fds} after the failure and the release (same turn of its event loop); 1 free: upgraded to pid ${second.pid}, whose limit is ${secondLimit}; ${describeLoad(totals)}`;
  expect(failed).toMatchObject({ code: 'ERR_EXEC', causeCode: 'EMFILE', message: expect.stringMatching(/^cannot create the readiness socket: EMFILE: too many open files/) });
  expect(run.all({ event: 'upgrading' }).map((e) => e.newPid)).toEqual([second.pid]);
  expect(failed.fds).toBe(filled.fds);
  expect(secondLimit).toBe(LIMIT);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});

it('supervisor: RLIMIT_NOFILE lowered to its lowest free fd (no fd can be opened), then reloads', async (context) => {
  const row = report(context, {
    order: 41,
    scenario: 'Supervisor at its RLIMIT_NOFILE (`prlimit --pid`: not one fd can be opened), then reloads',
    model: 'supervisor',
    must: 'no crash; each reload either works or fails with a clear log line and the old generation serving on; 0 client errors, 0 refused; no fd growth',
  });
  const run = startSupervisor({}, [], { wrap: ['/usr/bin/prlimit', '--nofile=4096:'] });
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid1);
  const limit = lowestFreeFd(run.pid);
  const fdsBefore = fdCountOf(run.pid);
  // The soft limit only: the generations' wrapper raises theirs back to 4096.
  execFileSync('prlimit', ['--pid', String(run.pid), `--nofile=${limit}:`]);
  const mark = run.logs.length;
  const pids: number[] = [pid1];
  for (let n = 2; n <= 4; n++) {
    const from = run.logs.length;
    run.signal('SIGHUP');
    const outcomeLine = await run.log(new RegExp(`reloaded: generation ${n} \\(pid ([0-9]+)\\)|reload failed: (.*)`), from);
    if (outcomeLine[2]) throw new Error(`reload failed at the fd limit: ${outcomeLine[2]}\n${run.transcript()}`);
    pids.push(Number(outcomeLine[1]));
    await run.log(new RegExp(`generation ${n - 1} \\(pid ${pids[n - 2]}\\) exited`), from);
    await load.servedMore(pids[n - 1], 100);
  }
  const fdsAfter = fdCountOf(run.pid);
  const supervisorLimit = nofileOf(run.pid);
  const mentions = run.logs.slice(mark).filter((l) => /EMFILE|too many open files/i.test(l));
  const totals = await load.stop();
  row.result =
    `supervisor limit ${supervisorLimit} = its lowest free fd (${fdsBefore} fds open): 3 reloads, all worked (${pids.join(' -> ')}); log lines mentioning EMFILE: ${mentions.length}; ` +
    `supervisor fds ${fdsBefore} before, ${fdsAfter} after; ${describeLoad(totals)}. (It needs no new fd to reload: the exit watch falls back from a pidfd to a waiting thread, hence one fd fewer.)`;
  expect(supervisorLimit).toBe(limit);
  expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});
