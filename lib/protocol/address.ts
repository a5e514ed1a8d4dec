import type * as Dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { invalidType, invalidValue } from '../core';

/** Node's default backlog for net.Server#listen. */
export const DEFAULT_BACKLOG = 511;

/** A stream listener request, as net.Server#listen takes it. */
export type ListenSpec =
  | { kind: 'tcp'; host?: string; port: number; backlog?: number; ipv6Only?: boolean; name?: string }
  | {
      kind: 'unix';
      path: string;
      backlog?: number;
      name?: string;
      /** The socket file's mode (`mode=0660`); default: what the umask leaves. */
      mode?: number;
      /** Its owner and group (`owner=USER[:GROUP]`, `owner=:GROUP`), names or numeric ids; default: the binder's. */
      owner?: string;
      group?: string;
    };

/** A datagram socket request. */
export interface PacketSpec {
  kind: 'udp';
  type: 'udp4' | 'udp6';
  host?: string;
  port: number;
  name?: string;
}

/** A concrete address, after name resolution: what a socket is bound to. */
export type BoundAddress =
  | { family: 'IPv4' | 'IPv6'; address: string; port: number }
  | { family: 'unix'; path: string };

function checkPort(name: string, port: unknown): number {
  const n = typeof port === 'string' && /^[0-9]+$/.test(port) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    invalidValue(name, 'must be a port number from 0 to 65535', port);
  }
  return n;
}

/** A name for LISTEN_FDNAMES: systemd's rules (printable ASCII, no ':', at most 255). */
export function checkFdName(name: unknown): string {
  if (typeof name !== 'string') invalidType('name', 'of type string', name);
  if (!/^[\x21-\x39\x3b-\x7e]{1,255}$/.test(name)) {
    invalidValue('name', 'must be 1 to 255 printable ASCII characters without ":" or spaces', name);
  }
  return name;
}

/**
 * The forms of net.Server#listen: `(port[, host][, backlog])`, `(path)`,
 * `({ port, host, path, backlog, ipv6Only, name })`; a trailing callback is
 * ignored here (the caller handles it).
 */
export function parseListenArgs(args: unknown[]): ListenSpec {
  const list = typeof args[args.length - 1] === 'function' ? args.slice(0, -1) : args;
  const [first, second, third] = list;
  if (first !== null && typeof first === 'object') {
    const o = first as Record<string, unknown>;
    if (o.fd !== undefined || o.handle !== undefined) invalidValue('options', 'may not name a handle or fd: handover owns the sockets', o);
    const name = o.name === undefined ? undefined : checkFdName(o.name);
    const backlog = o.backlog === undefined ? undefined : checkBacklog(o.backlog);
    if (o.path !== undefined) {
      if (typeof o.path !== 'string' || o.path === '') invalidType('options.path', 'a non-empty string', o.path);
      return { kind: 'unix', path: unixPath(o.path), backlog, name };
    }
    const host = o.host === undefined ? undefined : checkHost('options.host', o.host);
    if (o.ipv6Only !== undefined && typeof o.ipv6Only !== 'boolean') invalidType('options.ipv6Only', 'of type boolean', o.ipv6Only);
    return { kind: 'tcp', port: checkPort('options.port', o.port ?? 0), host, backlog, ipv6Only: o.ipv6Only as boolean | undefined, name };
  }
  if (typeof first === 'string' && !/^[0-9]+$/.test(first)) {
    return { kind: 'unix', path: unixPath(first), backlog: second === undefined ? undefined : checkBacklog(second) };
  }
  if (first === undefined || first === null || typeof first === 'number' || typeof first === 'string') {
    const port = checkPort('port', first ?? 0);
    let host: string | undefined;
    let backlog: number | undefined;
    if (typeof second === 'string') {
      host = checkHost('host', second);
      if (third !== undefined) backlog = checkBacklog(third);
    } else if (second !== undefined) {
      backlog = checkBacklog(second);
    }
    return { kind: 'tcp', port, host, backlog };
  }
  invalidType('port', 'a port number, a path or an options object', first);
}

