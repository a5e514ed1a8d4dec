import { closeSync, openSync, readSync } from 'node:fs';

/**
 * `bytes` random bytes from the kernel, as hex. Read directly: loading
 * node:crypto for a few bytes cost about 2 ms of a start (or of an upgrade,
 * between the signal and the spawn).
 */
export function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, buffer, 0, bytes, null);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('hex');
}
