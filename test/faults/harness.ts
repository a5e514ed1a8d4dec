// The fault-injection suite's common parts (npm run test:faults):
//
// - starting test/fixtures/fault-app.js as a self-replacing GracefulServer
//   (under test/fixtures/subreaper.c, which adopts and reaps the generations
//   that their predecessors orphan) or under `handover run`, on top of the
//   helpers the normal suite uses (generations.ts' Run, supervisor.ts'
//   SupervisorRun: event waits, token-based cleanup with zombie checks);
// - light load that measures instead of assuming: keep-alive connections
//   whose every request the server answers after a few ms (a few hundred
//   requests a second, not a saturating benchmark), plus a client that opens
//   a new connection for every request, which sees any port gap as a refused
//   connection; every error is counted by kind and timestamped;
// - the rows of the report table (see reporter.ts), attached to each test.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { expect, type TestContext } from 'vitest';
import { fixtureBinary } from '../helpers/compile';
import { DIST, procState, Run, scratchDir, type GenEvent } from '../helpers/generations';
import { ERROR_KINDS, LoadClient, type LoadClientOptions, type LoadErrorKind, type LoadStats } from '../helpers/load-client';
import { SupervisorRun } from '../helpers/supervisor';
import { matcher } from '../helpers/match';
import { markedProcesses } from '../helpers/proc';

/** The fixture every fault test runs. */
export const FAULT_APP = resolve(__dirname, '../fixtures/fault-app.js');

/** Marks every process of the suite, so that the final check finds any left behind. */
export const SUITE_MARK = 'HANDOVER_FAULTS_SUITE';

/** Milliseconds the server waits before each answer of the light load. */
export const PACE_MS = 5;

/** What fault-app.js reads from FAULT_APP. */
export interface FaultConfig {
  supervised?: boolean;
  options?: Record<string, unknown>;
  modeFile?: string;
  crashAfterMs?: number;
  fillFile?: string;
}

/** The environment entries that configure fault-app.js. */
export function faultEnv(config: FaultConfig): Record<string, string> {
  return { FAULT_APP: JSON.stringify({ dist: DIST, ...config }), [SUITE_MARK]: '1' };
}

// --- self-replacing model -------------------------------------------------