/**
 * The CLI's address forms: `8080`, `127.0.0.1:8080`, `[::1]:8080`, `:8080`,
 * `unix:/path` (optionally `,mode=0660`, `,owner=USER[:GROUP]`),
 * `unix:@abstract`, `udp:host:port`, each optionally `name=...`.
 */
export function parseAddress(text: string): ListenSpec | PacketSpec {
  if (typeof text !== 'string' || text === '') invalidType('address', 'a non-empty string', text);
  let rest = text;
  let name: string | undefined;
  const named = /^([^:=/[\]]+)=(.+)$/.exec(text);
  if (named) {
    name = checkFdName(named[1]);
    rest = named[2];
  }
  if (rest.startsWith('unix:')) {
    const { path, access } = unixOptions(rest.slice(5), text);
    if (path === '' || path === '@') invalidValue('address', 'needs a path after "unix:" (unix:/run/app.sock, or unix:@name for an abstract socket)', text);
    if (path.startsWith('@') && Object.keys(access).length > 0) invalidValue('address', 'names an abstract socket, and an abstract socket has no file, so no mode= or owner=', text);
    return { kind: 'unix', path: unixPath(path), name, ...access };
  }
  let udp = false;
  if (rest.startsWith('udp:')) {
    udp = true;
    rest = rest.slice(4);
  } else if (rest.startsWith('tcp:')) {
    rest = rest.slice(4);
  }
  let host: string | undefined;
  let portText = rest;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (rest.includes(':')) {
    const colon = rest.lastIndexOf(':');
    host = rest.slice(0, colon) || undefined;
    portText = rest.slice(colon + 1);
    // "::1:8080" could be [::1]:8080 or the address ::1:8080 with no port.
    if (host !== undefined && host.includes(':')) invalidValue('address', `is ambiguous: write an IPv6 address in brackets, as in [${host}]:${portText}`, text);
  }
  if (!/^[0-9]+$/.test(portText)) invalidValue('address', 'must end with a port number (8080, 127.0.0.1:8080, [::1]:8080, unix:/path)', text);
  if (Number(portText) > 65535) invalidValue('address', `has port ${portText}, but a port is a number from 0 to 65535`, text);
  const port = Number(portText);
  if (host !== undefined) checkHost('address', host);
  if (udp) return { kind: 'udp', type: host !== undefined && isIP(host) === 6 ? 'udp6' : 'udp4', host, port, name };
  return { kind: 'tcp', host, port, name };
}

/**
 * Splits `PATH,mode=0660,owner=USER:GROUP` (options in any order, each at
 * most once) into the path and what the options ask for. Only a trailing
 * `,key=value` without '/' is an option, so a path may hold commas.
 */
function unixOptions(text: string, whole: string): { path: string; access: { mode?: number; owner?: string; group?: string } } {
  const access: { mode?: number; owner?: string; group?: string } = {};
  const seen = new Set<string>();
  let path = text;
  for (let m = /,([A-Za-z]+)=([^,/]*)$/.exec(path); m !== null; m = /,([A-Za-z]+)=([^,/]*)$/.exec(path)) {
    const [option, key, value] = m;
    path = path.slice(0, -option.length);
    if (seen.has(key)) invalidValue('address', `has ${key}= twice`, whole);
    seen.add(key);
    if (key === 'mode') {
      if (!/^0?[0-7]{1,3}$/.test(value)) invalidValue('address', `has mode=${value}, but a mode is octal, 0000 to 0777 (mode=0660)`, whole);
      access.mode = parseInt(value, 8);
    } else if (key === 'owner') {
      const colon = value.indexOf(':');
      const user = colon < 0 ? value : value.slice(0, colon);
      const group = colon < 0 ? '' : value.slice(colon + 1);
      if (user === '' && group === '') invalidValue('address', 'has an empty owner=: write owner=USER, owner=USER:GROUP or owner=:GROUP', whole);
      if (user !== '') access.owner = user;
      if (group !== '') access.group = group;
    } else {
      invalidValue('address', `has an unknown option ${key}= (a unix address takes mode= and owner=)`, whole);
    }
  }
  return { path, access };
}

