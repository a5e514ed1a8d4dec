// Driving `handover run` (bin/handover.js) in tests: its log lines (stderr)
// and the JSON lines its generations write (stdout, shared), waited on —
// never slept on — and, after each test, every process of the run stopped
// and gone. Each run puts a random token in the supervisor's environment;
// every generation and grandchild inherits it, so /proc/PID/environ finds
// them all, reparented or not.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import { tempDir } from './children';
import { pidsWithEnv, procStat } from './proc';
import { matcher } from './match';

export const BIN = resolve(__dirname, '../../bin/handover.js');
export const APP = resolve(__dirname, '../fixtures/supervised-app.js');
export const PY_APP = resolve(__dirname, '../fixtures/supervised-http.py');
export const SH_APP = resolve(__dirname, '../fixtures/supervised-notify.sh');

const TOKEN = 'HANDOVER_SUPERVISOR_TEST';
const WAIT_MS = 20_000;

/** One JSON line of a generation. */
export interface AppEvent {
  event: string;
  pid: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

interface Waiter {
  check: () => boolean;
}

const runs = new Set<SupervisorRun>();

/** One `handover ...` process and everything it started. */
export class SupervisorRun {
  readonly token = randomBytes(8).toString('hex');
  readonly logs: string[] = [];
  readonly events: AppEvent[] = [];
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<Waiter>();
  #exited = false;

  /** `command args...` (default: node bin/handover.js args...) with the token in its environment. */
  constructor(args: string[], options: SpawnOptions & { env?: Record<string, string | undefined>; command?: string } = {}) {
    const env: Record<string, string | undefined> = { ...process.env, [TOKEN]: this.token, ...options.env };
    for (const name of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET']) if (!(options.env && name in options.env)) delete env[name];
    const command = options.command ?? process.execPath;
    const argv = options.command ? args : [BIN, ...args];
    this.child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options, env });
    runs.add(this);
    this.exit = new Promise((resolveExit) =>
      this.child.once('exit', (code, signal) => {
        this.#exited = true;
        resolveExit({ code, signal });
        this.#poke();
      }),
    );
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.logs.push(line);
      this.#poke();
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as AppEvent);
      } catch {
        this.logs.push(`[stdout] ${line}`);
      }
      this.#poke();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  #poke(): void {
    for (const waiter of [...this.#waiters]) if (waiter.check()) this.#waiters.delete(waiter);
  }

  #wait<T>(what: string, find: () => T | undefined, timeout = WAIT_MS): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolveWait, rejectWait) => {
      const waiter: Waiter = {
        check: () => {
          const value = find();
          if (value !== undefined) {
            clearTimeout(timer);
            resolveWait(value);
            return true;
          }
          if (this.#exited) {
            clearTimeout(timer);
            // Lines may still be in flight when the exit event comes: one last look.
            setImmediate(() => {
              const late = find();
              if (late !== undefined) resolveWait(late);
              else rejectWait(new Error(`the supervisor exited while waiting for ${what}\n${this.transcript()}`));
            });
            return true;
          }
          return false;
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        rejectWait(new Error(`timed out after ${timeout} ms waiting for ${what}\n${this.transcript()}`));
      }, timeout);
      this.#waiters.add(waiter);
    });
  }

  /** The first log line from index `from` on that matches `re`; resolves with its match. */
  log(re: RegExp, from = 0, timeout?: number): Promise<RegExpExecArray> {
    return this.#wait(
      `a log line matching ${re}`,
      () => {
        for (let i = from; i < this.logs.length; i++) {
          const m = re.exec(this.logs[i]);
          if (m) return m;
        }
        return undefined;
      },
      timeout,
    );
  }

  /** Every log line matching `re`. */
  logsMatching(re: RegExp): string[] {
    return this.logs.filter((line) => re.test(line));
  }

  /** The first generation event from index `from` on that has every field of `match`. */
  event(match: Partial<AppEvent>, from = 0): Promise<AppEvent> {
    return this.#wait(`an event ${JSON.stringify(match)}`, () => this.events.slice(from).find(matcher(match)));
  }

  /** The port of the first `listening on HOST:PORT` line. */
  async port(): Promise<number> {
    const m = await this.log(/listening on (?:\[[^\]]+\]|[0-9.]+):([0-9]+)/);
    return Number(m[1]);
  }

  /** Waits for `generation N started: pid P` and returns P. */
  async generationPid(n: number): Promise<number> {
    const m = await this.log(new RegExp(`generation ${n} started: pid ([0-9]+)`));
    return Number(m[1]);
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal);
  }

  transcript(): string {
    return `--- log:\n${this.logs.join('\n')}\n--- events:\n${this.events.map((e) => JSON.stringify(e)).join('\n')}`;
  }

  /** Pids of live processes carrying this run's token (the supervisor, its generations, their children). */
  processes(): number[] {
    return pidsWithEnv(TOKEN, this.token).filter((pid) => {
      const state = procState(pid);
      return state !== null && state !== 'Z';
    });
  }

  /** Stops the run: SIGTERM, then SIGKILL to whatever carries the token; waits until nothing does. */
  async cleanup(): Promise<void> {
    runs.delete(this);
    if (!this.#exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exit;
      clearTimeout(timer);
    }
    for (const pid of this.processes()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await expect.poll(() => this.processes(), { timeout: 10_000 }).toEqual([]);
  }
}

/** Stops every run started since the last call. */
export async function cleanupSupervisors(): Promise<void> {
  await Promise.all([...runs].map((run) => run.cleanup()));
}

/** The state letter of /proc/PID/stat (R, S, Z...), or null. */
export function procState(pid: number): string | null {
  return procStat(pid)?.state ?? null;
}

/** ppid of a process, or null. */
export function parentOf(pid: number): number | null {
  return procStat(pid)?.ppid ?? null;
}

/** GET http://127.0.0.1:port/path on a fresh connection: status, body and the X-Pid header. */
export function get(port: number, path = '/'): Promise<{ status: number; body: string; pid: number }> {
  return new Promise((resolveGet, rejectGet) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body, pid: Number(res.headers['x-pid']) }));
      res.on('error', rejectGet);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', rejectGet);
    req.end();
  });
}

/** The file every new generation of supervised-app.js reads its behaviour from. */
export function modeFile(initial: string): { path: string; set(mode: string): void } {
  const path = join(tempDir('handover-supervisor-'), 'mode');
  writeFileSync(path, initial);
  return { path, set: (mode) => writeFileSync(path, mode) };
}

/** `handover run --listen 127.0.0.1:0 ARGS -- node supervised-app.js` in `mode`; `run.mode.set()` deploys another. */
export function supervise(args: string[], mode: string, env: Record<string, string> = {}): SupervisorRun & { mode: { path: string; set(mode: string): void } } {
  const file = modeFile(mode);
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', ...args, '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: file.path, ...env } });
  return Object.assign(run, { mode: file });
}

/** The pid of generation `n` once the supervisor logs it ready (first start or reload), from log line `from` on. */
export async function readyPid(run: SupervisorRun, n: number, from = 0): Promise<number> {
  const m = await run.log(new RegExp(`(?:generation ${n} \\(pid ([0-9]+)\\) is ready after|reloaded: generation ${n} \\(pid ([0-9]+)\\) serves)`), from);
  return Number(m[1] ?? m[2]);
}
