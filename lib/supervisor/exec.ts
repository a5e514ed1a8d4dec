import { accessSync, constants as fsConstants, fstatSync, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { HandoverError, signalNumber, systemError } from '../core';
import { SUPERVISOR_PID_ENV } from '../protocol';
import { CHECK_STATE_FD_ENV, STATE_FD_ENV } from './image-state';
import { type ExitStatus, forkExecWithFds } from '../native';
import type { SupervisorListener } from './listeners';
import type { ResolvedOptions } from './options';

// Variables of the protocol between generations that must not leak from the
// supervisor's own environment into a generation's.
const PROTOCOL_VARIABLES = ['LISTEN_FDS', 'LISTEN_FDNAMES', 'LISTEN_PID', 'NOTIFY_SOCKET', 'HANDOVER_PARENT_PID', 'HANDOVER_NOTIFY_SOCKET', 'HANDOVER_WORKER_ID', 'HANDOVER_WORKERS', 'NODE_APP_INSTANCE', 'FDSTORE', SUPERVISOR_PID_ENV, STATE_FD_ENV, CHECK_STATE_FD_ENV];

/** A generation's worker slot: its id (0...N-1) and how many slots there are. */
export interface WorkerSlot {
  slot: number;
  workers: number;
}

/**
 * A generation's environment: `base` without any protocol variable of the
 * supervisor's own, plus LISTEN_FDS and LISTEN_FDNAMES for `names` (when
 * there are any; forkExecWithFds adds LISTEN_PID), NOTIFY_SOCKET, and this
 * process's pid as HANDOVER_SUPERVISOR_PID.
 */
export function generationEnv(base: Record<string, string | undefined>, names: readonly string[], notifySocket: string | undefined, worker: WorkerSlot = { slot: 0, workers: 1 }): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base };
  for (const name of PROTOCOL_VARIABLES) delete env[name];
  // pm2's NODE_APP_INSTANCE (which the config package reads) and ours.
  env.HANDOVER_WORKER_ID = String(worker.slot);
  env.NODE_APP_INSTANCE = String(worker.slot);
  env.HANDOVER_WORKERS = String(worker.workers);
  // Several processes accept on one socket: libuv then accepts one connection
  // at a time and yields between them, so that a burst is not taken by
  // whichever worker wakes first (bench/workers.js measures the difference).
  if (worker.workers > 1 && base.UV_TCP_SINGLE_ACCEPT === undefined) env.UV_TCP_SINGLE_ACCEPT = '1';
  if (names.length > 0) {
    env.LISTEN_FDS = String(names.length);
    env.LISTEN_FDNAMES = names.join(':');
  }
  if (notifySocket !== undefined) env.NOTIFY_SOCKET = notifySocket;
  env[SUPERVISOR_PID_ENV] = String(process.pid);
  return env;
}

/** The shell's convention: the exit code, or 128 + the signal number. */
export function exitCode(status: ExitStatus | undefined): number {
  if (status === undefined) return 0;
  if (status.signal !== null) return 128 + (signalNumber(status.signal) ?? 0);
  return status.code ?? 1;
}

/**
 * The supervisor's exit code when the first generation failed: the exec
 * error's (127, 126), the app's status when it exited first (never 0: it
 * failed), else 1.
 */
export function startFailureCode(err: HandoverError): number {
  const e = err as HandoverError & { exitCode?: number | null; signal?: NodeJS.Signals | null };
  if (err.code === 'ERR_EXEC') return e.exitCode ?? 1;
  if (err.code === 'ERR_CHILD_EXITED') {
    const code = exitCode({ code: e.exitCode ?? null, signal: e.signal ?? null });
    return code === 0 ? 1 : code;
  }
  return 1;
}

/** As shells report it: 127 not found, 126 found but not executable. */
export function execExitCode(err: unknown): number {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 127;
  if (code === 'EACCES' || code === 'ENOEXEC' || code === 'EISDIR' || code === 'EPERM') return 126;
  return 1;
}

/**
 * The file to execute for `command`: as given when it holds a '/', else the
 * first executable match in PATH (looked up at every start, so a deployment
 * that changes PATH's target is picked up). Throws ENOENT like Node's spawn.
 */
export function resolveCommand(command: string, cwd: string, pathVariable: string | undefined): string {
  if (command.includes('/')) return command;
  for (const dir of (pathVariable ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = resolve(cwd, dir || '.', command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw systemError(-(osConstants.errno as Record<string, number>).ENOENT, 'execvp', command);
}

/**
 * fds 0-2 for the generations: the supervisor's own, except that a terminal
 * is not handed on as stdin (a generation in its own process group reading
 * it would be stopped by SIGTTIN) and a closed one is replaced by /dev/null.
 * Opened fds are pushed onto `opened`, for the caller to close at exit.
 */
export function stdioTable(opened: number[]): number[] {
  return [0, 1, 2].map((fd) => {
    let open = true;
    try {
      fstatSync(fd);
    } catch {
      open = false;
    }
    if (open && !(fd === 0 && isatty(0))) return fd;
    const devNull = openSync('/dev/null', fd === 0 ? 'r' : 'w');
    opened.push(devNull);
    return devNull;
  });
}

/**
 * Starts generation `number` of the supervised command: its stdio, then
 * the listeners as fds 3... with LISTEN_FDS, LISTEN_FDNAMES and its own
 * LISTEN_PID, and `notifySocket` as NOTIFY_SOCKET. In a process group of
 * its own (the terminal's Ctrl-C reaches only the supervisor, which
 * forwards it once; a SIGKILL to the group reaches everything it started),
 * and told to drain (SIGTERM) should the supervisor die. Returns the pid;
 * throws ERR_EXEC with the exit code a shell would give (127, 126).
 */
export function startGeneration(
  o: ResolvedOptions,
  number: number,
  stdio: readonly number[],
  listeners: readonly SupervisorListener[],
  notifySocket: string | undefined,
  worker?: WorkerSlot,
): number {
  try {
    const path = resolveCommand(o.command, o.cwd, (o.env ?? process.env).PATH);
    return forkExecWithFds(path, [o.command, ...o.args], {
      cwd: o.cwd,
      env: { ...generationEnv(o.env ?? process.env, listeners.map((l) => l.name), notifySocket, worker), ...(o.compileCache !== undefined && { NODE_COMPILE_CACHE: o.compileCache }) },
      files: [...stdio, ...listeners.map((l) => l.fd)],
      listenPid: listeners.length > 0,
      setpgid: true,
      pdeathsig: process.platform === 'linux' ? 'SIGTERM' : undefined,
    });
  } catch (err) {
    throw new HandoverError('ERR_EXEC', `cannot start generation ${number}: ${(err as Error).message}`, { cause: err, exitCode: execExitCode(err) });
  }
}

/**
 * Why a first generation exited before it was ready, when there is a likely
 * reason: an app that fails under listeners it was handed has most likely
 * bound one of their addresses itself (EADDRINUSE: handover holds it).
 */
export function exitHint(status: ExitStatus, listeners: readonly SupervisorListener[]): string {
  if (status.code === null || status.code === 0) return '';
  const stream = listeners.find((l) => l.kind === 'stream');
  if (stream === undefined) return '';
  return `. If it failed with EADDRINUSE, it bound ${stream.text} itself, which handover holds: the app must adopt the socket passed as fd 3 (LISTEN_FDS), as handover's listenAndServe and GracefulServer do`;
}
