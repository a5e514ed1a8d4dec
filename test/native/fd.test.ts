// inspectFd, setCloexec and dupCloexec on real sockets, files, pipes and
// devices, checked against the kernel's own view in /proc/self/fdinfo.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dupCloexec, HandoverError, inspectFd, setCloexec } from '../../lib/index';
import { removeTempDirs, tempDir } from '../helpers/children';
import { makePipe } from '../helpers/fds';
import { FDINFO_CLOEXEC, FDINFO_NONBLOCK, fdInfoFlags, fdTarget, openFds } from '../helpers/proc';

let dir: string;
const toClose: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  dir = tempDir();
});

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(() => removeTempDirs());

/** The fd of a net.Server or net.Socket (Node has no public accessor). */
function fdOf(handleOwner: Server | Socket): number {
  return (handleOwner as unknown as { _handle: { fd: number } })._handle.fd;
}

async function listen(server: Server, ...args: unknown[]): Promise<Server> {
  (server.listen as (...a: unknown[]) => Server)(...args);
  await once(server, 'listening');
  toClose.push(() => new Promise((resolve) => server.close(() => resolve())));
  return server;
}

/** The fd of a socket found by what the kernel says it is (dgram hides its handle). */
function findSocketFd(match: (info: ReturnType<typeof inspectFd>) => boolean): number {
  const found = openFds().filter((fd) => {
    try {
      return match(inspectFd(fd));
    } catch {
      return false;
    }
  });
  expect(found).toHaveLength(1);
  return found[0];
}

function canListenOn(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, host, () => probe.close(() => resolve(true)));
  });
}

describe('inspectFd', () => {
  it('a TCP IPv4 listener', async () => {
    const server = await listen(createServer(), 0, '127.0.0.1');
    const { port } = server.address() as { port: number };
    const fd = fdOf(server);
    expect(inspectFd(fd)).toEqual({
      fd,
      type: 'socket',
      cloexec: true,
      nonblocking: true,
      family: 'IPv4',
      socketType: 'stream',
      listening: true,
      address: '127.0.0.1',
      port,
    });
  });

  it('a TCP IPv6 listener (on ::1 when the host has it, else on ::)', async () => {
    // Fall back to the wildcard so that the test runs everywhere IPv6 exists.
    const host = (await canListenOn('::1')) ? '::1' : '::';
    const server = await listen(createServer(), { port: 0, host, ipv6Only: true });
    const { port } = server.address() as { port: number };
    expect(inspectFd(fdOf(server))).toMatchObject({ type: 'socket', family: 'IPv6', socketType: 'stream', listening: true, address: host, port });
  });

  it('a connected TCP socket, both ends: not listening, their own addresses', async () => {
    const server = await listen(createServer(), 0, '127.0.0.1');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = createConnection((server.address() as { port: number }).port, '127.0.0.1');
    await once(client, 'connect');
    const [peer] = await accepted;
    toClose.push(() => {
      client.destroy();
      peer.destroy();
    });
    expect(inspectFd(fdOf(client))).toMatchObject({
      type: 'socket', family: 'IPv4', socketType: 'stream', listening: false, address: '127.0.0.1', port: client.localPort,
    });
    expect(inspectFd(fdOf(peer))).toMatchObject({
      type: 'socket', family: 'IPv4', socketType: 'stream', listening: false, address: '127.0.0.1', port: (server.address() as { port: number }).port,
    });
  });

  it('a UDP socket', async () => {
    const socket: UdpSocket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    toClose.push(() => new Promise((resolve) => socket.close(() => resolve())));
    const { port } = socket.address();
    const fd = findSocketFd((info) => info.socketType === 'dgram' && info.port === port && info.family === 'IPv4');
    expect(inspectFd(fd)).toEqual({
      fd, type: 'socket', cloexec: true, nonblocking: true, family: 'IPv4', socketType: 'dgram', listening: false, address: '127.0.0.1', port,
    });
  });

  it('a Unix stream listener at a path', async () => {
    const path = join(dir, 'stream.sock');
    const server = await listen(createServer(), path);
    expect(inspectFd(fdOf(server))).toMatchObject({ type: 'socket', family: 'unix', socketType: 'stream', listening: true, path });
    expect(inspectFd(fdOf(server))).not.toHaveProperty('port');
  });

  it('an abstract Unix socket (Linux): path @name', async () => {
    const name = `handover-test-${process.pid}-${Date.now()}`;
    const server = await listen(createServer(), `\0${name}`);
    const info = inspectFd(fdOf(server));
    expect(info).toMatchObject({ type: 'socket', family: 'unix', socketType: 'stream', listening: true });
    // Node 20 (libuv's uv_pipe_bind) binds abstract names with the whole
    // sizeof(sun_path), so the kernel's name is padded with NULs: the path
    // must still read '@name', as Node's own '\0name' does.
    expect(JSON.stringify(info.path)).toBe(JSON.stringify(`@${name}`));
  });

  it('a regular file, a directory, a pipe, /dev/null', () => {
    const file = join(dir, 'regular');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    mkdirSync(join(dir, 'sub'));
    const directory = openSync(join(dir, 'sub'), 'r');
    const devnull = openSync('/dev/null', 'r');
    const pipe = makePipe(dir);
    toClose.push(() => [fd, directory, devnull, pipe.read, pipe.write].forEach((f) => closeSync(f)));

    expect(inspectFd(fd)).toEqual({ fd, type: 'file', cloexec: true, nonblocking: false });
    expect(inspectFd(directory)).toMatchObject({ type: 'directory' });
    expect(inspectFd(devnull)).toEqual({ fd: devnull, type: 'character', cloexec: true, nonblocking: false });
    expect(inspectFd(pipe.read)).toEqual({ fd: pipe.read, type: 'fifo', cloexec: true, nonblocking: true });
    expect(inspectFd(pipe.write)).toEqual({ fd: pipe.write, type: 'fifo', cloexec: true, nonblocking: false });
  });

  it('a closed fd: EBADF with Node\'s shape, syscall fstat', () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    let error: NodeJS.ErrnoException | undefined;
    try {
      inspectFd(fd);
    } catch (err) {
      error = err as NodeJS.ErrnoException;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'EBADF', errno: -osConstants.errno.EBADF, syscall: 'fstat' });
    expect(error!.message).toBe('EBADF: bad file descriptor, fstat');
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '0'],
    ['beyond int32', 2 ** 31],
  ])('fd %s: ERR_INVALID_ARG_TYPE naming "fd"', (_name, fd) => {
    for (const call of [() => inspectFd(fd as number), () => setCloexec(fd as number, true), () => dupCloexec(fd as number)]) {
      let error: unknown;
      try {
        call();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(HandoverError);
      expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect((error as Error).message).toContain('"fd"');
    }
  });
});

