import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { checkCompileCache, compileCacheFor, parseAddress, type ListenSpec, type PacketSpec } from '../protocol';
import { DEFAULT_DRAIN_RAMP, DEFAULT_DRAIN_TIMEOUT } from '../drain';
import { invalidType, invalidValue } from '../core';
import { makeLog, type Log, type LogFormat } from './log';

/** How long a generation has to say READY=1 (as GracefulServer's upgradeTimeout). */
export const DEFAULT_READY_TIMEOUT = 60_000;
/**
 * How long a generation told to stop may take before its process group gets
 * SIGKILL, unless it said STOPPING=1 (it then drains by its own rules):
 * GracefulServer's own drain timeout, {@link DEFAULT_DRAIN_TIMEOUT}.
 */
export const DEFAULT_SUPERVISOR_DRAIN_TIMEOUT = DEFAULT_DRAIN_TIMEOUT;
/**
 * A generation that said STOPPING=1 drains by its own rules past the drain
 * timeout, but not forever: it gets SIGKILL (its process group) at this many
 * times the drain timeout after it was told to stop.
 */
export const STOPPING_KILL_FACTOR = 4;
/** How long old and new generation both accept after a reload: a GracefulServer's default drainRamp, the same overlap. */
export const DEFAULT_PROBATION = DEFAULT_DRAIN_RAMP;
/** First delay before restarting a crashed generation; doubles with each crash in a row. */
export const DEFAULT_RESTART_BACKOFF = 1_000;
/** Cap of the restart delay; a generation that served this long resets the delay. */
export const DEFAULT_RESTART_BACKOFF_MAX = 30_000;
/** Worker slots: one process serving, as without workers. */
export const DEFAULT_WORKERS = 1;
/** Slots replaced at once in a rolling reload. */
export const DEFAULT_RELOAD_PARALLEL = 1;
/** Most a recycled worker's limit moves, as a fraction (gunicorn's max_requests_jitter): workers do not recycle together. */
export const RECYCLE_JITTER = 0.1;
/** How often --max-memory is checked. */
export const MEMORY_CHECK_INTERVAL = 5_000;

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
  /**
   * Worker slots, each running one replaceable process with the same
   * listeners (`HANDOVER_WORKER_ID` and `NODE_APP_INSTANCE` = 0...N-1), or
   * 'auto' for os.availableParallelism(). Default {@link DEFAULT_WORKERS}.
   */
  workers?: number | 'auto';
  /** Slots replaced at once by a rolling reload. Default {@link DEFAULT_RELOAD_PARALLEL}. */
  reloadParallel?: number;
  /** Bytes of RSS (the worker's process group) past which a worker is replaced, as by a reload step. Linux. */
  maxMemory?: number;
  /** ms after which a worker is replaced, as by a reload step. */
  maxLifetime?: number;
  /** 'text' (default): `handover[PID]: ...` lines; 'json': pino-style JSON lines. Ignored when `log` is given. */
  logFormat?: LogFormat;
  /**
   * The control socket (`handover reload`, `status`, `stop`, `scale`): a path,
   * true (default) for the path derived from pidFile or the runtime
   * directory (see controlPath()), false for none.
   */
  control?: string | boolean;
  /** `host:port` (or a port) to serve Prometheus metrics on, at /metrics. */
  metrics?: string;
  /** `host:port` (or a port) to serve /livez and /readyz on, for probes. */
  health?: string;
  /** ms between a stop signal (when /readyz starts failing) and the drain. Default 0. */
  shutdownDelay?: number;
  /**
   * Put the listeners it binds in systemd's fd store (FileDescriptorStoreMax=),
   * so that they and their queued connections survive the supervisor's own
   * restart: `auto` (default) when systemd says it keeps one ($FDSTORE,
   * systemd ≥ 254), `yes` (older systemd), `no`.
   */
  fdStore?: 'auto' | 'yes' | 'no';
  /**
   * How to start this very supervisor again, for {@link Supervisor.upgradeSelf}
   * (`handover upgrade-self`): `handover run` sets it to its own command line.
   * Without it, upgradeSelf() is ERR_NOT_SUPPORTED.
   */
  reexec?: { file: string; args: string[] };
  /**
   * The generations' module compile cache (Node >= 22.1, NODE_COMPILE_CACHE): a
   * directory, or false for none. Default: a directory of this app's own under
   * the temporary directory, unless `env` already sets NODE_COMPILE_CACHE or
   * NODE_DISABLE_COMPILE_CACHE (docs/supervisor.md).
   */
  compileCache?: string | false;
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
  log: Log;
  workers: number;
  reloadParallel: number;
  maxMemory: number | undefined;
  maxLifetime: number | undefined;
  logFormat: LogFormat;
  control: string | boolean;
  metrics: string | undefined;
  health: string | undefined;
  shutdownDelay: number;
  fdStore: 'auto' | 'yes' | 'no';
  reexec: { file: string; args: string[] } | undefined;
  /** NODE_COMPILE_CACHE for every generation, or undefined to leave their environment as it is. */
  compileCache: string | undefined;
}

