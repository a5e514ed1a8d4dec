// Fault: a generation starts with a corrupt socket-activation or readiness
// environment — LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID / NOTIFY_SOCKET as a
// broken wrapper, a stale unit file or a copied environment would leave them,
// and handover's own HANDOVER_PARENT_PID. What must hold: no crash, a clear
// error where the operator sees it (stderr or an event the app can log), a
// fresh listener, and a clean environment for the next generation, whose
// upgrade runs under load.
//
// The variables are set by `sh -c 'VARS exec node …'`, so that $$ — the pid
// the shell keeps across exec — can name the server's own pid in LISTEN_PID,
// as a real socket activator does.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch, scratchDir, type GenEvent, type Run } from '../helpers/generations';
import { BIN, cleanupSupervisors, SupervisorRun } from '../helpers/supervisor';
import { describeLoad, errorTotal, FAULT_APP, faultEnv, Load, outcome, readyOf, report, servingPid, startGraceful, stopLoads } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

interface Case {
  name: string;
  vars: string;
  /** What an operator must be able to read about it. */
  says: RegExp;
}

const LISTEN_CASES: Case[] = [
  { name: 'LISTEN_FDS=abc', vars: 'LISTEN_PID=$$ LISTEN_FDS=abc', says: /LISTEN_FDS/ },
  { name: 'LISTEN_FDS=-1', vars: 'LISTEN_PID=$$ LISTEN_FDS=-1', says: /LISTEN_FDS/ },
  { name: 'LISTEN_FDS=10^20', vars: 'LISTEN_PID=$$ LISTEN_FDS=99999999999999999999', says: /LISTEN_FDS/ },
  { name: 'LISTEN_FDS=5, nothing passed (fd 3 is node\'s epoll)', vars: 'LISTEN_PID=$$ LISTEN_FDS=5', says: /LISTEN_FDS|fd 3/ },
  { name: 'LISTEN_FDNAMES a:b:c for LISTEN_FDS=1', vars: 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=a:b:c', says: /LISTEN_FDNAMES/ },
  { name: 'LISTEN_PID=-1', vars: 'LISTEN_PID=-1 LISTEN_FDS=1', says: /LISTEN_PID/ },
  { name: 'LISTEN_PID=" <own pid>"', vars: 'LISTEN_PID=" $$" LISTEN_FDS=1', says: /LISTEN_PID/ },
  { name: 'LISTEN_PID=10^22', vars: 'LISTEN_PID=9999999999999999999999 LISTEN_FDS=1', says: /LISTEN_PID/ },
];

function notifyCases(dir: string): Case[] {
  writeFileSync(join(dir, 'not-a-socket'), '');
  return [
    { name: 'NOTIFY_SOCKET=garbage (relative)', vars: 'NOTIFY_SOCKET=garbage', says: /NOTIFY_SOCKET|garbage/ },
    { name: 'NOTIFY_SOCKET=/nonexistent/dir/sock', vars: 'NOTIFY_SOCKET=/nonexistent/dir/sock', says: /NOTIFY_SOCKET|nonexistent/ },
    { name: 'NOTIFY_SOCKET=@ (empty abstract name)', vars: 'NOTIFY_SOCKET=@', says: /NOTIFY_SOCKET|ECONNREFUSED|notify/ },
    { name: 'NOTIFY_SOCKET=@ + 200 x (longer than sun_path)', vars: `NOTIFY_SOCKET=@${'x'.repeat(200)}`, says: /NOTIFY_SOCKET|xxxx/ },
    { name: 'NOTIFY_SOCKET=a regular file', vars: `NOTIFY_SOCKET=${join(dir, 'not-a-socket')}`, says: /NOTIFY_SOCKET|not-a-socket/ },
  ];
}

/** What one corrupt start did. */
interface Outcome {
  name: string;
  ready: GenEvent | null;
  answered: boolean;
  error: string | null;
  logged: boolean;
  next: GenEvent | null;
  nextEnv: Record<string, string> | null;
  loadErrors: number;
  requests: number;
}

/** Starts a first generation with `vars`, checks it serves, upgrades it once under load. */
async function corruptStart(c: Case, extraEnv: Record<string, string> = {}): Promise<{ outcome: Outcome; run: Run }> {
  const run = startGraceful({}, { wrap: ['/bin/sh', '-c', `${c.vars} exec "$0" "$1"`], env: extraEnv });
  const result: Outcome = { name: c.name, ready: null, answered: false, error: null, logged: false, next: null, nextEnv: null, loadErrors: 0, requests: 0 };
  const start = await run.next({ event: 'start' });
  // A first generation has no previous one, whatever stray variable it got:
  // the Upgrader believes HANDOVER_PARENT_PID only with that generation's NOTIFY_SOCKET.
  const parentPid = null;
  void start;
  result.ready = await readyOf(run, parentPid, 10_000);
  result.error = result.ready.inheritanceError?.message ?? null;
  result.answered = (await outcome(result.ready.port, '/')) === `200 ${result.ready.pid}`;
  const warnings = run.all({ event: 'warning' }).map((e) => e.message as string);
  result.logged = c.says.test(run.stderr) || warnings.some((w) => c.says.test(w));
  const load = new Load(result.ready.port);
  await load.servedMore(result.ready.pid, 20);
  run.signal(result.ready.pid, 'SIGHUP');
  result.next = await readyOf(run, result.ready.pid, 5000).catch(() => null);
  if (result.next) {
    result.nextEnv = (await run.next({ event: 'start', pid: result.next.pid })).env;
    await load.servedMore(result.next.pid, 20);
  }
  const totals = await load.stop();
  result.loadErrors = errorTotal(totals.keepAlive) + errorTotal(totals.connectLoop);
  result.requests = totals.keepAlive.ok + totals.connectLoop.ok;
  return { outcome: result, run };
}

/** The protocol variables a healthy second generation sees: handover's own, nothing of the corruption. */
function cleanNextEnv(next: GenEvent, env: Record<string, string>, parent: number): boolean {
  return (
    env.LISTEN_FDS === '1' &&
    env.LISTEN_FDNAMES === 'unknown' &&
    env.LISTEN_PID === String(next.pid) &&
    new RegExp(`/handover-${parent}-[^/]{6}/notify\\.sock$`).test(env.NOTIFY_SOCKET ?? '') &&
    env.HANDOVER_PARENT_PID === String(parent)
  );
}

function summary(outcomes: Outcome[]): string {
  return outcomes
    .map((o) => `${o.name}: ${o.ready ? 'served' : 'NO READY'}${o.answered ? '' : ' (no answer)'}, ${o.error ? `inheritanceError "${o.error}"` : 'no error recorded'}, ${o.logged ? 'logged' : 'NOT logged'}, upgrade ${o.next ? `ok (${o.loadErrors} errors in ${o.requests} requests)` : 'FAILED'}`)
    .join('; ');
}

it('GracefulServer: corrupt LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID at start', async (context) => {
  const row = report(context, {
    order: 50,
    scenario: 'Corrupt LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID in a starting generation (8 variants)',
    model: 'GracefulServer',
    must: "no crash; a fresh listener that serves; the error in `upgrader.inheritanceError` and logged (stderr or a 'warning' event); the next generation gets a clean environment and upgrades with 0 client errors",
  });
  const outcomes: Outcome[] = [];
  for (const c of LISTEN_CASES) {
    const { outcome: o, run } = await corruptStart(c);
    outcomes.push(o);
    row.result = summary(outcomes);
    expect(o.ready, c.name).not.toBeNull();
    expect(o.answered, c.name).toBe(true);
    expect(o.error, c.name).toMatch(c.says);
    expect(o.next, c.name).not.toBeNull();
    expect(cleanNextEnv(o.next!, o.nextEnv!, o.ready!.pid), `${c.name}: ${JSON.stringify(o.nextEnv)}`).toBe(true);
    expect(o.loadErrors, c.name).toBe(0);
    await run.cleanup();
  }
  row.result = summary(outcomes);
  expect(outcomes.filter((o) => !o.logged).map((o) => o.name)).toEqual([]);
});

it('GracefulServer: corrupt NOTIFY_SOCKET at start', async (context) => {
  const row = report(context, {
    order: 51,
    scenario: 'Corrupt NOTIFY_SOCKET in a starting generation (5 variants)',
    model: 'GracefulServer',
    must: "no crash; serves; the failed READY=1 to systemd logged (stderr or a 'warning' event); the next generation upgrades with 0 client errors",
  });
  const outcomes: Outcome[] = [];
  for (const c of notifyCases(scratchDir('faults-notify-'))) {
    const { outcome: o, run } = await corruptStart(c);
    outcomes.push(o);
    row.result = summary(outcomes);
    expect(o.ready, c.name).not.toBeNull();
    expect(o.answered, c.name).toBe(true);
    expect(o.next, c.name).not.toBeNull();
    expect(o.loadErrors, c.name).toBe(0);
    await run.cleanup();
  }
  row.result = summary(outcomes);
  // Under systemd Type=notify a bad NOTIFY_SOCKET means a start that times out: it must be visible.
  expect(outcomes.filter((o) => !o.logged).map((o) => o.name)).toEqual([]);
});

it("GracefulServer: a stray HANDOVER_PARENT_PID (handover's own variable) naming the real parent", async (context) => {
  const row = report(context, {
    order: 52,
    scenario: 'Stray `HANDOVER_PARENT_PID` at start: garbage, `1`, and the pid of the real parent (not a generation)',
    model: 'GracefulServer',
    must: 'no crash; serves; upgrades still work (a parent that is no generation must not block them)',
  });
  const cases: Case[] = [
    { name: 'HANDOVER_PARENT_PID=abc', vars: 'HANDOVER_PARENT_PID=abc', says: /HANDOVER_PARENT_PID/ },
    { name: 'HANDOVER_PARENT_PID=1', vars: 'HANDOVER_PARENT_PID=1', says: /HANDOVER_PARENT_PID/ },
    // The subreaper started the shell that became node: $PPID is the real parent, no generation.
    { name: 'HANDOVER_PARENT_PID=<its real parent, no generation>', vars: 'HANDOVER_PARENT_PID=$PPID', says: /HANDOVER_PARENT_PID/ },
  ];
  const outcomes: Outcome[] = [];
  const queued: string[] = [];
  for (const c of cases) {
    const { outcome: o, run } = await corruptStart(c);
    outcomes.push(o);
    if (!o.next) {
      const q = run.all({ event: 'upgrade-queued', pid: o.ready!.pid })[0];
      if (q) queued.push(`${c.name}: SIGHUP queued "until the previous generation (pid ${q.parentPid}) has exited", which is its parent (the subreaper) and never exits: no upgrade ever`);
    }
    row.result = [summary(outcomes), ...queued].join('; ');
    expect(o.ready, c.name).not.toBeNull();
    expect(o.answered, c.name).toBe(true);
    expect(o.loadErrors, c.name).toBe(0);
    await run.cleanup();
  }
  expect(outcomes.filter((o) => !o.next).map((o) => o.name)).toEqual([]);
});

it('supervisor: corrupt LISTEN_FDS / LISTEN_PID / NOTIFY_SOCKET / HANDOVER_PARENT_PID in its own environment', async (context) => {
  const row = report(context, {
    order: 53,
    scenario: 'Corrupt LISTEN_* / NOTIFY_SOCKET / HANDOVER_PARENT_PID in the supervisor\'s environment',
    model: 'supervisor',
    must: "no crash; a clear log line; the --listen socket bound afresh; every generation gets only the supervisor's own, correct variables; a reload under load with 0 client errors",
  });
  const cases: Case[] = [
    { name: 'LISTEN_FDS=abc', vars: 'LISTEN_PID=$$ LISTEN_FDS=abc', says: /ignoring LISTEN_FDS: LISTEN_FDS is not a count.*/ },
    { name: 'LISTEN_FDS=5 (fd 3 is node\'s epoll)', vars: 'LISTEN_PID=$$ LISTEN_FDS=5 LISTEN_FDNAMES=a:b:c:d:e', says: /ignoring LISTEN_FDS: .*fd 3.*/ },
    { name: 'LISTEN_PID=-1', vars: 'LISTEN_PID=-1 LISTEN_FDS=1', says: /ignoring LISTEN_FDS: LISTEN_PID is not a pid.*/ },
    { name: 'NOTIFY_SOCKET=/nonexistent/dir/sock', vars: 'NOTIFY_SOCKET=/nonexistent/dir/sock', says: /could not notify \/nonexistent\/dir\/sock: ENOENT.*/ },
    { name: 'HANDOVER_PARENT_PID=$PPID', vars: 'HANDOVER_PARENT_PID=$PPID HANDOVER_NOTIFY_SOCKET=garbage', says: /./ },
  ];
  const results: string[] = [];
  for (const c of cases) {
    const run = new SupervisorRun(['-c', `${c.vars} exec "$0" "$@"`, process.execPath, BIN, 'run', '--listen', '127.0.0.1:0', '--', process.execPath, FAULT_APP], {
      command: '/bin/sh',
      env: faultEnv({ supervised: true }),
    });
    const port = await run.port();
    const pid1 = await servingPid(run, 1);
    const said = await run.log(c.says);
    const start1 = await run.event({ event: 'start', pid: pid1 });
    const load = new Load(port);
    await load.servedMore(pid1, 20);
    const mark = run.logs.length;
    run.signal('SIGHUP');
    const pid2 = await servingPid(run, 2, mark);
    const start2 = await run.event({ event: 'start', pid: pid2 });
    await load.servedMore(pid2, 20);
    const totals = await load.stop();
    results.push(`${c.name}: ${c.says.source === '.' ? 'nothing to say' : `"${said[0].replace(/^handover\[\d+\]: /, '')}"`}, bound 127.0.0.1:${port}, reload ${pid1} -> ${pid2}, ${describeLoad(totals)}`);
    row.result = results.join('; ');
    for (const [start, pid] of [[start1, pid1], [start2, pid2]] as const) {
      expect(start.env, c.name).toEqual({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'unknown', LISTEN_PID: String(pid), NOTIFY_SOCKET: expect.stringMatching(/\/handover-supervisor-[0-9]+-[^/]{6}\/notify\.sock$/) });
    }
    expect(errorTotal(totals.keepAlive) + errorTotal(totals.connectLoop), c.name).toBe(0);
    await run.cleanup();
  }
});
