import { native, type NativeFdInfo } from './binding';
import { HandoverError, isNativeErrno, systemError } from './errors';

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
 * Nothing is adopted when anything is off: a non-numeric or out-of-range count,
 * a count past the open fds, or an fd that is not a socket, file, pipe or
 * character device — for instance Node's own epoll fd at 3 when `npm start`
 * launched node with variables meant for itself. The caller logs `error` and
 * falls back to fresh sockets.
 */
export function takeInheritedFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Inheritance {
  const countText = env.LISTEN_FDS;
  const namesText = env.LISTEN_FDNAMES;
  const pidText = env.LISTEN_PID;
  for (const name of VARIABLES) delete env[name];

  if (countText === undefined && pidText === undefined) return { fds: [] };
  if (pidText === undefined || !/^[0-9]+$/.test(pidText)) return reject(`LISTEN_PID is not a pid: ${JSON.stringify(pidText)}`);
  if (Number(pidText) !== pid) return { fds: [] }; // meant for another process (e.g. npm, our parent)
  if (countText === undefined || !/^[0-9]+$/.test(countText)) return reject(`LISTEN_FDS is not a count: ${JSON.stringify(countText)}`);
  const count = Number(countText);
  if (count > MAX_LISTEN_FDS) return reject(`LISTEN_FDS=${count} is more than ${MAX_LISTEN_FDS}`);

  let names = namesText === undefined ? [] : namesText.split(':');
  if (namesText !== undefined && names.length !== count) {
    // systemd's sd_listen_fds_with_names refuses this; the fds themselves may
    // still be fine, so keep them and drop the names.
    names = [];
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
