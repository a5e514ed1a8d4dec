import { closeSync, unlinkSync } from 'node:fs';

/** Closes `fd`, ignoring an fd that is already closed: for clean-up paths. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

/** Removes `path`, ignoring one that is already gone: for clean-up paths. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
