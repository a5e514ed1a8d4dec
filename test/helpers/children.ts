// Every process a test starts is tracked here and, if still around when the
// test ends, killed and reaped: no orphans, no zombies between tests.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { forkExecWithFds, signalName, waitPid, type ExitStatus, type ForkExecAttributes } from '../../lib/index';
import { fixtureBinary, fixtureDir } from './compile';
import { isRunning, procStat } from './proc';

/** The compiled package, for child processes and workers that cannot load TypeScript. */
export const DIST = resolve(__dirname, '../../dist/index.js');

/** test/fixtures/driver.js: forkExecWithFds from a Node process of its own. */
export const DRIVER = resolve(__dirname, '../fixtures/driver.js');

const ours = new Set<number>();
const theirs = new Map<ChildProcess, NodeJS.Signals>();
const dirs: string[] = [];

/** forkExecWithFds, remembering the pid so that {@link cleanup} can reap it. */
export function start(path: string, argv: string[], attr?: ForkExecAttributes): number {
  const pid = forkExecWithFds(path, argv, attr);
  ours.add(pid);
  return pid;
}

/** Marks a pid started some other way (e.g. in a worker) as ours to clean up. */
export function adopt(pid: number): void {
  ours.add(pid);
}

/** Waits for one of our children and marks it reaped. */
export async function reap(pid: number): Promise<ExitStatus> {
  const status = await waitPid(pid);
  ours.delete(pid);
  return status;
}

/** child_process.spawn, remembering the child so that {@link cleanup} can stop it with `killSignal`. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}, killSignal: NodeJS.Signals = 'SIGKILL'): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  theirs.set(child, killSignal);
  child.once('exit', () => theirs.delete(child));
  return child;
}

/** A Node process (process.execPath), tracked. */
export function spawnNode(args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawnTracked(process.execPath, args, options);
}

/**
 * Runs `command` under test/fixtures/subreaper.c, which adopts and reaps what
 * the command orphans: use it when a test makes a process exit on purpose
 * while its children live. Its stdout carries the command's output and then
 * `{"exited": {code, signal}}` for the command; it exits when every
 * descendant is gone. Cleanup SIGTERMs it, which kills the whole tree.
 */
export function spawnUnderSubreaper(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawnTracked(fixtureBinary('subreaper'), [command, ...args], options, 'SIGTERM');
}

/** The `exited` line of a subreaper, with the signal number turned into a name. */
export function subreaperExit(line: Record<string, unknown>): ExitStatus {
  const exited = line.exited as { code: number | null; signal: number | null };
  return { code: exited.code, signal: exited.signal === null ? null : signalName(exited.signal) };
}

/** Reads a child's stdout as JSON lines, one at a time. */
export class JsonLines {
  private buffer = '';
  private readonly queue: Record<string, unknown>[] = [];
  private waiting: ((line: Record<string, unknown> | null) => void) | undefined;
  private ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (line.startsWith('{')) this.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    stream.on('end', () => {
      this.ended = true;
      this.waiting?.(null);
      this.waiting = undefined;
    });
  }

  private push(line: Record<string, unknown>): void {
    if (this.waiting) {
      this.waiting(line);
      this.waiting = undefined;
    } else {
      this.queue.push(line);
    }
  }

  /** The next line, or an error when the stream ends first. */
  async next(): Promise<Record<string, unknown>> {
    const line = this.queue.shift() ?? (this.ended ? null : await new Promise<Record<string, unknown> | null>((resolve) => (this.waiting = resolve)));
    if (line === null) throw new Error('the stream ended before the next JSON line');
    return line;
  }
}

/** Collects a child_process child's stdout and stderr and waits for it to end. */
export async function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const [code, signal] = await closed;
  return { code, signal, stdout, stderr };
}

/** What driver.js is told to do. */
export interface DriverConfig {
  spawns: { path: string; argv: string[]; attr?: ForkExecAttributes }[];
  mode?: 'wait' | 'unref' | 'exit';
  out?: string;
}

/** The arguments that run driver.js with `config` (it loads the compiled package, dist/). */
export function driverArgs(config: DriverConfig): string[] {
  return [DRIVER, DIST, JSON.stringify(config)];
}

/** Starts driver.js with `config`. */
export function startDriver(config: DriverConfig, options: SpawnOptions = {}): ChildProcess {
  return spawnNode(driverArgs(config), options);
}

/** The JSON lines in a text. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** True while pid is our child and not yet reaped (so its pid cannot have been reused). */
export function isUnreapedChild(pid: number): boolean {
  return procStat(pid)?.ppid === process.pid;
}

/**
 * Kills a process that is not our child, after checking from its command name
 * that it is still the one we expect rather than a reused pid.
 */
export function killStray(pid: number, comm: string): void {
  let name: string;
  try {
    name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return;
  }
  if (name === comm && isRunning(pid)) process.kill(pid, 'SIGKILL');
}

/** Kills and reaps every tracked child still around. */
export async function cleanup(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const pid of ours) {
    if (isUnreapedChild(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile; waitPid still reaps it.
      }
      waits.push(waitPid(pid).catch(() => undefined));
    }
  }
  ours.clear();
  for (const [child, signal] of theirs) {
    if (child.exitCode === null && child.signalCode === null) {
      waits.push(once(child, 'exit'));
      child.kill(signal);
    }
  }
  await Promise.all(waits);
}

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'handover-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Removes the temporary directories of this process. */
export function removeTempDirs(): void {
  const fixtures = fixtureDir();
  for (const dir of [...dirs.splice(0), ...(fixtures ? [fixtures] : [])]) rmSync(dir, { recursive: true, force: true });
}

/**
 * `promise`, or a rejection explaining `what` if it has not settled after
 * `ms`. Not a synchronisation: a bound that turns a hang into a readable
 * failure well before the test's own timeout. `detail` runs at that moment.
 */
export async function within<T>(ms: number, promise: Promise<T>, what: string, detail: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)${detail() ? `: ${detail()}` : ''}`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}