/** How to start the first generation. */
export interface StartOptions {
  /** The node binary (default: this one). */
  node?: string;
  /** The script (default: fault-app.js). */
  script?: string;
  /** A command that execs the rest (prlimit --nofile=N:N, ...). */
  wrap?: string[];
  /** More environment (LISTEN_FDS & co. are otherwise removed). */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/**
 * Starts `subreaper [wrap...] node fault-app.js` as a Run: every generation's
 * JSON events, token-tracked processes, cleanup that leaves no orphan and no
 * zombie (cleanupRuns in afterEach).
 */
export function startGraceful(config: FaultConfig, options: StartOptions = {}): Run {
  const run = new Run();
  const command = [...(options.wrap ?? []), options.node ?? process.execPath, options.script ?? FAULT_APP];
  run.spawn(fixtureBinary('subreaper'), command, { env: run.env(undefined, { ...faultEnv(config), ...options.env }), cwd: options.cwd });
  return run;
}

/** The next 'ready' of a generation started by `parent` (or of the first one). */
export function readyOf(run: Run, parent: number | null, timeout?: number): Promise<GenEvent> {
  return run.next((e) => e.event === 'ready' && e.parentPid === parent, timeout);
}

/** SIGHUP to `from`; resolves with its successor's 'ready' once `from` drains. */
export async function upgrade(run: Run, from: GenEvent, timeout?: number): Promise<GenEvent> {
  run.signal(from.pid, 'SIGHUP');
  const ready = await readyOf(run, from.pid, timeout);
  await run.next({ event: 'draining', pid: from.pid }, timeout);
  return ready;
}

/** The n-th (0-based) event matching `match` of pid, past or future. */
export function nth(run: Run, n: number, match: Partial<GenEvent>, timeout?: number): Promise<GenEvent> {
  const test = matcher<GenEvent>(match);
  return run.next((e) => test(e) && run.all(test).indexOf(e) === n, timeout);
}

/** Resolves once pid is gone: no process, no zombie (or a reused pid that is not the run's). */
export async function gone(run: Run, pid: number, timeout = 15_000): Promise<void> {
  await expect
    .poll(
      () => {
        const state = procState(pid);
        if (state === null) return true;
        if (state.state === 'Z') return false;
        return !run.owns(pid);
      },
      { timeout, interval: 10, message: `pid ${pid} is still there\n${run.stderr}` },
    )
    .toBe(true);
}

// --- supervisor model -----------------------------------------------------

/** `handover run --listen 127.0.0.1:0 [args] -- [wrap...] node fault-app.js` (supervised). */
export function startSupervisor(config: FaultConfig, args: string[] = [], options: { node?: string; script?: string; wrap?: string[]; env?: Record<string, string | undefined> } = {}): SupervisorRun {
  const command = [...(options.wrap ?? []), options.node ?? process.execPath, options.script ?? FAULT_APP];
  return new SupervisorRun(['run', '--listen', '127.0.0.1:0', ...args, '--', ...command], {
    env: { ...faultEnv({ ...config, supervised: true }), ...options.env },
  });
}

/** Pid of generation n once the supervisor says it serves (first start, reload or restart). */
export async function servingPid(run: SupervisorRun, n: number, from = 0, timeout?: number): Promise<number> {
  const m = await run.log(new RegExp(`(?:generation ${n} \\(pid ([0-9]+)\\) is ready after|reloaded: generation ${n} \\(pid ([0-9]+)\\) serves)`), from, timeout);
  return Number(m[1] ?? m[2]);
}

/**
 * Deploys the normal app again and reloads: resolves with generation 3's pid
 * once it has served `load`, and the load's totals (the load is stopped).
 */
export async function reloadNormallyToThird(run: SupervisorRun, mode: ModeFile, load: Load): Promise<{ pid3: number; totals: LoadTotals }> {
  mode.set('normal');
  const mark = run.logs.length;
  run.signal('SIGHUP');
  const pid3 = await servingPid(run, 3, mark);
  await load.servedMore(pid3);
  return { pid3, totals: await load.stop() };
}

// --- an upgrade into a faulty next generation -------------------------------

/**
 * A GracefulServer (`upgradeTimeout`) serving under load, SIGHUP'd into a
 * fault-app in `nextMode`; resolves with the next generation's `untilEvent`
 * ('listening' for one that adopts the socket and accepts from it but is
 * never ready). `sentAt`: when the SIGHUP was sent.
 */
export async function gracefulUpgradeTo(
  nextMode: string,
  upgradeTimeout: number,
  untilEvent: string,
): Promise<{ mode: ModeFile; run: Run; first: GenEvent; load: Load; child: GenEvent; sentAt: number }> {
  const mode = modeFile();
  const run = startGraceful({ modeFile: mode.path, options: { upgradeTimeout } });
  const first = await readyOf(run, null);
  const load = new Load(first.port);
  await load.servedMore(first.pid);
  mode.set(nextMode);
  const sentAt = Date.now();
  run.signal(first.pid, 'SIGHUP');
  const child = await run.next((e) => e.event === untilEvent && e.pid !== first.pid);
  return { mode, run, first, load, child, sentAt };
}

/**
 * A supervisor (`handover run [args]`) whose first generation serves under
 * load, reloaded (SIGHUP) into a fault-app in `nextMode`; resolves once
 * generation 2 has sent `untilEvent` ('listening' for a generation that is
 * never ready). `mark` is where the reload's log lines begin.
 */
export async function supervisorReloadTo(
  nextMode: string,
  args: string[],
  untilEvent: string,
): Promise<{ mode: ModeFile; run: SupervisorRun; port: number; pid1: number; load: Load; pid2: number; mark: number }> {
  const mode = modeFile();
  const run = startSupervisor({ modeFile: mode.path }, args);
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid1);
  mode.set(nextMode);
  const mark = run.logs.length;
  run.signal('SIGHUP');
  const pid2 = await run.generationPid(2);
  await run.event({ event: untilEvent, pid: pid2 });
  return { mode, run, port, pid1, load, pid2, mark };
}

// --- load -----------------------------------------------------------------

/** One client error with the time it was seen. */
export interface TimedError {
  t: number;
  kind: LoadErrorKind;
  detail: string;
}

/** LoadClient that also keeps when each error happened. */
export class TimedLoad extends LoadClient {
  readonly errorLog: TimedError[] = [];

  override record(kind: LoadErrorKind, detail: string): void {
    this.errorLog.push({ t: Date.now(), kind, detail });
    super.record(kind, detail);
  }
}

/** What {@link Load.stop} returns: the totals of each client. */
export interface LoadTotals {
  keepAlive: LoadStats;
  connectLoop: LoadStats;
}

/** The suite's light load on one port: keep-alive connections and a connect-per-request client. */
export class Load {
  readonly keepAlive: TimedLoad;
  readonly connectLoop: TimedLoad;
  readonly started = Date.now();
  #stopped: LoadTotals | undefined;

  constructor(port: number, options: { connections?: number; pace?: number; requestTimeoutMs?: number } = {}) {
    const path = `/pace?ms=${options.pace ?? PACE_MS}`;
    const base: LoadClientOptions = { port, connections: options.connections ?? 4, path, requestTimeoutMs: options.requestTimeoutMs ?? 5000 };
    this.keepAlive = new TimedLoad(base).start();
    this.connectLoop = new TimedLoad({ ...base, connections: 1, keepAlive: false }).start();
    loads.add(this);
  }

  /** Responses from `pid` so far, over both clients. */
  served(pid: number): number {
    return this.keepAlive.served(String(pid)) + this.connectLoop.served(String(pid));
  }

  /** Waits until `pid` has answered `count` more requests than it had when called. */
  async servedMore(pid: number, count = 20, timeout = 15_000): Promise<void> {
    const start = this.served(pid);
    await expect.poll(() => this.served(pid) - start, { timeout, interval: 5, message: `pid ${pid} did not answer ${count} more requests` }).toBeGreaterThanOrEqual(count);
  }

