// Driving generations of a graceful server (test/fixtures/graceful-app.js, or
// an example program) from a test: start the first one, read the JSON events
// every generation writes on the shared stdout, send signals, make requests,
// and — after each test — kill every process the run ever saw and check that
// none is left, zombies included.
//
// Only the first generation is started by the test; later ones are children
// of their predecessor, and orphans once it exits. So the first generation
// runs under test/fixtures/subreaper.c, which adopts and reaps them (PID 1
// here never reaps), and a random token in the environment, inherited by every
// generation, lets cleanup find each one in /proc even if no event named it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import { fixtureBinary } from './compile';
import { environHas, killWithEnv, pidsWithEnv, procStat } from './proc';
import { matcher, type Match as MatchOf } from './match';

/** The compiled package: fixtures and examples are plain JavaScript and load dist/. */
export const DIST = resolve(__dirname, '../../dist/index.js');
/** The one-generation fixture. */
export const GRACEFUL_APP = resolve(__dirname, '../fixtures/graceful-app.js');
/** The repository's root (examples live under it). */
export const ROOT = resolve(__dirname, '../..');

const TOKEN_VARIABLE = 'HANDOVER_GRACEFUL_RUN';
const PROTOCOL_VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'HANDOVER_PARENT_PID', 'HANDOVER_NOTIFY_SOCKET', 'GRACEFUL_GEN', 'GRACEFUL_ATTEMPT'];

/** One JSON line of a generation. */
export interface AppEvent {
  event: string;
  pid: number;
  gen?: number;
  t?: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

/** What graceful-app.js reads from GRACEFUL_APP. */
export interface AppConfig {
  kind?: 'http' | 'https' | 'http2' | 'http2-secure' | 'ws' | 'net' | 'listenAndServe';
  listen?: unknown[];
  address?: string | number;
  options?: Record<string, unknown>;
  tls?: { key: string; cert: string };
  keepAliveTimeout?: number;
  /** Per generation ('2') or per attempt at one ('2.1'): 'crash' | 'never-ready'. */
  modes?: Record<string, 'crash' | 'never-ready'>;
  /** Signals the application handles itself (each prints 'app-signal'). */
  appSignals?: NodeJS.Signals[];
}

/** Exit status of the first process, as the subreaper reports it (signal as a number). */
export interface FirstExit {
  code: number | null;
  signal: number | null;
}

type Match = MatchOf<AppEvent>;

const fleets = new Set<Fleet>();

/** One test's processes: the first generation and every one that followed it. */
export class Fleet {
  readonly token = randomBytes(8).toString('hex');
  readonly events: AppEvent[] = [];
  /** Every pid seen in an event (writers, and new generations they announced). */
  readonly pids = new Set<number>();
  readonly firstExit: Promise<FirstExit>;
  stderr = '';
  readonly #subreaper: ChildProcess;
  readonly #subreaperExit: Promise<void>;
  #waiters: { test: (e: AppEvent) => boolean; resolve: (e: AppEvent) => void }[] = [];
  #ended = false;
  #onEnd: (() => void)[] = [];
  #resolveFirstExit!: (status: FirstExit) => void;

  /** Starts `node script` (default: the fixture configured by `config`) under the subreaper. */
  constructor(options: { config?: AppConfig; script?: string; env?: Record<string, string | undefined>; args?: string[] } = {}) {
    fleets.add(this);
    const env: Record<string, string | undefined> = { ...process.env, [TOKEN_VARIABLE]: this.token };
    for (const name of PROTOCOL_VARIABLES) delete env[name];
    if (options.config) env.GRACEFUL_APP = JSON.stringify({ dist: DIST, ...options.config });
    Object.assign(env, options.env);
    this.firstExit = new Promise((r) => (this.#resolveFirstExit = r));
    const script = options.script ?? GRACEFUL_APP;
    this.#subreaper = spawn(fixtureBinary('subreaper'), [process.execPath, script, ...(options.args ?? [])], {
      env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#subreaperExit = new Promise((r) => this.#subreaper.once('exit', () => r()));
    this.#subreaper.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    const lines = createInterface({ input: this.#subreaper.stdout! });
    lines.on('line', (line) => this.#onLine(line));
    lines.on('close', () => {
      this.#ended = true;
      for (const f of this.#onEnd.splice(0)) f();
    });
  }

  #onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderr += `[stdout] ${line}\n`;
      return;
    }
    const record = parsed as Record<string, unknown>;
    if (record.exited && typeof record.exited === 'object') {
      this.#resolveFirstExit(record.exited as FirstExit);
      return;
    }
    if (typeof record.event !== 'string' || typeof record.pid !== 'number') {
      this.stderr += `[stdout] ${line}\n`;
      return;
    }
    const event = record as AppEvent;
    this.events.push(event);
    this.pids.add(event.pid);
    if (typeof event.newPid === 'number') this.pids.add(event.newPid);
    if (typeof event.childPid === 'number') this.pids.add(event.childPid);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(event)) return true;
      w.resolve(event);
      return false;
    });
  }

  /** The first event matching, past or future; rejects after `timeout` ms or once every writer is gone. */
  next(match: Match, timeout = 15_000): Promise<AppEvent> {
    return this.nextAfter(0, match, timeout);
  }