const KNOWN = new Set([
  'command', 'args', 'listen', 'inherit', 'pidFile', 'readyTimeout', 'drainTimeout', 'probation', 'restartBackoff',
  'restartBackoffMax', 'restart', 'ready', 'cwd', 'env', 'stdio', 'signals', 'subreaper', 'reap', 'log',
  'workers', 'reloadParallel', 'maxMemory', 'maxLifetime', 'logFormat', 'control', 'metrics', 'health', 'shutdownDelay', 'fdStore', 'reexec',
  'compileCache',
]);

/** Most workers a supervisor runs. */
const MAX_WORKERS = 1024;

function count(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) invalidValue(`options.${name}`, `must be a whole number from 1 to ${max}`, value);
  return value;
}

function ms(name: string, value: unknown, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || value > 2 ** 31 - 1) {
    invalidValue(`options.${name}`, `must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds (at most 2^31-1)`, value);
  }
  return value;
}

function control(value: unknown): string | boolean {
  if (value === undefined) return true;
  if (typeof value === 'boolean' || (typeof value === 'string' && value !== '' && !value.includes('\0'))) return value;
  return invalidType('options.control', 'a socket path or a boolean', value);
}

function address(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') value = String(value);
  if (typeof value !== 'string') invalidType(`options.${name}`, 'an address (host:port or a port)', value);
  const spec = parseAddress(value as string);
  if (spec.kind !== 'tcp') invalidValue(`options.${name}`, 'must be a TCP address (host:port or a port)', value);
  return value as string;
}

function positive(name: string, value: unknown, unit: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) invalidValue(`options.${name}`, `must be a positive whole number of ${unit}`, value);
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
    log: options.log === false ? () => {} : options.log ?? makeLog(oneOf('logFormat', options.logFormat, ['text', 'json'] as const, 'text')),
    workers: options.workers === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : count('workers', options.workers, DEFAULT_WORKERS, MAX_WORKERS),
    reloadParallel: count('reloadParallel', options.reloadParallel, DEFAULT_RELOAD_PARALLEL, MAX_WORKERS),
    maxMemory: options.maxMemory === undefined ? undefined : positive('maxMemory', options.maxMemory, 'bytes'),
    maxLifetime: options.maxLifetime === undefined ? undefined : ms('maxLifetime', options.maxLifetime, 0, false),
    logFormat: oneOf('logFormat', options.logFormat, ['text', 'json'] as const, 'text'),
    control: control(options.control),
    metrics: address('metrics', options.metrics),
    health: address('health', options.health),
    shutdownDelay: ms('shutdownDelay', options.shutdownDelay, 0, true),
    fdStore: oneOf('fdStore', options.fdStore, ['auto', 'yes', 'no'] as const, 'auto'),
    reexec: reexecCommand(options.reexec),
    compileCache: compileCacheFor(checkCompileCache('options.compileCache', options.compileCache), options.env ?? process.env, [cwd, options.command, ...args]),
  };
}

function reexecCommand(value: unknown): { file: string; args: string[] } | undefined {
  if (value === undefined) return undefined;
  const command = value as { file?: unknown; args?: unknown };
  if (value === null || typeof value !== 'object' || typeof command.file !== 'string' || command.file === '' || !Array.isArray(command.args) || command.args.some((a) => typeof a !== 'string')) {
    invalidType('options.reexec', 'an object { file: string, args: string[] }', value);
  }
  return { file: command.file as string, args: [...(command.args as string[])] };
}
