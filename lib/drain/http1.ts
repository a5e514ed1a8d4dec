import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';

/** On a socket: the latest response queued behind the one Node is sending (pipelining; noted by Connections). */
export const kQueued = Symbol('handover.queued');
/** On a socket: it left HTTP ('upgrade' or 'connect'). */
export const kLeft = Symbol('handover.left');
// Drain-time state lives beside the sockets, not on them: a property added to
// a socket at the drain would give it a new shape and deoptimize Node's
// optimized net, stream and http code for every socket at once.
const releasedSockets = new WeakMap<Http1Socket, Released>();

type Response = http.ServerResponse;
type Emit = (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
export type Http1Socket = Duplex & { [kQueued]?: WeakRef<Response>; [kLeft]?: true; _httpMessage?: Response | null };
interface Released {
  /** Weak: an idle timer left pending when its socket closes holds no socket (no 'close' listener clears it). */
  readonly socket: WeakRef<Http1Socket>;
  /** The last response handed to the application, until it has finished; the requests received since. */
  current: Response | undefined;
  readonly held: [event: string, req: http.IncomingMessage, res: Response][];
  pumping: boolean;
  idle?: NodeJS.Timeout;
  bytesReadAtIdle?: number;
}

const inFlight = (res: Response | undefined): res is Response => res !== undefined && !res.writableFinished && !res.destroyed;
const bytesRead = (socket: Duplex): number => (socket as { bytesRead?: number }).bytesRead ?? -1;
const isConnection = (name: unknown): boolean => typeof name === 'string' && name.toLowerCase() === 'connection';

// The response to the latest request while in flight: one queued behind the
// current one, else the one Node sends (its server sets `_httpMessage` when a
// response gets the socket, clears it when done). A record per request cost
// 1–3% of a hello-world server's throughput, or 2 KB per idle connection.
function latest(socket: Http1Socket): Response | undefined {
  const queued = socket[kQueued]?.deref();
  return inFlight(queued) ? queued : (socket._httpMessage ?? undefined);
}

/** Whether an HTTP/1 connection has a request in flight (pipelined ones count as one). */
export function busy(socket: Http1Socket): boolean {
  const released = releasedSockets.get(socket);
  return released ? inFlight(released.current) || released.held.length > 0 : inFlight(latest(socket));
}

/** The arguments of `writeHead(status, [message], [headers])` without a Connection header. */
function withoutConnection(args: unknown[]): unknown[] {
  const at = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[at];
  if (headers === null || typeof headers !== 'object') return args;
  let kept: unknown;
  if (!Array.isArray(headers)) kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !isConnection(name)));
  else if (Array.isArray(headers[0])) kept = headers.filter((pair: unknown[]) => !isConnection(pair[0]));
  else kept = headers.flatMap((value, i) => (i % 2 === 1 || isConnection(value) ? [] : [value, headers[i + 1]]));
  return [...args.slice(0, at), kept, ...args.slice(at + 1)];
}

/**
 * The drain rule for the HTTP/1 connections it applies to ("released"; see
 * docs/graceful-server.md): one request at a time ('request', 'checkContinue',
 * 'checkExpectation' are held, the server's `emit` wrapped, until the answer
 * before has finished and the current read is parsed, since a head is fixed
 * before Node parses the request pipelined behind it); `Connection: close` on
 * a head written while nothing is held, over the application's own; an idle
 * connection closed (FIN) once nothing arrived on it for `idleBound` ms.
 */
export class Http1Drain {
  readonly #server: net.Server;
  readonly #emit: Emit;
  readonly #idleBound: number;

  constructor(server: net.Server, idleBound: number) {
    this.#server = server;
    this.#idleBound = idleBound;
    const emit = (this.#emit = server.emit as Emit);
    const hold = (event: string, req: http.IncomingMessage, res: Response): boolean => this.#hold(event, req, res);
    server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
      if ((event === 'request' || event === 'checkContinue' || event === 'checkExpectation') && hold(event, args[0] as http.IncomingMessage, args[1] as Response)) return true;
      return emit.call(this, event, ...args);
    };
  }

  /** Applies the rule to `socket` from now on. */
  release(socket: Http1Socket): void {
    if (releasedSockets.has(socket) || socket.destroyed || socket[kLeft]) return;
    const current = latest(socket);
    const released: Released = { socket: new WeakRef(socket), current: inFlight(current) ? current : undefined, held: [], pumping: false };
    releasedSockets.set(socket, released);
    if (released.current) this.#closeIfLast(released, released.current);
    else this.#becameIdle(socket, released);
  }

  /** A response on `socket` has finished. */
  finished(socket: Http1Socket, res: Response): void {
    const released = releasedSockets.get(socket);
    if (released?.current !== res) return;
    released.current = undefined;
    if (released.held.length > 0) this.#pumpSoon(socket, released);
    // Node ends the connection after this response (its `_last`): no idle timer to outlive it.
    else if ((res as { _last?: unknown })._last !== true) this.#becameIdle(socket, released);
  }

  #hold(event: string, req: http.IncomingMessage, res: Response): boolean {
    const released = releasedSockets.get(req.socket as Http1Socket);
    if (released === undefined || req.httpVersionMajor !== 1) return false;
    clearTimeout(released.idle);
    // The client's last request (Connection: close, or HTTP/1.0 without
    // keep-alive): Node answers it with Connection: close and ends the
    // connection, and nothing may follow it on the connection (RFC 9112
    // 9.6), so there is nothing to hold it for: it goes to the application
    // now. The common case of a connection accepted during a ramp.
    if (event === 'request' && (res as { shouldKeepAlive?: unknown }).shouldKeepAlive === false && released.held.length === 0 && !inFlight(released.current)) {
      released.current = res;
      return false;
    }
    released.held.push([event, req, res]);
    this.#pumpSoon(req.socket as Http1Socket, released);
    return true;
  }

  // On the next tick: after Node has parsed everything the current read brought.
  #pumpSoon(socket: Http1Socket, released: Released): void {
    if (released.pumping) return;
    released.pumping = true;
    process.nextTick(() => {
      released.pumping = false;
      while (released.held.length > 0 && !inFlight(released.current) && !socket.destroyed) {
        const [event, req, res] = released.held.shift()!;
        this.#closeIfLast(released, (released.current = res));
        this.#emit.call(this.#server, event, req, res);
      }
      if (!busy(socket)) this.#becameIdle(socket, released);
    });
  }

  #closeIfLast(released: Released, res: Response): void {
    if (res.headersSent) return;
    const writeHead = res.writeHead as (...args: unknown[]) => Response;
    res.writeHead = function (this: Response, ...args: unknown[]): Response {
      if (released.held.length > 0 || this.headersSent) return writeHead.apply(this, args);
      this.setHeader('Connection', 'close');
      return writeHead.apply(this, withoutConnection(args));
    } as Response['writeHead'];
  }

  #becameIdle(socket: Http1Socket, released: Released): void {
    clearTimeout(released.idle);
    released.bytesReadAtIdle = bytesRead(socket);
    released.idle = setTimeout(() => {
      const socket = released.socket.deref() as (Http1Socket & { destroySoon?: () => void }) | undefined;
      if (socket === undefined || socket.destroyed || socket[kLeft] || busy(socket)) return;
      // Bytes of a request whose head is not complete yet: its client is sending.
      if (bytesRead(socket) !== released.bytesReadAtIdle) return this.#becameIdle(socket, released);
      if (typeof socket.destroySoon === 'function') socket.destroySoon();
      else socket.end();
    }, this.#idleBound).unref();
  }
}
