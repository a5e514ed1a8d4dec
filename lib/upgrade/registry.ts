import { constants as osConstants } from 'node:os';
import { addressError, closeQuietly, HandoverError, invalidType, invalidValue } from '../core';
import { setCloexec } from '../native';
import { addressKey, bindAddress, type BoundAddress, checkFdName, type InheritedFd, ipv6Available, type ListenSpec, resolveHost } from '../protocol';

const EADDRINUSE = (osConstants.errno as Record<string, number>).EADDRINUSE;

/** One fd handed to the next generation. */
export interface Passed {
  fd: number;
  name: string;
  /** Address key for sockets; undefined for named files. */
  key?: string;
}

/**
 * The fds of one generation: what it inherited (LISTEN_FDS) and has not
 * claimed yet, and what it will hand to the next generation. A listener is
 * claimed by its real address (the kernel's, read off the fd), never by its
 * position; a named file by its name.
 */
export class FdRegistry {
  #inherited: InheritedFd[];
  #passed: Passed[] = [];
  #ipv6: boolean | undefined;
  readonly #log: (line: string) => void;
  readonly #onMisnamed: (err: HandoverError) => void;

  /** `onMisnamed`: an inherited fd whose name does not fit what it is (a fresh one is used instead). */
  constructor(inherited: InheritedFd[], log: (line: string) => void, onMisnamed: (err: HandoverError) => void) {
    this.#inherited = inherited;
    this.#log = log;
    this.#onMisnamed = onMisnamed;
  }

  /** Inherited fds not claimed yet. */
  get unclaimed(): readonly { fd: number; name: string }[] {
    return this.#inherited.map(({ fd, name }) => ({ fd, name }));
  }

  /** What goes to the next generation, in fd order from 3. */
  get passed(): readonly Passed[] {
    return this.#passed;
  }

  /** A listening stream socket for `spec`: the inherited one with the same real address, else a new one. */
  async streamFd(spec: ListenSpec): Promise<number> {
    const address = await this.#resolve(spec);
    const claimed = this.#claimSocket('stream', spec.name, address);
    if (claimed !== undefined) return claimed;
    const bound = await bindAddress('stream', address, { backlog: spec.backlog, ipv6Only: spec.kind === 'tcp' ? spec.ipv6Only : false });
    this.#register(bound.fd, spec.name, 'stream', bound.address);
    return bound.fd;
  }

  /** A bound UDP socket: the inherited one with the same address, else a new one. */
  async packetFd(type: 'udp4' | 'udp6', port: number, host: string | undefined, name: string | undefined): Promise<number> {
    const resolved = await resolveHost(host ?? (type === 'udp6' ? '::' : '0.0.0.0'), true);
    const address: BoundAddress = { family: resolved.family, address: resolved.address, port };
    const claimed = this.#claimSocket('dgram', name, address);
    if (claimed !== undefined) return claimed;
    const bound = await bindAddress('dgram', address, { ipv6Only: type === 'udp6' });
    this.#register(bound.fd, name, 'dgram', bound.address);
    return bound.fd;
  }

  /** A named fd that is not a listener: the inherited one, else what `open()` returns, else null. */
  file(name: string, open?: () => number): number | null {
    checkFdName(name);
    if (open !== undefined && typeof open !== 'function') invalidType('open', 'a function', open);
    if (this.#passed.some((p) => p.name === name && p.key === undefined)) {
      invalidValue('name', 'is already handed over by this generation', name);
    }
    const index = this.#inherited.findIndex((f) => f.name === name && !(f.info.type === 'socket' && f.info.listening));
    if (index < 0) {
      const misnamed = this.#inherited.find((f) => f.name === name);
      if (misnamed) this.#misnamed(misnamed, 'a listening socket, not a file');
    } else {
      const [inherited] = this.#inherited.splice(index, 1);
      this.#passed.push({ fd: inherited.fd, name });
      return inherited.fd;
    }
    if (!open) return null;
    const fd = open();
    if (!Number.isInteger(fd) || fd < 0) invalidType('open()', 'to return a file descriptor', fd);
    setCloexec(fd, true);
    this.#passed.push({ fd, name });
    return fd;
  }

  /** Closes the inherited fds nobody claimed; `say` tells of each. */
  closeUnclaimed(say?: (line: string) => void): void {
    for (const { fd, name } of this.#inherited.splice(0)) {
      say?.(`closing unclaimed inherited fd ${fd} (${name})`);
      closeQuietly(fd);
    }
  }

