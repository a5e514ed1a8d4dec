import { native } from './binding';
import { fromNative, HandoverError, invalidType, invalidValue, isNativeErrno, signalNumber, systemError } from '../core';

/** Go's `ProcAttr` and `SysProcAttr`, as far as handover needs them. */
export interface ForkExecAttributes {
  /** Working directory of the child (Go `Dir`). Default: the parent's. */
  cwd?: string;
  /** Environment (Go `Env`): `['K=V', ...]` or an object; undefined values are left out. Default: `process.env`. */
  env?: string[] | Record<string, string | undefined>;
  /** `files[i]` becomes fd i in the child; `null` leaves fd i closed. Default `[0, 1, 2]`. */
  files?: (number | null)[];
  /** Start a new session (Go `Setsid`). */
  setsid?: boolean;
  /** Put the child in process group `pgid` (0: a new group led by the child). */
  setpgid?: boolean;
  /** Process group for `setpgid`; giving it implies `setpgid`. */
  pgid?: number;
  /** Signal the child receives when the parent *thread* that spawned it dies (Linux only). */
  pdeathsig?: NodeJS.Signals;
  /** Put `LISTEN_PID=<the child's own pid>` in its environment, as systemd socket activation requires. */
  listenPid?: boolean;
}

/** The default fd table: the child gets the parent's stdin, stdout and stderr. */
export const DEFAULT_FILES: readonly (number | null)[] = Object.freeze([0, 1, 2]);

/** Largest fd table accepted; far above any real use, it bounds a typo. */
export const MAX_FILES = 4096;

const MAX_FD = 0x7fffffff;

const ATTRIBUTES = new Set(['cwd', 'env', 'files', 'setsid', 'setpgid', 'pgid', 'pdeathsig', 'listenPid']);

function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') invalidType(name, 'of type string', value);
  if (value.includes('\0')) invalidValue(name, 'must not contain null bytes', value);
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') invalidType(name, 'of type boolean', value);
  return value;
}

function environment(env: ForkExecAttributes['env'], listenPid: boolean): string[] {
  let entries: string[];
  if (env === undefined || (typeof env === 'object' && env !== null && !Array.isArray(env))) {
    const source = env ?? process.env;
    entries = [];
    // Keys, then one read each: every access to process.env is a call into
    // C++, and Object.entries makes two per variable (about 0.1 ms of each
    // spawn with 35 variables; bench/spawn.js --reference).
    for (const key of Object.keys(source)) {
      const value = source[key];
      if (value === undefined) continue;
      if (typeof value !== 'string') invalidType(`attr.env.${key}`, 'of type string', value);
      checkString(`attr.env.${key}`, key);
      checkString(`attr.env.${key}`, value);
      entries.push(`${key}=${value}`);
    }
  } else if (Array.isArray(env)) {
    entries = Array.from(env, (entry, i) => checkString(`attr.env[${i}]`, entry));
  } else {
    invalidType('attr.env', 'an array of "KEY=value" strings or an object', env);
  }
  // The native layer appends the one LISTEN_PID that holds the child's pid.
  return listenPid ? entries.filter((entry) => !entry.startsWith('LISTEN_PID=')) : entries;
}

function fileTable(files: unknown): number[] {
  if (files === undefined) return [0, 1, 2];
  if (!Array.isArray(files)) invalidType('attr.files', 'an array of file descriptors or null', files);
  if (files.length > MAX_FILES) invalidValue('attr.files', `must have at most ${MAX_FILES} entries`, files.length);
  return Array.from(files as unknown[], (fd: unknown, i) => {
    if (fd === null) return -1;
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > MAX_FD) {
      invalidType(`attr.files[${i}]`, 'a file descriptor (a non-negative integer) or null', fd);
    }
    return fd;
  });
}

