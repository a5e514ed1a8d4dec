import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/**
 * Stable codes of {@link HandoverError}. The README's error table is generated
 * from the same list, and a test pins it: a code, once published, never changes.
 */
export const ERROR_CODES = {
  /** A function was called with an argument of the wrong type. */
  ERR_INVALID_ARG_TYPE: 'an argument has the wrong type',
  /** A function was called with an argument of the right type but a bad value. */
  ERR_INVALID_ARG_VALUE: 'an argument has a bad value',
  /** The platform cannot do this (Windows; pdeathsig outside Linux). */
  ERR_NOT_SUPPORTED: 'not supported on this platform',
  /** The next generation could not be started (its `cause` is the system error). */
  ERR_EXEC: 'the new process could not be started',
  /** The next generation exited before it said it was ready (`exitCode`, `signal`). */
  ERR_CHILD_EXITED: 'the new process exited before it was ready',
  /** The next generation did not say it was ready in time; it was killed. */
  ERR_UPGRADE_TIMEOUT: 'the new process was not ready in time',
  /** stop() or shutdown() was called while an upgrade was running. */
  ERR_STOPPED: 'stopped during the upgrade',
  /** upgrade() was called while another upgrade was running. */
  ERR_UPGRADE_IN_PROGRESS: 'an upgrade is already running',
  /** upgrade() was called before this generation called ready(). */
  ERR_NOT_READY: 'this generation is not ready yet',
  /** upgrade() was called after a successful upgrade: this generation is retiring. */
  ERR_ALREADY_UPGRADED: 'this generation has already been replaced',
  /** upgrade() was called while the previous generation is still draining. */
  ERR_PARENT_DRAINING: 'the previous generation is still draining',
  /** Inherited file descriptors (LISTEN_FDS...) are inconsistent. */
  ERR_INHERITED_FDS: 'the inherited file descriptors are not usable',
} as const;

/** A stable error code of {@link HandoverError}. */
export type HandoverErrorCode = keyof typeof ERROR_CODES;

/**
 * The one error class of the library, for its own states; system errors keep
 * Node's shape instead (see {@link systemError}).
 */
export class HandoverError extends Error {
  /** Stable machine-readable code, one of {@link ERROR_CODES}. */
  readonly code: HandoverErrorCode;

  constructor(code: HandoverErrorCode, message: string, options?: { cause?: unknown } & Record<string, unknown>) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HandoverError';
    this.code = code;
    if (options) {
      for (const [key, value] of Object.entries(options)) {
        if (key !== 'cause') (this as Record<string, unknown>)[key] = value;
      }
    }
  }
}

/** A system error shaped exactly like the ones Node's own fs and net throw. */
export interface SystemError extends Error {
  /** 'ENOENT', 'EACCES', ... */
  code: string;
  /** Negative errno, as Node reports it. */
  errno: number;
  /** The system call that failed. */
  syscall: string;
  /** The path involved, when there is one. */
  path?: string;
}

/**
 * Builds `{ code, errno, syscall, path }` with Node's message format
 * (`ENOENT: no such file or directory, execve '/x'`) from a negative errno.
 */
export function systemError(errno: number, syscall: string, path?: string, extra?: Record<string, unknown>): SystemError {
  const [code, description] = getSystemErrorMap().get(errno) ?? errnoOutsideLibuv(errno);
  let message = `${code}: ${description}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  const err = new Error(message) as SystemError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (extra) Object.assign(err, extra);
  return err;
}

// libuv's table, which Node's errors use, lacks a few errnos that process
// calls return (ECHILD, ESRCH...): name those from os.constants.errno.
const EXTRA_DESCRIPTIONS: Record<string, string> = {
  ECHILD: 'no child processes',
  ENOEXEC: 'exec format error',
  ESRCH: 'no such process',
  EOVERFLOW: 'value too large for defined data type',
};

function errnoOutsideLibuv(errno: number): [string, string] {
  for (const [name, value] of Object.entries(constants.errno)) {
    if (value === -errno) return [name, EXTRA_DESCRIPTIONS[name] ?? name.toLowerCase()];
  }
  return [`Unknown system error ${errno}`, 'unknown error'];
}

/**
 * A listen/bind error like Node's own (`listen EADDRINUSE: address already in
 * use 127.0.0.1:8080`, with `address` and `port`).
 */
export function addressError(errno: number, syscall: string, address: string, port?: number, note?: string): SystemError {
  const extra: Record<string, unknown> = { address };
  if (port !== undefined) extra.port = port;
  const err = systemError(errno, syscall, undefined, extra);
  const description = getSystemErrorMap().get(errno)?.[1] ?? errnoOutsideLibuv(errno)[1];
  err.message = `${syscall} ${err.code}: ${description} ${port === undefined ? address : `${address}:${port}`}${note ? ` (${note})` : ''}`;
  return err;
}

/** The shape in which the addon throws: errno (negative) and syscall. */
export interface NativeErrno {
  errno: number;
  syscall: string;
  native: true;
}

/** True for an error thrown by the addon, carrying a raw errno. */
export function isNativeErrno(err: unknown): err is NativeErrno {
  return typeof err === 'object' && err !== null && (err as { native?: unknown }).native === true;
}

/** Converts an addon error to {@link systemError}; rethrows anything else. */
export function fromNative(err: unknown, path?: string, extra?: Record<string, unknown>): never {
  if (isNativeErrno(err)) throw systemError(err.errno, err.syscall, path, extra);
  throw err;
}

/** Throws ERR_INVALID_ARG_TYPE naming the argument and echoing the value. */
export function invalidType(name: string, expected: string, value: unknown): never {
  throw new HandoverError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describe(value)}`);
}

/**
 * Throws ERR_INVALID_ARG_VALUE naming the argument and echoing the value;
 * `reason` is also a property of the error, for callers (the CLI) that
 * word the message their own way.
 */
export function invalidValue(name: string, reason: string, value: unknown): never {
  throw new HandoverError('ERR_INVALID_ARG_VALUE', `The "${name}" argument ${reason}. Received ${describe(value)}`, { reason });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return Array.isArray(value) ? `an array ${JSON.stringify(value).slice(0, 60)}` : `an instance of ${value.constructor?.name ?? 'Object'}`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `type ${typeof value} (${text.length > 60 ? text.slice(0, 57) + '...' : text})`;
}