function checkHost(name: string, host: unknown): string {
  if (typeof host !== 'string' || host === '') invalidType(name, 'a non-empty string', host);
  return host;
}

function checkBacklog(backlog: unknown): number {
  if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) invalidType('backlog', 'a non-negative integer', backlog);
  return backlog;
}

/** Absolute filesystem path, or '@name' (Linux abstract namespace) as given; Node's '\0name' becomes '@name'. */
function unixPath(path: string): string {
  if (path.startsWith('\0')) return '@' + path.slice(1);
  if (path.startsWith('@')) return path;
  return resolve(path);
}

/**
 * Resolves a host to the address a socket is bound to, the way Node's listen
 * does: no host means '::' (dual-stack), or '0.0.0.0' without IPv6; a name is
 * looked up (first answer).
 */
export async function resolveHost(host: string | undefined, ipv6Available: boolean): Promise<{ family: 'IPv4' | 'IPv6'; address: string }> {
  if (host === undefined) return ipv6Available ? { family: 'IPv6', address: '::' } : { family: 'IPv4', address: '0.0.0.0' };
  const literal = isIP(host);
  if (literal === 4) return { family: 'IPv4', address: host };
  if (literal === 6) return { family: 'IPv6', address: normalizeV6(host) };
  // node:dns is loaded for a host name only: most servers listen on a port or an IP.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { address, family } = await (require('node:dns/promises') as typeof Dns).lookup(host);
  return family === 6 ? { family: 'IPv6', address: normalizeV6(address) } : { family: 'IPv4', address };
}

/**
 * An IPv6 literal in inet_ntop's form — the form the kernel's bound address
 * is read back in — so that '0:0::1' matches '::1' and '::ffff:127.0.0.1'
 * stays dotted (WHATWG URLs would say '::ffff:7f00:1', which never matches).
 */
export function normalizeV6(address: string): string {
  // A zone ('fe80::1%eth0') is kept as written; the address before it is
  // normalised like any other, as inspectFd reads it back.
  const percent = address.indexOf('%');
  if (percent >= 0) return normalizeV6(address.slice(0, percent)) + address.slice(percent);
  const words = v6Words(address);
  if (words === null) return address;
  // The longest run of at least two zero words (the first of equal ones) becomes '::'.
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best.base) {
      out += '::';
      i += best.len - 1;
      continue;
    }
    // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d), dotted as glibc writes them.
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      if (!out.endsWith(':')) out += ':';
      out += `${words[6] >> 8}.${words[6] & 0xff}.${words[7] >> 8}.${words[7] & 0xff}`;
      break;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += words[i].toString(16);
  }
  return out;
}

// The eight 16-bit words of an IPv6 literal (with an optional dotted IPv4 tail), or null.
function v6Words(address: string): number[] | null {
  let text = address;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (isIP(dotted[2]) !== 4) return null;
    const [a, b, c, d] = dotted[2].split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((w) => (/^[0-9a-fA-F]{1,4}$/.test(w) ? parseInt(w, 16) : NaN)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const words = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest, ...tail];
  return words.some((w) => Number.isNaN(w)) ? null : words;
}

/** A stable key for an address: two sockets with the same key cannot both be bound. */
export function addressKey(kind: 'stream' | 'dgram', address: BoundAddress): string {
  return address.family === 'unix' ? `${kind}:unix:${address.path}` : `${kind}:${address.family}:[${address.address}]:${address.port}`;
}
