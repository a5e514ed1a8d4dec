// Putting real files and pipes at chosen fd numbers, so that a child's fd
// table can be checked entry by entry: each fd points to a distinct file.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dupCloexec } from '../../lib/index';
import { fdTarget } from './proc';

/**
 * Opens a distinct temporary file at each of `numbers` (which must be free),
 * with FD_CLOEXEC set as Node sets it on every fd it opens. Returns
 * fd -> path.
 */
export function placeFiles(dir: string, numbers: number[], flags: number = constants.O_RDONLY): Map<number, string> {
  const placed = new Map<number, string>();
  for (const n of numbers) {
    const path = join(dir, `fd-${n}-${placed.size}`);
    writeFileSync(path, `file for fd ${n}\n`);
    const opened = openSync(path, flags);
    let fd = opened;
    if (opened !== n) {
      fd = dupCloexec(opened, n);
      closeSync(opened);
    }
    if (fd !== n) throw new Error(`fd ${n} is not free (got ${fd})`);
    placed.set(n, path);
  }
  return placed;
}

/** Closes every fd of a placeFiles() map. */
export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) closeSync(fd);
}

/**
 * A real pipe (a FIFO, unlinked at once): Node has no pipe(2). The read end
 * is O_NONBLOCK so that it can be opened before the write end.
 */
export function makePipe(dir: string): { read: number; write: number } {
  const path = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [path]);
  const read = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const write = openSync(path, constants.O_WRONLY);
  unlinkSync(path);
  return { read, write };
}

/** Everything left in a non-blocking read end whose writers are all gone. */
export function drain(fd: number): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(65536);
  for (;;) {
    const n = readSync(fd, buffer);
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Targets (readlink) of the parent's fds, for comparison with a child's table. */
export function targetsOf(fds: Iterable<number>): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of fds) out.set(fd, fdTarget(fd));
  return out;
}
