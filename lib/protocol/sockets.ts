import { closeSync, lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import { DEFAULT_BACKLOG, resolveHost, type BoundAddress, type ListenSpec, type PacketSpec } from './address';
import { native, type NativeFdInfo } from '../native';
import { addressError, HandoverError, invalidType, invalidValue, isNativeErrno } from '../core';

const EADDRINUSE = (osConstants.errno as Record<string, number>).EADDRINUSE;

/** A socket bound (and listening, when it is a stream) by {@link bindSocket}. */
export interface BoundSocket {
  /** The socket, close-on-exec and non-blocking. The caller owns it. */
  fd: number;
  kind: 'stream' | 'dgram';
  /** The name asked for (`name=` in the CLI), for LISTEN_FDNAMES. */
  name: string | undefined;
  /** The real address: port 0 is replaced by the port the kernel chose. */
  address: BoundAddress;
}

/** Options of {@link bindSocket}. */
export interface BindSocketOptions {
  /**
   * When a Unix socket path is taken by a socket nobody listens on (left
   * behind by a process that crashed), remove it and bind again. Default true.
   */
  removeStale?: boolean;
}

/**
 * Binds a socket natively for a parsed address (see parseAddress): a listening
 * stream socket for `tcp` and `unix`, a bound datagram socket for `udp`. A
 * missing host means what Node's listen() means: `::` dual-stack, or `0.0.0.0`
 * without IPv6 (`0.0.0.0` / `::` for udp4 / udp6). Host names are resolved
 * (first answer). A Unix socket's file gets the spec's `mode` and
 * `owner`/`group` (names looked up here) before it listens, so nobody can
 * connect before they are in place; it is removed if they cannot be set.
 *
 * Errors are shaped like Node's own: `listen EADDRINUSE: address already in
 * use 127.0.0.1:8080` (`code`, negative `errno`, `syscall`, `address`, `port`)
 * for streams, `bind ...` for datagram sockets.
 */
export async function bindSocket(spec: ListenSpec | PacketSpec, options: BindSocketOptions = {}): Promise<BoundSocket> {
  if (spec === null || typeof spec !== 'object' || !['tcp', 'unix', 'udp'].includes((spec as { kind?: string }).kind ?? '')) {
    invalidType('spec', 'a parsed address ({ kind: "tcp" | "unix" | "udp", ... })', spec);
  }
  const kind = spec.kind === 'udp' ? 'dgram' : 'stream';
  let address: BoundAddress;
  if (spec.kind === 'unix') {
    address = { family: 'unix', path: spec.path };
  } else {
    const host = spec.kind === 'udp' && spec.host === undefined ? (spec.type === 'udp6' ? '::' : '0.0.0.0') : spec.host;
    const resolved = await resolveHost(host, host === undefined ? ipv6Available() : true);
    address = { ...resolved, port: spec.port };
  }
  const backlog = spec.kind === 'udp' ? 0 : spec.backlog ?? DEFAULT_BACKLOG;
  const ipv6Only = spec.kind === 'tcp' ? spec.ipv6Only ?? false : spec.kind === 'udp' && spec.type === 'udp6';
  const access = spec.kind === 'unix' ? fileAccess(spec) : {};
  return bindAddress(kind, address, { backlog, ipv6Only, name: spec.name, removeStale: options.removeStale, ...access });
}

/**
 * The mode and ids a unix spec asks for, names looked up now (at start):
 * `owner=www-data` is www-data's uid (and its group only with `:GROUP`).
 */
function fileAccess(spec: Extract<ListenSpec, { kind: 'unix' }>): { mode?: number; uid?: number; gid?: number } {
  const access: { mode?: number; uid?: number; gid?: number } = {};
  if (spec.mode !== undefined) {
    if (!Number.isInteger(spec.mode) || spec.mode < 0 || spec.mode > 0o777) invalidValue('spec.mode', 'must be a mode from 0 to 0o777', spec.mode);
    access.mode = spec.mode;
  }
  const wanted = `owner=${spec.owner ?? ''}${spec.group === undefined ? '' : `:${spec.group}`}`;
  const refuse = (what: string, name: string): never => {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `cannot give unix:${spec.path} to ${wanted}: there is no ${what} "${name}"`, { path: spec.path });
  };
  if (spec.owner !== undefined) {
    access.uid = /^[0-9]+$/.test(spec.owner) ? Number(spec.owner) : native('bindSocket').lookupUser(spec.owner)?.uid ?? refuse('user', spec.owner);
  }
  if (spec.group !== undefined) {
    access.gid = /^[0-9]+$/.test(spec.group) ? Number(spec.group) : native('bindSocket').lookupGroup(spec.group) ?? refuse('group', spec.group);
  }
  return access;
}

