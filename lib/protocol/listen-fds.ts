import { native, type NativeFdInfo } from '../native';
import { HandoverError, isNativeErrno, systemError } from '../core';

/** First inherited fd, as in systemd's SD_LISTEN_FDS_START. */
export const LISTEN_FDS_START = 3;

/** Upper bound on LISTEN_FDS; more is garbage, not a real hand-over. */
export const MAX_LISTEN_FDS = 1024;

/** One fd handed to this process with the socket-activation protocol. */
export interface InheritedFd {
  fd: number;
  /** From LISTEN_FDNAMES; 'unknown' when none was given, as systemd does. */
  name: string;
  /** What the fd really is, read from the kernel. */
  info: NativeFdInfo;
}

/** What {@link takeInheritedFds} found. */
export interface Inheritance {
  fds: InheritedFd[];
  /** Set when variables were present but unusable: the fds were not adopted. */
  error?: HandoverError;
}

const VARIABLES = ['LISTEN_FDS', 'LISTEN_FDNAMES', 'LISTEN_PID'] as const;

function reject(message: string, cause?: unknown): Inheritance {
  return { fds: [], error: new HandoverError('ERR_INHERITED_FDS', message, cause === undefined ? undefined : { cause }) };
}

/**
 * systemd's `sd_listen_fds_with_names(unset_environment = 1)`, with a check of
 * every fd: reads LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID, ignores them unless
 * LISTEN_PID is this process, removes them from `env` in every case (so the
 * app's own children never adopt them), validates each fd with the kernel and
 * sets FD_CLOEXEC on it.
 *
 * Nothing is adopted when anything is off: a LISTEN_PID that is not a pid, a
 * non-numeric or out-of-range count, a LISTEN_FDNAMES of another length than
 * the count (as sd_listen_fds_with_names refuses it), a count past the open
 * fds, or an fd that is not a socket, file, pipe or character device — for
 * instance Node's own epoll fd at 3 when a wrapper set LISTEN_PID to node's
 * pid with variables that were not meant for it. Then no fd is touched; the
 * caller logs `error` and falls back to fresh sockets. Without LISTEN_PID
 * there is nothing to adopt and no error, as in systemd.
 */
export function takeInheritedFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Inheritance {
  const countText = env.LISTEN_FDS;
  const namesText = env.LISTEN_FDNAMES;
  const pidText = env.LISTEN_PID;
  for (const name of VARIABLES) delete env[name];

  // As sd_listen_fds: no LISTEN_PID, or another process's, means nothing was
  // passed to us (a wrapper such as npm may have been the addressee).
  if (pidText === undefined) return { fds: [] };
  if (!/^[0-9]+$/.test(pidText) || !Number.isSafeInteger(Number(pidText))) return reject(`LISTEN_PID is not a pid: ${JSON.stringify(pidText)}`);
  if (Number(pidText) !== pid) return { fds: [] };
  if (countText === undefined || !/^[0-9]+$/.test(countText)) return reject(`LISTEN_FDS is not a count: ${JSON.stringify(countText)}`);
  const count = Number(countText);
  if (count > MAX_LISTEN_FDS) return reject(`LISTEN_FDS=${count} is more than ${MAX_LISTEN_FDS}`);

  // sd_listen_fds_with_names refuses a name list of another length: the
  // names would label the wrong fds.
  const names = namesText === undefined || namesText === '' ? [] : namesText.split(':');
  if (namesText !== undefined && names.length !== count) {
    return reject(`LISTEN_FDNAMES has ${names.length} name(s) for LISTEN_FDS=${count}`);
  }

  const binding = native('takeInheritedFds');
  const fds: InheritedFd[] = [];
  for (let i = 0; i < count; i++) {
    const fd = LISTEN_FDS_START + i;
    let info: NativeFdInfo;
    try {
      info = binding.inspectFd(fd);
    } catch (err) {
      const cause = isNativeErrno(err) ? systemError(err.errno, err.syscall, undefined, { fd }) : err;
      return reject(`LISTEN_FDS=${count} but fd ${fd} is not open`, cause);
    }
    if (info.type === 'other' || info.type === 'directory' || info.type === 'block') {
      return reject(`LISTEN_FDS=${count} but fd ${fd} is a ${info.type === 'other' ? 'kernel object (epoll, eventfd...)' : info.type}, not a socket or file: the variables were not meant for this process`);
    }
    fds.push({ fd, name: names[i] || 'unknown', info });
  }
  for (const { fd } of fds) binding.setCloexec(fd, true);
  return { fds };
}
