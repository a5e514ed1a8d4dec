// Driving server generations (test/fixtures/upgrader-app.js and friends):
// start the first one, read the JSON events every generation writes on the
// shared stdout, send signals, and — after each test — kill every process the
// run ever saw and check that none is left, zombies included.
//
// Only the first generation is a child of the test process; later ones are
// children of their predecessor, then orphans. So each run puts a random token
// in the environment of its first process: every generation (and every
// grandchild) inherits it, and /proc/PID/environ finds them all, tracked or not.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import { forkExecWithFds, waitPid, type ExitStatus } from '../../lib/index';
import { makePipe } from './fds';
import { environHas, killWithEnv, pidsWithEnv, procStat, zombieChildren } from './proc';
import { matcher, type Match as MatchOf } from './match';

/** The compiled package: fixtures are plain JavaScript and load dist/ (or HANDOVER_TEST_DIST, to try another build). */
export const DIST = process.env.HANDOVER_TEST_DIST ?? resolve(__dirname, '../../dist/index.js');
/** The server generation fixture. */
export const APP = resolve(__dirname, '../fixtures/upgrader-app.js');
/** A gitignored scratch directory outside os.tmpdir() (scripts there draw no warning). */
export const SCRATCH = resolve(__dirname, '../.tmp-upgrader');

const TOKEN_VARIABLE = 'HANDOVER_TEST_RUN';

/** One JSON line of a generation. */
export interface GenEvent {
  event: string;
  gen: number;
  pid: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

/** What upgrader-app.js reads from FIXTURE. */
export interface FixtureConfig {
  dist?: string;
  listen?: unknown[];
  listenByGen?: Record<number, unknown[]>;
  /** Mode by generation ('2') or by attempt at a generation ('2.1'). */
  modes?: Record<string, string>;
  upgradeTimeout?: number;
  pidFile?: string;
  logFile?: string;
  files?: string[];
  lingerMs?: number;
  log?: boolean;
  chdir?: string;
  grandchild?: boolean;
  notifyStopping?: boolean;
  closeOnStop?: boolean;
}

type Match = MatchOf<GenEvent>;

const runs = new Set<Run>();

/** One test's processes: the first generation and everything that followed. */
export class Run {
  readonly token = randomBytes(8).toString('hex');
  readonly events: GenEvent[] = [];
  /** Every pid seen: writers of events, and children they reported. */
  readonly pids = new Set<number>();
  /** The first process's pid (ours to reap). */
  firstPid = 0;
  /** Resolves when the first process has exited and was reaped. */
  firstExit!: Promise<ExitStatus>;
  stderr = '';
  #waiters: { test: (e: GenEvent) => boolean; resolve: (e: GenEvent) => void }[] = [];
  #ended = false;
  #onEnd: (() => void)[] = [];
  #child: ChildProcess | undefined;

  constructor() {
    runs.add(this);
  }

  /** The environment of the first process: ours, the token, FIXTURE, and `extra`. */
  env(config: FixtureConfig | undefined, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    const env: Record<string, string | undefined> = { ...process.env, [TOKEN_VARIABLE]: this.token, FIXTURE_GEN: undefined, ...extra };
    if (config !== undefined) env.FIXTURE = JSON.stringify({ dist: DIST, ...config });
    for (const name of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'HANDOVER_PARENT_PID', 'HANDOVER_NOTIFY_SOCKET']) {
      if (!(name in extra)) delete env[name];
    }
    return env;
  }

  /** Starts `command args` with child_process (stdout and stderr piped to us). */
  spawn(command: string, args: string[], options: { env: Record<string, string | undefined>; cwd?: string }): this {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    this.firstPid = child.pid;
    this.pids.add(child.pid);
    this.firstExit = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.#read(child.stdout!);
    return this;
  }

  /** Starts node with the fixture (`node [execArgv] script`), configured by `config`. */
  start(config: FixtureConfig = {}, options: { script?: string; execArgv?: string[]; cwd?: string; env?: Record<string, string | undefined>; node?: string } = {}): this {
    return this.spawn(options.node ?? process.execPath, [...(options.execArgv ?? []), options.script ?? APP], { env: this.env(config, options.env), cwd: options.cwd });
  }

  /**
   * Starts the fixture with forkExecWithFds: `extraFiles` become fds 3, 4, …
   * (LISTEN_FDS & co. are the caller's, in `env`; listenPid puts the child's
   * own pid in LISTEN_PID). Stdout is a FIFO read here; stderr is ours.
   */
  forkExec(config: FixtureConfig, extraFiles: number[], options: { env?: Record<string, string | undefined>; listenPid?: boolean; script?: string } = {}): this {
    const dir = scratchDir('fifo-');
    const pipe = makePipe(dir);
    let pid: number;
    try {
      pid = forkExecWithFds(process.execPath, [process.execPath, options.script ?? APP], {
        env: this.env(config, options.env),
        files: [0, pipe.write, 2, ...extraFiles],
        listenPid: options.listenPid ?? true,
      });
    } finally {
      closeSync(pipe.write);
    }
    this.firstPid = pid;
    this.pids.add(pid);
    this.firstExit = waitPid(pid);
    this.#read(new Socket({ fd: pipe.read, readable: true, writable: false }));
    return this;
  }