describe('setCloexec', () => {
  it('round trip on a listening socket leaves O_NONBLOCK untouched', async () => {
    const server = await listen(createServer(), 0, '127.0.0.1');
    const fd = fdOf(server);
    const flags = fdInfoFlags(fd);
    expect(flags & FDINFO_CLOEXEC).toBe(FDINFO_CLOEXEC);
    expect(flags & FDINFO_NONBLOCK).toBe(FDINFO_NONBLOCK);

    setCloexec(fd, false);
    expect(fdInfoFlags(fd)).toBe(flags & ~FDINFO_CLOEXEC);
    expect(inspectFd(fd)).toMatchObject({ cloexec: false, nonblocking: true });
    setCloexec(fd, false); // idempotent
    expect(fdInfoFlags(fd)).toBe(flags & ~FDINFO_CLOEXEC);

    setCloexec(fd, true);
    expect(fdInfoFlags(fd)).toBe(flags);
    expect(inspectFd(fd)).toMatchObject({ cloexec: true, nonblocking: true });
  });

  it('round trip on a blocking file leaves it blocking', () => {
    const fd = openSync(join(dir, 'cloexec-file'), 'w');
    toClose.push(() => closeSync(fd));
    const flags = fdInfoFlags(fd);
    setCloexec(fd, false);
    expect(inspectFd(fd)).toMatchObject({ cloexec: false, nonblocking: false });
    expect(fdInfoFlags(fd)).toBe(flags & ~FDINFO_CLOEXEC);
    setCloexec(fd, true);
    expect(fdInfoFlags(fd)).toBe(flags);
  });

  it('EBADF for a closed fd; ERR_INVALID_ARG_TYPE for a non-boolean', () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    expect(() => setCloexec(fd, true)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -osConstants.errno.EBADF }));
    const open = openSync('/dev/null', 'r');
    toClose.push(() => closeSync(open));
    expect(() => setCloexec(open, 1 as unknown as boolean)).toThrow(expect.objectContaining({ name: 'HandoverError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"on"') }));
  });
});

describe('dupCloexec', () => {
  it('returns a new fd ≥ minFd, close-on-exec, pointing to the same file', () => {
    const path = join(dir, 'dup-me');
    writeFileSync(path, '');
    const fd = openSync(path, 'r');
    setCloexec(fd, false);
    toClose.push(() => closeSync(fd));

    const low = dupCloexec(fd);
    const high = dupCloexec(fd, 200);
    toClose.push(() => [low, high].forEach((f) => closeSync(f)));

    expect(low).toBeGreaterThanOrEqual(3);
    expect(low).not.toBe(fd);
    expect(high).toBeGreaterThanOrEqual(200);
    for (const copy of [low, high]) {
      expect(fdTarget(copy)).toBe(path);
      expect(inspectFd(copy)).toMatchObject({ type: 'file', cloexec: true });
      expect(fdInfoFlags(copy) & FDINFO_CLOEXEC).toBe(FDINFO_CLOEXEC);
    }
    // The original keeps its own flag.
    expect(inspectFd(fd).cloexec).toBe(false);
  });

  it('a dup of a listening socket is the same socket', async () => {
    const server = await listen(createServer(), 0, '127.0.0.1');
    const copy = dupCloexec(fdOf(server), 100);
    toClose.push(() => closeSync(copy));
    expect(copy).toBeGreaterThanOrEqual(100);
    expect(fdTarget(copy)).toBe(fdTarget(fdOf(server)));
    expect(inspectFd(copy)).toEqual({ ...inspectFd(fdOf(server)), fd: copy });
  });

  it('EINVAL (syscall dup) for a minFd beyond the fd limit', () => {
    expect(() => dupCloexec(0, 0x7fffffff)).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -osConstants.errno.EINVAL, syscall: 'dup', fd: 0 }));
  });

  it('EBADF (syscall dup) for a closed fd', () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    expect(() => dupCloexec(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'dup', message: 'EBADF: bad file descriptor, dup' }));
  });
});