/**
 * Go's `syscall.ForkExec`: starts `path` with `argv` and exactly the fd table
 * `attr.files` (files[i] becomes fd i; nothing else is inherited, whatever its
 * FD_CLOEXEC flag), default signal dispositions and an empty signal mask.
 * The passed fds keep every flag they have in the parent (O_NONBLOCK included).
 *
 * Uses clone(CLONE_VM|CLONE_VFORK) on Linux and posix_spawn on macOS, so its
 * cost does not grow with the parent's memory. `path` is used as is: no PATH
 * search, relative paths resolve against `attr.cwd`.
 *
 * @returns the child's pid; reap it with {@link waitPid}.
 * @throws a system error shaped like Node's (`code`, negative `errno`,
 *   `syscall`, `path`) when the child cannot be started — ENOENT, EACCES,
 *   ENOEXEC, a bad `cwd` (syscall `chdir`), a failing setsid/setpgid — with no
 *   child and no fd left behind; `HandoverError` for bad arguments.
 */
export function forkExecWithFds(path: string, argv: string[], attr: ForkExecAttributes = {}): number {
  const binding = native('forkExecWithFds');
  checkString('path', path);
  if (path === '') invalidValue('path', 'must not be empty', path);
  if (!Array.isArray(argv)) invalidType('argv', 'an array of strings', argv);
  if (argv.length === 0) invalidValue('argv', 'must hold at least argv[0]', argv);
  for (let i = 0; i < argv.length; i++) checkString(`argv[${i}]`, argv[i]);
  if (attr === null || typeof attr !== 'object') invalidType('attr', 'an object', attr);
  for (const key of Object.keys(attr)) {
    // A typo (setSid) or a child_process option (stdio, uid) must not be ignored silently.
    if (!ATTRIBUTES.has(key)) invalidValue('attr', `has an unknown option "${key}" (known: ${[...ATTRIBUTES].join(', ')})`, attr);
  }

  const cwd = attr.cwd === undefined ? undefined : checkString('attr.cwd', attr.cwd);
  const setsid = checkBoolean('attr.setsid', attr.setsid);
  const listenPid = checkBoolean('attr.listenPid', attr.listenPid);
  let setpgid = checkBoolean('attr.setpgid', attr.setpgid);
  let pgid = 0;
  if (attr.pgid !== undefined) {
    if (!Number.isInteger(attr.pgid) || attr.pgid < 0 || attr.pgid > MAX_FD) invalidType('attr.pgid', 'a non-negative 32-bit integer', attr.pgid);
    pgid = attr.pgid;
    setpgid = true;
  }
  let pdeathsig = 0;
  if (attr.pdeathsig !== undefined) {
    const number = typeof attr.pdeathsig === 'string' ? signalNumber(attr.pdeathsig) : undefined;
    if (number === undefined) invalidValue('attr.pdeathsig', 'must be a signal name such as "SIGTERM"', attr.pdeathsig);
    if (process.platform !== 'linux') {
      throw new HandoverError('ERR_NOT_SUPPORTED', `attr.pdeathsig is supported on Linux only, not on ${process.platform}`);
    }
    pdeathsig = number;
  }
  const envp = environment(attr.env, listenPid);
  const files = fileTable(attr.files);
  files.forEach((fd, i) => {
    if (fd < 0) return;
    try {
      binding.inspectFd(fd);
    } catch (err) {
      if (isNativeErrno(err)) {
        const e = systemError(err.errno, 'dup2', undefined, { fd, index: i });
        e.message += ` (attr.files[${i}] = ${fd})`;
        throw e;
      }
      throw err;
    }
  });

  try {
    return binding.spawn({ file: path, argv, envp, cwd, files, setsid, setpgid, pgid, pdeathsig, listenPid });
  } catch (err) {
    const where = isNativeErrno(err) ? err.syscall : '';
    fromNative(err, where === 'chdir' ? cwd : where === 'execve' ? path : undefined, { spawnargs: argv });
  }
}
