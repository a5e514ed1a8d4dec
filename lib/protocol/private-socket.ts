import { lstatSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { processExists, unlinkQuietly } from '../core';
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
 * A path for a socket in a new directory of mode 0700 (`STEM` + this pid +
 * `-` + six random characters), in the first candidate directory where the
 * whole path fits sun_path. Throws the last error (ENAMETOOLONG when none
 * fits). The first time a stem is used in a directory, what SIGKILLed
 * processes of this user left there under it is removed (see {@link sweep}).
 */
export function privateSocketPath(stem: string): string {
  const prefix = `${stem}${process.pid}-`;
  let last: unknown;
  for (const base of candidates()) {
    if (Buffer.byteLength(join(base, prefix + MKDTEMP_SUFFIX, SOCKET_NAME)) >= SUN_PATH) {
      last = Object.assign(new Error(`ENAMETOOLONG: a socket path under ${base} would be longer than ${SUN_PATH - 1} bytes`), { code: 'ENAMETOOLONG' });
      continue;
    }
    try {
      const path = join(mkdtempSync(join(base, prefix)), SOCKET_NAME);
      sweepOnce(base, stem);
      return path;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

const swept = new Set<string>();

function sweepOnce(base: string, stem: string): void {
  const key = `${base}\0${stem}`;
  if (swept.has(key)) return;
  swept.add(key);
  sweep(base, stem);
}

/**
 * Removes the directories `STEM<pid>-XXXXXX` in `base` that belong to this
 * user and hold nothing but a notify.sock, whose process is gone: a process
 * that was SIGKILLed could not remove its own. A pid in use (even reused by
 * another process) keeps its directory: only a dead pid is certain.
 */
export function sweep(base: string, stem: string): void {
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([0-9]+)-[A-Za-z0-9]{6}$`);
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || processExists(Number(pid))) continue;
    const dir = join(base, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.geteuid?.()) continue;
      const entries = readdirSync(dir);
      if (entries.some((entry) => entry !== SOCKET_NAME)) continue;
      removePrivateSocket(join(dir, SOCKET_NAME));
    } catch {
      // gone meanwhile, or not ours to look into
    }
  }
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

  /** Opens one in a directory `STEM<pid>-XXXXXX` (the readers of NOTIFY_SOCKET recognise it by that). */
  static open(stem: string): PrivateNotifyListener {
    const path = privateSocketPath(stem);
    try {
      return new PrivateNotifyListener(path);
    } catch (err) {
      removePrivateSocket(path);
      throw err;
    }
  }

  /**
   * Binds `path` again, a socket that {@link open} made (in this process
   * before it re-exec'd itself: its generations have the address): the
   * directory must still be this user's and private; the old socket file
   * is replaced.
   */
  static reopen(path: string): PrivateNotifyListener {
    const dir = dirname(path);
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.geteuid?.() || (st.mode & 0o077) !== 0) {
      throw Object.assign(new Error(`EPERM: ${dir} is not a private directory of this user (mode ${(st.mode & 0o7777).toString(8)}, uid ${st.uid}): not binding ${path} in it`), { code: 'EPERM', path });
    }
    unlinkQuietly(path);
    return new PrivateNotifyListener(path);
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