  /** Like {@link next}, among the events from index `from` on (see {@link mark}). */
  nextAfter(from: number, match: Match, timeout = 15_000): Promise<AppEvent> {
    const test = matcher(match);
    const found = this.events.slice(from).find(test);
    if (found) return Promise.resolve(found);
    return new Promise<AppEvent>((resolveEvent, rejectEvent) => {
      const fail = (why: string) => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        rejectEvent(new Error(`${why} waiting for ${typeof match === 'function' ? match.toString() : JSON.stringify(match)}\n${this.describe()}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeout} ms`), timeout);
      const done = (e: AppEvent) => {
        clearTimeout(timer);
        this.#onEnd = this.#onEnd.filter((f) => f !== onEnd);
        resolveEvent(e);
      };
      const onEnd = () => {
        clearTimeout(timer);
        fail('stdout closed (every process exited)');
      };
      this.#waiters.push({ test, resolve: done });
      if (this.#ended) onEnd();
      else this.#onEnd.push(onEnd);
    });
  }

  /** The number of events so far: a mark for {@link nextAfter}. */
  mark(): number {
    return this.events.length;
  }

  /** Every event matching so far. */
  all(match: Match): AppEvent[] {
    return this.events.filter(matcher(match));
  }

  /** Events and stderr, for failure messages. */
  describe(): string {
    return `events:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}\nstderr:\n${this.stderr}`;
  }

  /** Sends `signal` to pid, after checking that it is still a live process of this run. */
  signal(pid: number, signal: NodeJS.Signals): void {
    if (!this.owns(pid)) throw new Error(`pid ${pid} is not a live process of this run\n${this.describe()}`);
    process.kill(pid, signal);
  }

  /** True when pid is a live (non-zombie) process carrying this run's token. */
  owns(pid: number): boolean {
    return environHas(pid, TOKEN_VARIABLE, this.token);
  }

  /** Resolves once pid has exited and was reaped (no process, no zombie). */
  async gone(pid: number, timeout = 15_000): Promise<void> {
    await expect.poll(() => isGone(pid, this.token), { timeout, interval: 10, message: `pid ${pid} is still there\n${this.describe()}` }).toBe(true);
  }

  /**
   * Sends `signal` (default SIGHUP) to the generation that printed `from`
   * (a 'ready' event); resolves once its successor is ready and it drains.
   */
  async upgrade(from: AppEvent, signal: NodeJS.Signals = 'SIGHUP'): Promise<{ ready: AppEvent; draining: AppEvent }> {
    const mark = this.mark();
    this.signal(from.pid, signal);
    const ready = await this.nextAfter(mark, (e) => e.event === 'ready' && e.parentPid === from.pid);
    // From 'draining' on, the old generation accepts no connection.
    const draining = await this.nextAfter(mark, { event: 'draining', pid: from.pid });
    return { ready, draining };
  }

  /**
   * Resolves once the generation `old` has exited (code 0, after 'drained')
   * and is gone, and its successor `next` has seen it go — from then on
   * `next` accepts the next upgrade.
   */
  async retired(old: AppEvent, next: AppEvent): Promise<AppEvent> {
    const drained = await this.next({ event: 'drained', pid: old.pid });
    const exit = await this.next({ event: 'exit', pid: old.pid });
    expect(exit.code).toBe(0);
    await this.gone(old.pid);
    await this.next({ event: 'parent-exited', pid: next.pid });
    return drained;
  }

  /** Live processes carrying the token (the subreaper aside), whether an event named them or not. */
  scan(): number[] {
    return pidsWithEnv(TOKEN_VARIABLE, this.token).filter((pid) => pid !== this.#subreaper.pid);
  }

  /** Kills every process of the run and waits until each one is reaped. */
  async cleanup(): Promise<void> {
    fleets.delete(this);
    const all = new Set([...this.pids, ...this.scan()]);
    killWithEnv(all, TOKEN_VARIABLE, this.token);
    // The subreaper SIGKILLs the group, reaps every descendant, then exits.
    if (this.#subreaper.exitCode === null && this.#subreaper.signalCode === null) this.#subreaper.kill('SIGTERM');
    await this.#subreaperExit;
    this.#subreaper.stdout?.destroy();
    await expect
      .poll(() => [...all, ...this.scan()].filter((pid) => !isGone(pid, this.token)), { timeout: 10_000, interval: 20 })
      .toEqual([]);
  }
}

/** Cleans up every run not cleaned yet (for afterEach). */
export async function cleanupFleets(): Promise<void> {
  const errors: unknown[] = [];
  for (const fleet of [...fleets]) {
    try {
      await fleet.cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}


// Gone: no such process, or the pid was reused by a process that is not ours.
// A zombie has an unreadable environ, so it counts as still there.
function isGone(pid: number, token: string): boolean {
  const stat = procStat(pid);
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return !environHas(pid, TOKEN_VARIABLE, token);
}

/** Where to send a request. */
export type Target = { port: number; host?: string } | { socketPath: string };

/** A response, in full. */
export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * One HTTP/1.1 request. Default: a connection of its own (`agent: false`,
 * `Connection: close`); pass an agent to use keep-alive connections.
 */
export function get(target: Target, path = '/', options: { tls?: boolean; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolveGet, rejectGet) => {
    const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: target.host ?? '127.0.0.1', port: target.port };
    const request = options.tls ? https.request : http.request;
    const req = request({ ...where, path, agent: options.agent ?? false, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', rejectGet);
    });
    req.on('error', rejectGet);
    req.end();
  });
}

/** Parses a pid answer (the fixture's and the examples' bodies start with it). */
export function pidOf(reply: Reply): number {
  expect(reply.status, reply.body).toBe(200);
  const match = /\d+/.exec(reply.body);
  if (!match) throw new Error(`no pid in ${JSON.stringify(reply.body)}`);
  return Number(match[0]);
}
