import { isAbsolute, resolve } from 'node:path';
import { parseAddress, type ListenSpec, type PacketSpec } from '../protocol';
import { DEFAULT_DRAIN_RAMP, DEFAULT_DRAIN_TIMEOUT } from '../drain';
import { invalidType, invalidValue } from '../core';

/** How long a generation has to say READY=1 (as GracefulServer's upgradeTimeout). */
export const DEFAULT_READY_TIMEOUT = 60_000;
/**
 * How long a generation told to stop may take before its process group gets
 * SIGKILL, unless it said STOPPING=1 (it then drains by its own rules):
 * GracefulServer's own drain timeout, {@link DEFAULT_DRAIN_TIMEOUT}.
 */
export const DEFAULT_SUPERVISOR_DRAIN_TIMEOUT = DEFAULT_DRAIN_TIMEOUT;
/** How long old and new generation both accept after a reload: a GracefulServer's default drainRamp, the same overlap. */
export const DEFAULT_PROBATION = DEFAULT_DRAIN_RAMP;
/** First delay before restarting a crashed generation; doubles with each crash in a row. */
export const DEFAULT_RESTART_BACKOFF = 1_000;
/** Cap of the restart delay; a generation that served this long resets the delay. */
export const DEFAULT_RESTART_BACKOFF_MAX = 30_000;
/** Signals forwarded to the serving generation (SIGHUP reloads instead). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']);
/** Of those, the ones that stop the supervisor once the generations have exited. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT', 'SIGQUIT']);

/** When a generation that exited on its own is started again. */
export type RestartPolicy = 'on-failure' | 'always' | 'never';
/** How the supervisor learns that a generation serves. */
export type ReadyMode = 'notify' | 'exec';

/** Options of {@link Supervisor}. Durations are in milliseconds. */
export interface SupervisorOptions {
  /** The program to run: a path, or a name looked up in PATH at every start. */
  command: string;
  /** Its arguments (argv[1...]). */
  args?: string[];
  /** Addresses to bind once, for life: CLI forms (`8080`, `127.0.0.1:8080`, `[::1]:8080`, `unix:/path`, `udp:host:port`, `name=...`) or parsed specs. */
  listen?: (string | ListenSpec | PacketSpec)[];
  /** Adopt sockets passed with LISTEN_FDS (systemd socket activation). Default true. */
  inherit?: boolean;
  /** Written (atomically) with the supervisor's pid; removed on exit. */
  pidFile?: string;
  /** Default {@link DEFAULT_READY_TIMEOUT}. */
  readyTimeout?: number;
  /** Default {@link DEFAULT_SUPERVISOR_DRAIN_TIMEOUT}. */
  drainTimeout?: number;
  /** Default {@link DEFAULT_PROBATION}. */
  probation?: number;
  /** Default {@link DEFAULT_RESTART_BACKOFF}. */
  restartBackoff?: number;
  /** Default {@link DEFAULT_RESTART_BACKOFF_MAX}. */
  restartBackoffMax?: number;
  /** Default 'on-failure': a non-zero exit or a signal restarts; exit code 0 ends the supervisor. */
  restart?: RestartPolicy;
  /** 'notify' (default): READY=1 on NOTIFY_SOCKET. 'exec': ready once started (apps that cannot notify; reloads are then blind). */
  ready?: ReadyMode;
  /** Working directory of the generations. Default: the supervisor's at construction. */
  cwd?: string;
  /** Environment of the generations (protocol variables are added). Default: process.env. */
  env?: Record<string, string | undefined>;
  /** fds 0, 1 and 2 of the generations. Default: the supervisor's own (stdin: /dev/null when it is a terminal). */
  stdio?: [number, number, number];
  /** Install the process signal handlers (SIGHUP reloads, others are forwarded). Default true. */
  signals?: boolean;
  /** Become a child subreaper (Linux) so orphaned grandchildren come to us. Default true. */
  subreaper?: boolean;
  /** Reap zombie children nobody waits for (orphans). Default true (Linux). */
  reap?: boolean;
  /** One line per step. Default: `handover[PID]: ...` on stderr. */
  log?: ((line: string) => void) | false;
}

/** SupervisorOptions with defaults applied. */
export interface ResolvedOptions {
  command: string;
  args: string[];
  listen: (ListenSpec | PacketSpec)[];
  inherit: boolean;
  pidFile: string | undefined;
  readyTimeout: number;
  drainTimeout: number;
  probation: number;
  restartBackoff: number;
  restartBackoffMax: number;
  restart: RestartPolicy;
  ready: ReadyMode;
  cwd: string;
  env: Record<string, string | undefined> | undefined;
  stdio: [number, number, number] | undefined;
  signals: boolean;
  subreaper: boolean;
  reap: boolean;
  log: (line: string) => void;
}

