import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HandoverError, randomHex, unlinkQuietly } from '../core';

// Pid files often live in directories other users can write (/tmp, an app
// user's own directory) while the writer is root. Nothing here follows a
// name another user could have planted: the temp file is created new under
// a name nobody can guess, and reads never follow a symlink nor wait on a FIFO.

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** Temp names tried before giving up: a collision of 64 random bits is someone planting every name. */
const TEMP_ATTEMPTS = 16;
/** More than any pid file holds. */
const MAX_PID_FILE = 64;

/**
 * Writes `pid` to `path` atomically: a new temporary file in the same
 * directory (O_CREAT|O_EXCL|O_NOFOLLOW, a random name), fsync'd, then
 * renamed over the target, so a reader never sees a partial or empty file
 * and no symlink planted in the directory is ever written through. Refuses
 * (ERR_INVALID_ARG_VALUE) a directory that every user may write but that is
 * not sticky: anyone could replace the file there.
 */
export function writePidFile(path: string, pid = process.pid): void {
  checkDirectory(path);
  const { fd, tmp } = createTemp(path);
  try {
    writeSync(fd, `${pid}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

/** Removes the PID file at `path` if it still names `pid` (another process may have taken it over since). */
export function removePidFile(path: string, pid = process.pid): void {
  if (readPidFile(path) !== `${pid}\n`) return;
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/**
 * Makes the PID file at `path` name `pid` again unless it already does —
 * after a failed upgrade, whose child may have written its own pid just
 * before it was killed.
 */
export function reclaimPidFile(path: string, pid = process.pid): void {
  if (readPidFile(path) !== `${pid}\n`) writePidFile(path, pid);
}

function checkDirectory(path: string): void {
  const dir = dirname(path);
  let mode: number;
  try {
    mode = statSync(dir).mode;
  } catch {
    return; // creating the temp file reports it, as Node's fs would
  }
  if ((mode & 0o002) !== 0 && (mode & 0o1000) === 0) {
    throw new HandoverError(
      'ERR_INVALID_ARG_VALUE',
      `cannot write the pid file ${path}: its directory ${dir} is writable by every user and not sticky, so anyone could replace the file; use a directory only its owner may write, or make it sticky (chmod +t, as /tmp is)`,
      { path },
    );
  }
}

function createTemp(path: string): { fd: number; tmp: string } {
  for (let attempt = 1; ; attempt++) {
    const tmp = join(dirname(path), `.${basename(path)}.${randomHex(8)}.tmp`);
    try {
      return { fd: openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644), tmp };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= TEMP_ATTEMPTS) throw err;
    }
  }
}

/** The file's text when `path` is a regular file (not through a symlink), else undefined. */
function readPidFile(path: string): string | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in its place opens at once instead of waiting for a writer.
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined; // missing, or a symlink: not a pid file we wrote
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(MAX_PID_FILE);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
