import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/** The file name of the control socket in its directory. */
export const CONTROL_SOCKET = 'control.sock';

/** What the control socket's place is derived from. */
export interface ControlPlace {
  /** An explicit socket path (`--control PATH`): used as it is. */
  control?: string;
  /** The supervisor's pid file: the socket goes in `FILE.control/`, beside it. */
  pidFile?: string;
  /** The supervisor's pid, for the places named after it. */
  pid: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Where a supervisor's control socket is, as both the supervisor and
 * `handover reload|status|stop` find it — in this order:
 *
 * 1. `--control PATH`;
 * 2. beside the pid file: `FILE.control/control.sock`;
 * 3. systemd's `$RUNTIME_DIRECTORY` (RuntimeDirectory=): `handover-PID/control.sock` in it;
 * 4. `$XDG_RUNTIME_DIR/handover-PID/control.sock`;
 * 5. `TMPDIR/handover-UID/PID/control.sock`.
 *
 * Each directory that holds the socket is made 0700 by the supervisor.
 */
export function controlPath(place: ControlPlace): string {
  const env = place.env ?? process.env;
  if (place.control !== undefined) return resolve(place.control);
  if (place.pidFile !== undefined) {
    const file = resolve(place.pidFile);
    return join(dirname(file), `${basename(file)}.control`, CONTROL_SOCKET);
  }
  const runtime = env.RUNTIME_DIRECTORY?.split(':')[0] || env.XDG_RUNTIME_DIR;
  if (runtime) return join(runtime, `handover-${place.pid}`, CONTROL_SOCKET);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `handover-${uid}`, String(place.pid), CONTROL_SOCKET);
}
