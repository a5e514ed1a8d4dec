import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `pid` to `path` atomically: a temporary file in the same directory,
 * fsync'd, then renamed over the target, so a reader never sees a partial or
 * empty file.
 */
export function writePidFile(path: string, pid = process.pid): void {
  const tmp = join(dirname(path), `.${basename(path)}.${pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, `${pid}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing left to clean
    }
    throw err;
  }
}

/** Removes the PID file at `path` if it still names `pid` (another process may have taken it over since). */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
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
  let content: string | undefined;
  try {
    content = readFileSync(path, 'utf8');
  } catch {
    // missing: ours to write again
  }
  if (content !== `${pid}\n`) writePidFile(path, pid);
}