  #read(stream: NodeJS.ReadableStream): void {
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      let event: GenEvent;
      try {
        event = JSON.parse(line) as GenEvent;
      } catch {
        this.stderr += `[stdout] ${line}\n`;
        return;
      }
      this.events.push(event);
      this.pids.add(event.pid);
      if (event.event === 'spawned' && typeof event.child === 'number') this.pids.add(event.child);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(event)) return true;
        w.resolve(event);
        return false;
      });
    });
    lines.on('close', () => {
      this.#ended = true;
      for (const f of this.#onEnd.splice(0)) f();
    });
  }

  /** The first event matching, past or future; rejects after `timeout` ms or when every writer is gone. */
  next(match: Match, timeout = 20_000): Promise<GenEvent> {
    const test = matcher(match);
    const found = this.events.find(test);
    if (found) return Promise.resolve(found);
    return new Promise<GenEvent>((resolveEvent, rejectEvent) => {
      const fail = (why: string) => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        rejectEvent(new Error(`${why} waiting for ${typeof match === 'function' ? match.toString() : JSON.stringify(match)}\nevents:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}\nstderr:\n${this.stderr}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeout} ms`), timeout);
      const done = (e: GenEvent) => {
        clearTimeout(timer);
        resolveEvent(e);
      };
      this.#waiters.push({ test, resolve: done });
      const onEnd = () => {
        clearTimeout(timer);
        fail('stdout closed (every generation exited)');
      };
      if (this.#ended) onEnd();
      else this.#onEnd.push(onEnd);
    });
  }

  /** Every event matching so far. */
  all(match: Match): GenEvent[] {
    return this.events.filter(matcher(match));
  }

  /** Resolves when stdout has closed: every process holding it has exited. */
  ended(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return new Promise((r) => this.#onEnd.push(r));
  }

  /** Sends `signal` to pid, after checking that pid is still one of this run's processes. */
  signal(pid: number, signal: NodeJS.Signals): void {
    if (!this.owns(pid)) throw new Error(`pid ${pid} is not a live process of this run`);
    process.kill(pid, signal);
  }

  /** True when pid is a live (non-zombie) process carrying this run's token. */
  owns(pid: number): boolean {
    return environHas(pid, TOKEN_VARIABLE, this.token);
  }

  /** Live processes carrying the token, tracked or not. */
  scan(): number[] {
    return pidsWithEnv(TOKEN_VARIABLE, this.token);
  }

  /** Kills everything of this run, reaps the first process, and waits until no process of it (zombie or not) is left. */
  async cleanup(): Promise<void> {
    runs.delete(this);
    const all = new Set([...this.pids, ...this.scan()]);
    killWithEnv(all, TOKEN_VARIABLE, this.token);
    if (this.firstPid) await this.firstExit.catch(() => undefined);
    if (this.#child) this.#child.stdout?.destroy();
    // Gone: no process of the run runs any more, and no zombie of it waits
    // for a parent of the run. (A dead orphan's zombie belongs to init, which
    // reaps it in its own time: up to ~2 s in this sandbox.)
    const left = () => [...all].filter((pid) => {
      const stat = procState(pid);
      if (stat === null) return false;
      if (stat.state === 'Z') return stat.ppid !== 1;
      return environHas(pid, TOKEN_VARIABLE, this.token);
    });
    await expect.poll(() => [...new Set([...left(), ...this.scan()])], { timeout: 10_000, interval: 10 }).toEqual([]);
  }
}

/** Cleans up every run not cleaned yet (for afterEach). */
export async function cleanupRuns(): Promise<void> {
  const errors: unknown[] = [];
  for (const run of [...runs]) {
    try {
      await run.cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}


/** State of pid from /proc/PID/stat, or null when there is no such process. */
export function procState(pid: number): { state: string; ppid: number } | null {
  const stat = procStat(pid);
  return stat === null ? null : { state: stat.state, ppid: stat.ppid };
}

/** Zombies whose parent is `parent`. */
export const zombiesOf = zombieChildren;

/** A fresh directory under test/.tmp-upgrader (gitignored), removed by {@link removeScratch}. */
export function scratchDir(prefix: string): string {
  const dir = join(SCRATCH, `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  scratch.push(dir);
  return dir;
}

const scratch: string[] = [];

export function removeScratch(): void {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** One HTTP request on a fresh connection; the parsed JSON body. */
export function httpGet(target: { port: number; host?: string } | { socketPath: string }, path = '/'): Promise<{ pid: number; gen: number; release?: string | null }> {
  return new Promise((resolveGet, rejectGet) => {
    const options = 'socketPath' in target ? { socketPath: target.socketPath, path } : { host: target.host ?? '127.0.0.1', port: target.port, path };
    const req = request({ ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolveGet(JSON.parse(body));
        } catch (err) {
          rejectGet(err);
        }
      });
      res.on('error', rejectGet);
    });
    req.on('error', rejectGet);
    req.end();
  });
}

/** One UDP round trip. */
export function udpEcho(port: number, host = '127.0.0.1', type: 'udp4' | 'udp6' = 'udp4'): Promise<{ pid: number; gen: number; echo: string }> {
  return new Promise((resolveEcho, rejectEcho) => {
    const socket = createSocket(type);
    socket.on('error', rejectEcho);
    socket.on('message', (msg) => {
      socket.close();
      resolveEcho(JSON.parse(msg.toString()));
    });
    socket.send('ping', port, host);
  });
}
