import { mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { unlinkQuietly } from '../core';
import { NotifyListener } from './sd-notify';

// A NOTIFY_SOCKET that only this user's processes (and root) can reach: a
// socket file in a fresh 0700 directory. Linux's abstract names would leave
// nothing on disk, but they have no permissions and are listed, for every
// user, in /proc/net/unix: anyone could fill the socket's queue (ten
// datagrams by default) and make a generation's READY=1 fail.

/** The socket's name in its directory. */
const SOCKET_NAME = 'notify.sock';
/** sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs, the terminating NUL included. */
const SUN_PATH = process.platform === 'linux' ? 108 : 104;
/** What mkdtemp appends to the prefix. */
const MKDTEMP_SUFFIX = 'XXXXXX';

/**
 * Directories to make the private one in, best first: $XDG_RUNTIME_DIR when
 * it is ours and private, as the XDG spec has it; else the temporary
 * directory; else /tmp, whose path is short enough for any prefix when a
 * long TMPDIR is not.
 */
function candidates(): string[] {
  const found: string[] = [];
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) {
    try {
      const st = statSync(runtime);
      if (st.isDirectory() && st.uid === process.geteuid?.() && (st.mode & 0o077) === 0) found.push(runtime);
    } catch {
      // unset in effect
    }
  }
  for (const dir of [tmpdir(), '/tmp']) if (!found.includes(dir)) found.push(dir);
  return found;
}

/**
 * A path for a socket in a new directory of mode 0700 (`prefix` plus six
 * random characters), in the first candidate directory where the whole
 * path fits sun_path. Throws the last error (ENAMETOOLONG when none fits).
 */
export function privateSocketPath(prefix: string): string {
  let last: unknown;
  for (const base of candidates()) {
    if (Buffer.byteLength(join(base, prefix + MKDTEMP_SUFFIX, SOCKET_NAME)) >= SUN_PATH) {
      last = Object.assign(new Error(`ENAMETOOLONG: a socket path under ${base} would be longer than ${SUN_PATH - 1} bytes`), { code: 'ENAMETOOLONG' });
      continue;
    }
    try {
      return join(mkdtempSync(join(base, prefix)), SOCKET_NAME);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Removes a socket made at a {@link privateSocketPath} and its directory (whatever is already gone). */
export function removePrivateSocket(path: string): void {
  unlinkQuietly(path);
  try {
    rmdirSync(dirname(path));
  } catch {
    // gone already
  }
}

/**
 * A {@link NotifyListener} on a {@link privateSocketPath}: nobody but this
 * user and root can send to it, and it removes its file and directory when
 * closed — or, should nobody close it, when the process exits.
 */
export class PrivateNotifyListener extends NotifyListener {
  readonly #removeAtExit: () => void;

  /** Opens one; `prefix` names its directory (the readers of NOTIFY_SOCKET recognise it by that). */
  static open(prefix: string): PrivateNotifyListener {
    const path = privateSocketPath(prefix);
    try {
      return new PrivateNotifyListener(path);
    } catch (err) {
      removePrivateSocket(path);
      throw err;
    }
  }

  private constructor(path: string) {
    super(path);
    this.#removeAtExit = () => removePrivateSocket(path);
    process.on('exit', this.#removeAtExit);
  }

  override close(): void {
    super.close();
    process.off('exit', this.#removeAtExit);
    removePrivateSocket(this.path);
  }
}
