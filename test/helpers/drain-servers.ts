/**
 * Servers and clients for the drain tests: two generations sharing one
 * listening socket in one process, and a raw HTTP/1.1 connection whose every
 * byte and close the test can see.
 */
import { closeSync } from 'node:fs';
import { once } from 'node:events';
import * as net from 'node:net';
import { dupCloexec } from '../../lib/native/fd';
import { ResponseParser, type ParsedResponse } from './load-client';

/**
 * The fd of a listening server's socket. Reading `_handle` is the one private
 * access the tests allow themselves: it stands for the fd a real upgrade
 * passes to the next process.
 */
export function listenerFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the server has no listening fd');
  return fd;
}

/** Listens on 127.0.0.1, port 0; returns the port. */
export async function listenLocal(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/**
 * Makes `next` accept from the same kernel socket as `previous` (another fd,
 * as the next generation would have it): both accept from one queue.
 */
export async function listenOnSameSocket(next: net.Server, previous: net.Server): Promise<void> {
  const fd = dupCloexec(listenerFd(previous));
  try {
    next.listen({ fd });
    await once(next, 'listening');
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Closes a server and destroys its HTTP connections (test clean-up). */
export async function closeServer(server: net.Server): Promise<void> {
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  if (!server.listening) return;
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** One client connection that sends requests one at a time and reports exactly what it sees. */
export class RawHttpConnection {
  readonly socket: net.Socket;
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<void>;
  /** The server sent EOF. */
  ended = false;
  /** Socket errors seen (ECONNRESET...). */
  readonly errors: Error[] = [];
  readonly #parser = new ResponseParser();
  #pending: { resolve: (r: ParsedResponse) => void; reject: (e: Error) => void } | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const response of this.#parser.push(chunk)) this.#settle(undefined, response);
      } catch (err) {
        this.#settle(err as Error);
      }
    });
    socket.on('end', () => {
      this.ended = true;
      this.#settle(new Error('EOF before the response'));
    });
    socket.on('error', (err) => {
      this.errors.push(err);
      this.#settle(err);
    });
    socket.on('close', () => this.#settle(new Error('closed before the response')));
  }

  /** Connects to 127.0.0.1:port. */
  static async open(port: number): Promise<RawHttpConnection> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawHttpConnection(socket);
  }

  /** Sends `GET path` (keep-alive unless a header says otherwise) and waits for its response. */
  request(path = '/', headers = ''): Promise<ParsedResponse> {
    if (this.#pending) throw new Error('one request at a time');
    const response = new Promise<ParsedResponse>((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`);
    return response;
  }

  /** Writes raw bytes. */
  write(data: string): void {
    this.socket.write(data);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #settle(err: Error | undefined, response?: ParsedResponse): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    if (err) pending.reject(err);
    else pending.resolve(response!);
  }
}

/**
 * What a test opened — servers, client connections, anything with a clean-up
 * function — closed in reverse order by `cleanup()` (call it in afterEach),
 * whatever the test did.
 */
export class TestResources {
  readonly #cleanups: (() => unknown)[] = [];

  /** Runs `fn` at the next cleanup(). */
  add(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  /** Closes `server` (and its connections) at the next cleanup(). */
  server<T extends net.Server>(server: T): T {
    this.add(() => closeServer(server));
    return server;
  }

  /** A RawHttpConnection to 127.0.0.1:port, destroyed at the next cleanup(). */
  async connect(port: number): Promise<RawHttpConnection> {
    const connection = await RawHttpConnection.open(port);
    this.add(() => connection.destroy());
    return connection;
  }

  async cleanup(): Promise<void> {
    for (const fn of this.#cleanups.splice(0).reverse()) await fn();
  }
}
