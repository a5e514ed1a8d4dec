import { HandoverError, packageRoot } from '../core';
import { knownAddonPath } from './addon-path';

/** What the addon's inspectFd returns. */
export interface NativeFdInfo {
  fd: number;
  type: 'socket' | 'file' | 'fifo' | 'character' | 'directory' | 'block' | 'other';
  cloexec: boolean;
  nonblocking: boolean;
  family?: 'IPv4' | 'IPv6' | 'unix' | 'other';
  socketType?: 'stream' | 'dgram' | 'seqpacket' | 'raw' | 'other';
  listening?: boolean;
  address?: string;
  port?: number;
  path?: string;
}

/** One fork/exec, validated by lib/fork-exec.ts before it reaches native code. */
export interface NativeSpawnOptions {
  file: string;
  argv: string[];
  envp: string[];
  cwd?: string;
  /** files[i] becomes fd i; -1 closes it. */
  files: number[];
  setsid: boolean;
  setpgid: boolean;
  pgid: number;
  /** Signal number, 0 for none. */
  pdeathsig: number;
  listenPid: boolean;
  /**
   * Internal, for tests: start the child with fork + execve and an error pipe
   * (native/spawn_fork.cc), the path macOS takes for `listenPid`, so that
   * Linux tests run it too. Never set by lib/.
   */
  forkExec?: boolean;
}

/** A socket for listenSocket: bound, and listening when it is a stream. */
export interface NativeListenOptions {
  family: 'IPv4' | 'IPv6' | 'unix';
  type: 'stream' | 'dgram';
  address: string;
  port: number;
  path: string;
  backlog: number;
  ipv6Only: boolean;
  /** SO_REUSEPORT before bind: another socket may bind the same address (Linux spreads connections among them). */
  reusePort?: boolean;
  /** A Unix socket file's mode, set after bind() and before listen() (default: what the umask leaves). */
  mode?: number;
  /** A Unix socket file's owner and group, set the same way (default: the binder's). */
  uid?: number;
  gid?: number;
}

/** A bound AF_UNIX datagram socket reporting each message with its sender's pid. */
export interface NativeNotifySocket {
  close(): void;
}

/** The whole native surface, typed once. Errors are thrown as `{ errno, syscall, native: true }`. */
export interface NativeBinding {
  spawn(options: NativeSpawnOptions): number;
  waitPid(pid: number, ref: boolean, callback: (err: Error | null, code: number | null, signal: number | null) => void): void;
  /** Reports the exit of `pid`, our parent; throws ESRCH when it is gone or not (any more) our parent. */
  watchExit(pid: number, ref: boolean, callback: (err: Error | null) => void, ancestor?: boolean): void;
  listenSocket(options: NativeListenOptions): number;
  inspectFd(fd: number): NativeFdInfo;
  setCloexec(fd: number, on: boolean): void;
  dupCloexec(fd: number, minFd: number): number;
  notifySend(path: string, message: string, fds?: number[]): void;
  NotifySocket: new (path: string, onMessage: (message: string, senderPid: number) => void) => NativeNotifySocket;
  /** One waitpid(pid, WNOHANG) for exactly `pid`: its status once reaped, null while it runs. */
  reapPid(pid: number): { code: number | null; signal: number | null } | null;
  /** Who is at the other end of a connected AF_UNIX stream socket (SO_PEERCRED; getpeereid on macOS, pid -1 when unknown). */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /** execve(file, argv, envp) keeping `keepFds` open; returns only by throwing. */
  reexec(file: string, argv: string[], envp: string[], keepFds: number[]): void;
  /** prctl(PR_SET_CHILD_SUBREAPER) (Linux; ENOTSUP elsewhere). */
  setChildSubreaper(on: boolean): void;
  /** getpwnam_r: a user's uid and primary gid, or null when there is no such user. */
  lookupUser(name: string): { uid: number; gid: number } | null;
  /** getgrnam_r: a group's gid, or null when there is no such group. */
  lookupGroup(name: string): number | null;
}

function load(): NativeBinding | null {
  if (process.platform === 'win32') return null;
  // build/ first, then prebuilds/ (node-gyp-build's order).
  const root = packageRoot(__dirname, 'native');
  const known = knownAddonPath(root);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (known !== undefined) return require(known) as NativeBinding;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
  return nodeGypBuild(root);
}

// Loaded on the first call, once: finding and opening the addon costs a
// millisecond or more of every start, and `require('handover')` alone (the
// CLI's --help, an app that constructs its server later) needs none of it.
let binding: NativeBinding | null | undefined;

/**
 * The addon, or ERR_NOT_SUPPORTED on a platform without one (Windows), so that
 * `require('handover')` always loads and only calls fail.
 */
export function native(what: string): NativeBinding {
  if (binding === undefined) binding = load();
  if (binding === null) {
    throw new HandoverError('ERR_NOT_SUPPORTED', `${what} is not supported on ${process.platform}: handover needs a POSIX system (Linux or macOS)`);
  }
  return binding;
}
