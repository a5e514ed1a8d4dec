import { lstatSync, mkdirSync, rmdirSync } from 'node:fs';
import * as net from 'node:net';
import { dirname } from 'node:path';
import { HandoverError, unlinkQuietly } from '../core';
import { native } from '../native';

/** One request on the control socket: a JSON object on one line. */
export interface ControlRequest {
  id?: unknown;
  command: string;
  [argument: string]: unknown;
}

/** The handler's answer: a result, or a HandoverError (its code and message go back). */
export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/** Most bytes of one request line: requests are small; a longer line is refused, not buffered. */
const MAX_LINE = 64 * 1024;

/**
 * The supervisor's control socket: a Unix stream socket in a directory of
 * its own, mode 0700, so that only its user (and root) can reach it — and,
 * because a directory's mode is only as good as its parents, each peer's
 * uid is checked with the kernel's credentials (SO_PEERCRED) too. The
 * protocol is newline-delimited JSON: `{"id": 1, "command": "status"}` in,
 * `{"id": 1, "ok": true, "result": ...}` or `{"id": 1, "ok": false, "error":
 * {"code": "ERR_...", "message": "..."}}` out, one line each, in the order of
 * the requests' completion.
 */
export class ControlServer {
  readonly path: string;
  readonly #server: net.Server;
  readonly #connections = new Set<net.Socket>();
  #madeDirs: string[];

  private constructor(path: string, server: net.Server, madeDirs: string[]) {
    this.path = path;
    this.#server = server;
    this.#madeDirs = madeDirs;
  }

  /** Makes the directory (0700), removes a stale socket, listens. Throws when another supervisor listens there. */
  static async open(path: string, handler: ControlHandler, log: (line: string) => void): Promise<ControlServer> {
    const madeDirs = privateDirectory(dirname(path));
    if (await answers(path)) throw new HandoverError('ERR_INVALID_ARG_VALUE', `another supervisor listens on the control socket ${path}: use --control to choose another`);
    unlinkQuietly(path);
    let control: ControlServer | undefined;
    const server = net.createServer((socket) => control!.#serve(socket, handler, log));
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(path, () => {
        server.off('error', rejectListen);
        resolveListen();
      });
    });
    server.unref();
    control = new ControlServer(path, server, madeDirs);
    return control;
  }

  /** Stops listening, ends every connection (after what was written), removes the socket and its directories. */
  async close(): Promise<void> {
    await new Promise<void>((done) => {
      this.#server.close(() => done());
      for (const socket of this.#connections) socket.end();
    });
    unlinkQuietly(this.path);
    for (const dir of this.#madeDirs.splice(0).reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty (someone else's) or gone
      }
    }
  }

  #serve(socket: net.Socket, handler: ControlHandler, log: (line: string) => void): void {
    this.#connections.add(socket);
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const refusal = peerRefusal(socket);
    if (refusal !== null) {
      log(`control: refused a connection: ${refusal}`);
      reply(socket, { ok: false, error: { code: 'ERR_NOT_SUPPORTED', message: refusal } });
      socket.end();
      return;
    }
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE && !buffer.includes('\n')) {
        reply(socket, { ok: false, error: { code: 'ERR_INVALID_ARG_VALUE', message: `a request line is longer than ${MAX_LINE} bytes` } });
        socket.destroy();
        return;
      }
      for (let eol = buffer.indexOf('\n'); eol >= 0; eol = buffer.indexOf('\n')) {
        const line = buffer.slice(0, eol).trim();
        buffer = buffer.slice(eol + 1);
        if (line !== '') void this.#answer(socket, line, handler);
      }
    });
  }

  async #answer(socket: net.Socket, line: string, handler: ControlHandler): Promise<void> {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
      if (request === null || typeof request !== 'object' || typeof request.command !== 'string') throw new Error('not an object with a "command"');
    } catch (err) {
      reply(socket, { ok: false, error: { code: 'ERR_INVALID_ARG_VALUE', message: `not a request: ${(err as Error).message}` } });
      return;
    }
    try {
      reply(socket, { id: request.id, ok: true, result: await handler(request) });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      reply(socket, { id: request.id, ok: false, error: { code: e.code ?? 'ERR_INVALID_ARG_VALUE', message: e.message ?? String(err) } });
    }
  }
}

function reply(socket: net.Socket, message: object): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
}

/** Why the peer may not use the socket, or null: only our own uid, and root, may. */
function peerRefusal(socket: net.Socket): string | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return 'the peer could not be identified';
  let peer: { pid: number; uid: number };
  try {
    peer = native('control').peerCredentials(fd);
  } catch (err) {
    return `the peer could not be identified: ${(err as Error).message}`;
  }
  const own = process.getuid?.();
  if (peer.uid === own || peer.uid === 0) return null;
  return `pid ${peer.pid} runs as uid ${peer.uid}; only uid ${own} and root may control this supervisor`;
}

/** True when something accepts connections at `path` now. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * Makes `dir` (and its missing parents) with mode 0700 and returns what it
 * made; an existing `dir` must be ours and reachable by nobody else, or the
 * socket in it could be swapped for another's.
 */
function privateDirectory(dir: string): string[] {
  const made: string[] = [];
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      lstatSync(d);
      break;
    } catch {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
  }
  for (const d of missing) {
    mkdirSync(d, { mode: 0o700 });
    made.push(d);
  }
  const st = lstatSync(dir);
  const own = process.getuid?.();
  if (!st.isDirectory()) throw new HandoverError('ERR_INVALID_ARG_VALUE', `the control socket's directory ${dir} is not a directory`);
  if (own !== undefined && st.uid !== own) throw new HandoverError('ERR_INVALID_ARG_VALUE', `the control socket's directory ${dir} belongs to uid ${st.uid}, not to us (uid ${own})`);
  if ((st.mode & 0o077) !== 0) throw new HandoverError('ERR_INVALID_ARG_VALUE', `the control socket's directory ${dir} has mode ${(st.mode & 0o777).toString(8)}: others could reach or replace the socket; make it 0700 or choose another with --control`);
  return made;
}
