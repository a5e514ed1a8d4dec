import { closeQuietly, unlinkQuietly } from '../core';
import { addressKey, bindSocket, type BoundAddress, boundAddressOf, formatAddress, type ListenSpec, type PacketSpec, takeInheritedFds } from '../protocol';

/** One socket the supervisor holds for life and passes to every generation. */
export interface SupervisorListener {
  fd: number;
  /** Its LISTEN_FDNAMES entry ('unknown' when none was given, as systemd does). */
  name: string;
  kind: 'stream' | 'dgram' | 'other';
  /** Bound address; undefined for an inherited fd that is not an inet or unix socket. */
  address: BoundAddress | undefined;
  /** Passed to the supervisor with LISTEN_FDS (systemd socket activation) rather than bound by it. */
  inherited: boolean;
  /** `127.0.0.1:8080`, `unix:/path`, `udp:[::]:53`, or `fd 5` for anything else. */
  text: string;
}

/** What the supervisor holds: the listeners, and what to close and remove at exit. */
export interface OpenedListeners {
  listeners: SupervisorListener[];
  /** Every fd to close at exit. */
  fds: number[];
  /** Unix socket paths bound here (not inherited): removed at exit. */
  paths: string[];
}

/**
 * Adopts what systemd passed (LISTEN_FDS, when `inherit`), then binds each of
 * `specs` that was not among it. Fills `into` as it goes, so that on an error
 * the caller can still close what was opened.
 */
export async function openListeners(
  into: OpenedListeners,
  specs: readonly (ListenSpec | PacketSpec)[],
  inherit: boolean,
  log: (line: string) => void,
  onListening: (listener: SupervisorListener) => void,
): Promise<void> {
  if (inherit) {
    const inheritance = takeInheritedFds(process.env);
    if (inheritance.error) log(`ignoring LISTEN_FDS: ${inheritance.error.message}`);
    for (const fd of inheritance.fds) {
      const address = fd.info.type === 'socket' ? boundAddressOf(fd.info) ?? undefined : undefined;
      const kind = fd.info.type === 'socket' && (fd.info.socketType === 'stream' || fd.info.socketType === 'dgram') ? fd.info.socketType : 'other';
      const listener: SupervisorListener = {
        fd: fd.fd,
        name: fd.name,
        kind,
        address,
        inherited: true,
        text: address && kind !== 'other' ? formatAddress(kind, address) : `fd ${fd.fd}`,
      };
      into.listeners.push(listener);
      into.fds.push(fd.fd);
      log(`adopted fd ${fd.fd} (${fd.name}) from LISTEN_FDS: ${listener.text}`);
      onListening(listener);
    }
  }
  for (const spec of specs) {
    const kind = spec.kind === 'udp' ? 'dgram' : 'stream';
    const duplicate = into.listeners.find((l) => l.inherited && l.kind === kind && l.address && sameAddress(kind, l.address, spec));
    if (duplicate) {
      log(`${duplicate.text} was passed with LISTEN_FDS (fd ${duplicate.fd}): not binding it again`);
      continue;
    }
    const bound = await bindSocket(spec);
    into.fds.push(bound.fd);
    if (bound.address.family === 'unix' && !bound.address.path.startsWith('@')) into.paths.push(bound.address.path);
    const listener: SupervisorListener = {
      fd: bound.fd,
      name: bound.name ?? 'unknown',
      kind: bound.kind,
      address: bound.address,
      inherited: false,
      text: formatAddress(bound.kind, bound.address),
    };
    into.listeners.push(listener);
    log(`listening on ${listener.text} (fd ${bound.fd}${bound.name ? `, ${bound.name}` : ''})`);
    onListening(listener);
  }
}

/**
 * Closes the listening sockets: no generation will be started any more, and
 * a port nobody will serve must refuse connections now rather than queue
 * them. The generations keep their own copies.
 */
export function closeListeners(opened: OpenedListeners): void {
  const listening = new Set(opened.listeners.map((l) => l.fd));
  for (const fd of listening) closeQuietly(fd);
  opened.fds = opened.fds.filter((fd) => !listening.has(fd));
}

/** Closes every fd still open and removes the Unix socket paths bound here. */
export function releaseAll(opened: OpenedListeners): void {
  for (const path of opened.paths) unlinkQuietly(path);
  for (const fd of opened.fds) closeQuietly(fd);
  opened.fds = [];
}

function sameAddress(kind: 'stream' | 'dgram', bound: BoundAddress, spec: { kind: string; path?: string; host?: string; port?: number }): boolean {
  if (spec.kind === 'unix') return bound.family === 'unix' && bound.path === spec.path;
  if (bound.family === 'unix' || spec.port === 0 || spec.port === undefined) return false;
  // Literal hosts only: a name would need resolving, and a miss just binds.
  if (spec.host === undefined) return bound.port === spec.port && (bound.address === '::' || bound.address === '0.0.0.0');
  const family = spec.host.includes(':') ? 'IPv6' : 'IPv4';
  return addressKey(kind, bound) === addressKey(kind, { family, address: spec.host, port: spec.port });
}