/**
 * The core of {@link bindSocket} for an address already resolved: binds (and
 * listens, for a stream), removing a stale Unix socket file first when asked
 * (default), and reports port 0 as the port the kernel chose.
 */
export async function bindAddress(
  kind: 'stream' | 'dgram',
  requested: BoundAddress,
  options: { backlog?: number; ipv6Only?: boolean; name?: string; removeStale?: boolean; mode?: number; uid?: number; gid?: number } = {},
): Promise<BoundSocket> {
  let address = requested;
  const backlog = kind === 'dgram' ? 0 : options.backlog ?? DEFAULT_BACKLOG;
  const ipv6Only = options.ipv6Only ?? false;
  const access = { mode: options.mode, uid: options.uid, gid: options.gid };
  let fd: number;
  try {
    fd = bindNow(kind, address, backlog, ipv6Only, access);
  } catch (err) {
    const path = address.family === 'unix' ? address.path : undefined;
    const stale = path !== undefined && (err as { errno?: number }).errno === -EADDRINUSE && (options.removeStale ?? true);
    if (!stale || !(await removeStaleSocket(path))) throw err;
    fd = bindNow(kind, address, backlog, ipv6Only, access);
  }
  if (address.family !== 'unix' && address.port === 0) {
    address = { ...address, port: native('bindSocket').inspectFd(fd).port ?? 0 };
  }
  return { fd, kind, name: options.name, address };
}

function bindNow(kind: 'stream' | 'dgram', address: BoundAddress, backlog: number, ipv6Only: boolean, access: { mode?: number; uid?: number; gid?: number }): number {
  try {
    return native('bindSocket').listenSocket({
      family: address.family,
      type: kind,
      address: address.family === 'unix' ? '' : address.address,
      port: address.family === 'unix' ? 0 : address.port,
      path: address.family === 'unix' ? address.path : '',
      backlog,
      ipv6Only,
      ...(address.family === 'unix' ? access : {}),
    });
  } catch (err) {
    // Node reports every failure to set up a server as a 'listen' error
    // (libuv defers bind errors to listen); a datagram socket's as 'bind'.
    if (!isNativeErrno(err)) throw err;
    const syscall = kind === 'stream' && err.syscall === 'bind' ? 'listen' : err.syscall;
    throw address.family === 'unix' ? addressError(err.errno, syscall, address.path) : addressError(err.errno, syscall, address.address, address.port);
  }
}

// A socket file that refuses connections has no server behind it.
async function removeStaleSocket(path: string): Promise<boolean> {
  if (path.startsWith('@')) return false;
  try {
    if (!lstatSync(path).isSocket()) return false;
  } catch {
    return false;
  }
  const refused = await new Promise<boolean>((resolveProbe) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolveProbe(false);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolveProbe(err.code === 'ECONNREFUSED'));
  });
  if (!refused) return false;
  try {
    unlinkSync(path);
  } catch {
    // someone else removed it: bind again anyway
  }
  return true;
}

/** The address a socket is bound to, from what inspectFd read; null for a socket that is not inet or unix. */
export function boundAddressOf(info: NativeFdInfo): BoundAddress | null {
  if (info.family === 'unix') return { family: 'unix', path: info.path ?? '' };
  if (info.family === 'IPv4' || info.family === 'IPv6') return { family: info.family, address: info.address ?? '', port: info.port ?? 0 };
  return null;
}

/**
 * An address in the CLI's own notation: `127.0.0.1:8080`, `[::1]:8080`,
 * `unix:/run/app.sock`, `udp:0.0.0.0:53`.
 */
export function formatAddress(kind: 'stream' | 'dgram', address: BoundAddress): string {
  if (address.family === 'unix') return `unix:${address.path}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${kind === 'dgram' ? 'udp:' : ''}${host}:${address.port}`;
}

let ipv6: boolean | undefined;

/** Whether this host can bind IPv6 at all (a container may have it disabled). */
export function ipv6Available(): boolean {
  if (ipv6 !== undefined) return ipv6;
  try {
    const fd = native('bindSocket').listenSocket({ family: 'IPv6', type: 'dgram', address: '::1', port: 0, path: '', backlog: 0, ipv6Only: true });
    closeSync(fd);
    ipv6 = true;
  } catch {
    ipv6 = false;
  }
  return ipv6;
}