  /**
   * Closes our copies of the sockets (the servers keep their own
   * duplicates); named files stay open: the app writes to those very fds.
   */
  closeSockets(): void {
    this.#passed = this.#passed.filter(({ fd, key }) => {
      if (key === undefined) return true;
      closeQuietly(fd);
      return false;
    });
  }

  async #resolve(spec: ListenSpec): Promise<BoundAddress> {
    if (spec.kind === 'unix') return { family: 'unix', path: spec.path };
    if (spec.host === undefined) this.#ipv6 ??= ipv6Available();
    const resolved = await resolveHost(spec.host, this.#ipv6 ?? true);
    return { ...resolved, port: spec.port };
  }

  #claimSocket(kind: 'stream' | 'dgram', name: string | undefined, address: BoundAddress): number | undefined {
    const wanted = addressKey(kind, address);
    const anyPort = address.family !== 'unix' && address.port === 0;
    if (!anyPort && this.#passed.some((p) => p.key === wanted)) {
      throw addressInUse(address);
    }
    // The real address decides. For port 0 ("any port on this host") a name
    // picks among the listeners there: the same name first, then one passed
    // without a name ('unknown', systemd's default); an unnamed request takes
    // an unnamed listener first, then any.
    const wantedName = name ?? 'unknown';
    const rank = (f: InheritedFd): number => {
      const info = f.info;
      if (!isSocketOfKind(f, kind)) return -1;
      if (address.family === 'unix') return info.family === 'unix' && info.path === address.path ? 0 : -1;
      if (info.family !== address.family || info.address !== address.address) return -1;
      if (!anyPort) return info.port === address.port ? 0 : -1;
      if (f.name === wantedName) return 0;
      if (f.name === 'unknown') return 1;
      return name === undefined ? 2 : -1;
    };
    let index = -1;
    let best = Infinity;
    this.#inherited.forEach((f, i) => {
      const r = rank(f);
      if (r >= 0 && r < best) {
        best = r;
        index = i;
      }
    });
    if (index < 0) {
      const misnamed = name === undefined ? undefined : this.#inherited.find((f) => f.name === name && !isSocketOfKind(f, kind));
      if (misnamed) this.#misnamed(misnamed, kind === 'stream' ? 'not a listening stream socket' : 'not a datagram socket');
      return undefined;
    }
    const [found] = this.#inherited.splice(index, 1);
    const real = boundAddressOf(found);
    this.#passed.push({ fd: found.fd, name: name ?? found.name, key: addressKey(kind, real) });
    this.#log(`adopted inherited fd ${found.fd} for ${addressKey(kind, real)}`);
    return found.fd;
  }

  // A name says what an fd is for; an fd that is something else is a
  // configuration error upstream. Not fatal: the caller binds or opens afresh,
  // and the fd is closed at ready() with the other unclaimed ones.
  #misnamed(f: InheritedFd, what: string): void {
    this.#onMisnamed(new HandoverError('ERR_INHERITED_FDS', `inherited fd ${f.fd} is named "${f.name}" but is ${what}: using a new one`, { fd: f.fd, name: f.name }));
  }

  /** `address` is the real one (bindAddress replaced port 0). */
  #register(fd: number, name: string | undefined, kind: 'stream' | 'dgram', address: BoundAddress): void {
    this.#passed.push({ fd, name: name ?? 'unknown', key: addressKey(kind, address) });
  }
}

function isSocketOfKind(f: InheritedFd, kind: 'stream' | 'dgram'): boolean {
  return f.info.type === 'socket' && f.info.socketType === kind && (kind === 'dgram' || f.info.listening === true);
}

function boundAddressOf(f: InheritedFd): BoundAddress {
  const info = f.info;
  if (info.family === 'unix') return { family: 'unix', path: info.path ?? '' };
  return { family: info.family === 'IPv6' ? 'IPv6' : 'IPv4', address: info.address ?? '', port: info.port ?? 0 };
}

function addressInUse(address: BoundAddress): Error {
  const note = 'this generation already listens on it';
  return address.family === 'unix' ? addressError(-EADDRINUSE, 'listen', address.path, undefined, note) : addressError(-EADDRINUSE, 'listen', address.address, address.port, note);
}