const KNOWN = new Set([
  'command', 'args', 'listen', 'inherit', 'pidFile', 'readyTimeout', 'drainTimeout', 'probation', 'restartBackoff',
  'restartBackoffMax', 'restart', 'ready', 'cwd', 'env', 'stdio', 'signals', 'subreaper', 'reap', 'log',
]);

function ms(name: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || value > 2 ** 31 - 1) {
    invalidValue(`options.${name}`, `must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds (at most 2^31-1)`, value);
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalidType(`options.${name}`, 'of type boolean', value);
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) invalidValue(`options.${name}`, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  return value as T;
}

function defaultLog(line: string): void {
  process.stderr.write(`handover[${process.pid}]: ${line}\n`);
}

/** Validates {@link SupervisorOptions}; every message names the option and echoes the value. */
export function resolveOptions(options: SupervisorOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') invalidType('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) invalidValue('options', `has an unknown option "${key}" (known: ${[...KNOWN].join(', ')})`, options);
  }
  if (typeof options.command !== 'string' || options.command === '' || options.command.includes('\0')) {
    invalidType('options.command', 'a non-empty string', options.command);
  }
  const args = options.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0'))) invalidType('options.args', 'an array of strings', args);
  const listenIn = options.listen ?? [];
  if (!Array.isArray(listenIn)) invalidType('options.listen', 'an array of addresses', listenIn);
  const listen = listenIn.map((entry, i) => {
    if (typeof entry === 'string') return parseAddress(entry);
    if (entry !== null && typeof entry === 'object' && ['tcp', 'unix', 'udp'].includes((entry as { kind?: string }).kind ?? '')) return entry;
    return invalidType(`options.listen[${i}]`, 'an address string or a parsed address', entry);
  });
  const cwd = options.cwd ?? process.cwd();
  if (typeof cwd !== 'string' || cwd === '') invalidType('options.cwd', 'a non-empty string', cwd);
  let pidFile: string | undefined;
  if (options.pidFile !== undefined) {
    if (typeof options.pidFile !== 'string' || options.pidFile === '') invalidType('options.pidFile', 'a non-empty string', options.pidFile);
    pidFile = isAbsolute(options.pidFile) ? options.pidFile : resolve(cwd, options.pidFile);
  }
  if (options.env !== undefined && (options.env === null || typeof options.env !== 'object' || Array.isArray(options.env))) {
    invalidType('options.env', 'an object of strings', options.env);
  }
  if (options.stdio !== undefined && (!Array.isArray(options.stdio) || options.stdio.length !== 3 || options.stdio.some((fd) => !Number.isInteger(fd) || fd < 0))) {
    invalidType('options.stdio', 'an array of three file descriptors', options.stdio);
  }
  if (options.log !== undefined && options.log !== false && typeof options.log !== 'function') invalidType('options.log', 'a function or false', options.log);
  const restartBackoff = ms('restartBackoff', options.restartBackoff, DEFAULT_RESTART_BACKOFF, true);
  const restartBackoffMax = ms('restartBackoffMax', options.restartBackoffMax, Math.max(DEFAULT_RESTART_BACKOFF_MAX, restartBackoff), true);
  if (restartBackoffMax < restartBackoff) invalidValue('options.restartBackoffMax', `must not be below restartBackoff (${restartBackoff})`, restartBackoffMax);
  return {
    command: options.command,
    args: [...args],
    listen,
    inherit: bool('inherit', options.inherit, true),
    pidFile,
    readyTimeout: ms('readyTimeout', options.readyTimeout, DEFAULT_READY_TIMEOUT, false),
    drainTimeout: ms('drainTimeout', options.drainTimeout, DEFAULT_SUPERVISOR_DRAIN_TIMEOUT, true),
    probation: ms('probation', options.probation, DEFAULT_PROBATION, true),
    restartBackoff,
    restartBackoffMax,
    restart: oneOf('restart', options.restart, ['on-failure', 'always', 'never'] as const, 'on-failure'),
    ready: oneOf('ready', options.ready, ['notify', 'exec'] as const, 'notify'),
    cwd,
    env: options.env,
    stdio: options.stdio === undefined ? undefined : [...options.stdio],
    signals: bool('signals', options.signals, true),
    subreaper: bool('subreaper', options.subreaper, true),
    reap: bool('reap', options.reap, true),
    log: options.log === false ? () => {} : options.log ?? defaultLog,
  };
}