  /** Stops both clients (each finishes the request it has on the wire) and returns the totals. */
  async stop(): Promise<LoadTotals> {
    if (!this.#stopped) {
      const [keepAlive, connectLoop] = await Promise.all([this.keepAlive.stop(), this.connectLoop.stop()]);
      this.#stopped = { keepAlive, connectLoop };
      loads.delete(this);
    }
    return this.#stopped;
  }

  /** Errors of both clients more than `windowMs` away from `t`. */
  errorsAwayFrom(t: number, windowMs: number): TimedError[] {
    return this.errors.filter((e) => Math.abs(e.t - t) > windowMs);
  }

  /** Every error of both clients, in time order. */
  get errors(): TimedError[] {
    return [...this.keepAlive.errorLog, ...this.connectLoop.errorLog].sort((a, b) => a.t - b.t);
  }
}

const loads = new Set<Load>();

/** Stops every load still running (afterEach). */
export async function stopLoads(): Promise<void> {
  await Promise.all([...loads].map((load) => load.stop()));
}

/** Zero of every error kind. */
export const ZERO_ERRORS = Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<LoadErrorKind, number>;

/** Sum of the errors of a stats object. */
export function errorTotal(stats: LoadStats): number {
  return ERROR_KINDS.reduce((sum, kind) => sum + stats.errors[kind], 0);
}

/** "1,234 requests, 0 errors" style summary of one client. */
export function describeStats(stats: LoadStats): string {
  const errors = errorTotal(stats);
  const kinds = ERROR_KINDS.filter((k) => stats.errors[k] > 0).map((k) => `${k} ${stats.errors[k]}`);
  return `${stats.ok.toLocaleString('en-US')} ok, ${errors} error${errors === 1 ? '' : 's'}${kinds.length > 0 ? ` (${kinds.join(', ')})` : ''}`;
}

/** The usual measured sentence for both clients of a Load. */
export function describeLoad(totals: { keepAlive: LoadStats; connectLoop: LoadStats }): string {
  return `keep-alive: ${describeStats(totals.keepAlive)}; connect loop: ${totals.connectLoop.connects.toLocaleString('en-US')} connections, ${totals.connectLoop.errors.connect} refused, ${describeStats(totals.connectLoop)}`;
}

// --- processes --------------------------------------------------------------

/** Processes carrying the suite's mark, and the zombies they or this test process (which starts them) have not reaped. */
export function suiteProcesses(): { live: number[]; zombies: number[] } {
  return markedProcesses(SUITE_MARK, '1', process.pid);
}

/** Number of open fds of pid, from /proc. */
export function fdCountOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set of pid in bytes, from /proc. */
export function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

// --- the report -------------------------------------------------------------

/** One row of the report table. */
export interface FaultRow {
  /** Sort key: the scenario's place in the table. */
  order: number;
  scenario: string;
  model: 'GracefulServer' | 'supervisor' | 'both' | '-';
  must: string;
  /** Measured numbers. */
  result: string;
}

declare module 'vitest' {
  interface TaskMeta {
    fault?: FaultRow;
  }
}

/**
 * Attaches a row to the test; the reporter prints it with the test's outcome.
 * Call it first and fill `result` as numbers come in: a test that fails
 * half-way still reports what it measured.
 */
export function report(context: TestContext, row: Omit<FaultRow, 'result'> & { result?: string }): FaultRow {
  const full: FaultRow = { result: 'not measured: the test failed before its measurement', ...row };
  context.task.meta.fault = full;
  return full;
}

/** ms since `t`, rounded. */
export function since(t: number): number {
  return Math.round(Date.now() - t);
}

/**
 * One GET on a connection of its own; resolves with `200 <body>` when
 * answered, else the client's error code (ECONNRESET, ECONNREFUSED...).
 */
export function outcome(port: number, path: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolveOutcome) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveOutcome(`${res.statusCode} ${body}`));
      res.on('error', (err: NodeJS.ErrnoException) => resolveOutcome(err.code ?? err.message));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolveOutcome(err.code ?? err.message));
    req.end();
  });
}

/** Pids of every process with an fd on `target` ('socket:[1234]'), from /proc/PID/fd. */
export function holders(target: string): number[] {
  const found = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${name}/fd/${fd}`) === target) found.add(Number(name));
      } catch {
        // closed meanwhile
      }
    }
  }
  return [...found].sort((a, b) => a - b);
}

/** A file fault-app.js reads its mode from at start: a test "deploys" a behaviour before the next generation. */
export type ModeFile = ReturnType<typeof modeFile>;

/** Makes a {@link ModeFile} holding `initial`. */
export function modeFile(initial = 'normal'): { path: string; set(mode: string): void } {
  const path = join(scratchDir('faults-mode-'), 'mode');
  writeFileSync(path, initial);
  return { path, set: (mode) => writeFileSync(path, mode) };
}

/** /proc/PID/environ as an object (test/helpers/proc), for the fault files that read a generation's NOTIFY_SOCKET. */
export { environOf } from '../helpers/proc';
