import { native, type NativeFdInfo } from './binding';
import { fromNative, invalidType } from '../core';

/** What a file descriptor is, read from the kernel (fstat, getsockopt, getsockname). */
export type FdInfo = NativeFdInfo;

function checkFd(name: string, fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    invalidType(name, 'a file descriptor (a non-negative integer)', fd);
  }
  return fd;
}

/**
 * Inspects `fd`: its type (`socket`, `file`, `fifo`, `character`, ...), its
 * FD_CLOEXEC and O_NONBLOCK flags and, for a socket, its family (`IPv4`,
 * `IPv6`, `unix`), socket type (`stream`, `dgram`, ...), whether it listens,
 * and its bound address and port, or path (`@name` for Linux's abstract
 * namespace). Throws EBADF (syscall `fstat`) for a closed fd.
 */
export function inspectFd(fd: number): FdInfo {
  const binding = native('inspectFd');
  checkFd('fd', fd);
  try {
    return binding.inspectFd(fd);
  } catch (err) {
    fromNative(err, undefined, { fd });
  }
}

/** Sets (`on = true`) or clears FD_CLOEXEC on `fd`; O_NONBLOCK and other file status flags are untouched. */
export function setCloexec(fd: number, on: boolean): void {
  const binding = native('setCloexec');
  checkFd('fd', fd);
  if (typeof on !== 'boolean') invalidType('on', 'of type boolean', on);
  try {
    binding.setCloexec(fd, on);
  } catch (err) {
    fromNative(err, undefined, { fd });
  }
}

/** Duplicates `fd` onto the lowest free fd ≥ `minFd` (default 3), with FD_CLOEXEC set. */
export function dupCloexec(fd: number, minFd = 3): number {
  const binding = native('dupCloexec');
  checkFd('fd', fd);
  checkFd('minFd', minFd);
  try {
    return binding.dupCloexec(fd, minFd);
  } catch (err) {
    fromNative(err, undefined, { fd });
  }
}
