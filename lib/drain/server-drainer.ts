import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { DrainCounter } from './counter';
import { IdleQueue, markIdle, type IdleConnection } from './idle';
import { observeWhileListened } from './listeners';
import { OpenList } from './open-list';
import { isHttpsServer, isTlsServer } from './tls-servers';
import { invalidType, invalidValue } from '../core';

/** Default `timeout` of {@link ServerDrainer.drain}: what is left after 30 s is destroyed. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;

/**
 * Idle bound of a draining HTTP/1 connection, in ms, when the server has no
 * keep-alive timeout of its own (`keepAliveTimeout` 0, or an HTTP/2 server
 * with `allowHTTP1`). It equals Node's default `keepAliveTimeout`.
 */
export const DEFAULT_DRAIN_IDLE_TIMEOUT = 5_000;

/** At most this many batches in a drain ramp (see DrainOptions.ramp). */
const RAMP_STEPS = 16;

/** Options of {@link ServerDrainer}. */
export interface ServerDrainerOptions {
  /**
   * How long (ms) a draining HTTP/1 connection may stay idle before it is
   * closed. Default: the server's `keepAliveTimeout` (plus
   * `keepAliveTimeoutBuffer` on Node ≥ 24.6), or
   * {@link DEFAULT_DRAIN_IDLE_TIMEOUT} when that is 0. A value below the
   * keep-alive timeout the server announces brings back the race the drain
   * avoids: a client may send on a connection just as it is closed.
   */
  idleTimeout?: number;
  /**
   * Called once per upgraded socket (HTTP 'upgrade' or 'connect': WebSocket,
   * tunnels) when the drain starts, or when the socket is upgraded during the
   * drain: the application says goodbye (a WebSocket close frame) and ends
   * the socket. Same as the `'upgraded-connection'` event.
   */
  onUpgraded?: (socket: net.Socket, req: http.IncomingMessage) => void;
  /**
   * Called once per connection of a plain net.Server or tls.Server when the
   * drain starts (or when it is established during the drain): the
   * application ends it when its protocol allows. Same as the
   * `'connection-drain'` event.
   */
  onConnectionDrain?: (socket: net.Socket) => void;
}

/** Options of {@link ServerDrainer.drain}. */
export interface DrainOptions {
  /**
   * Milliseconds after which every connection still open is destroyed (the
   * "hammer"). Default {@link DEFAULT_DRAIN_TIMEOUT}; `Infinity` never hammers.
   */
  timeout?: number;
  /**
   * Milliseconds over which the HTTP/1 keep-alive connections open at the
   * start of the drain are released, in equal batches, instead of all at
   * once (Envoy's "gradual" drain strategy). Until its turn comes a
   * connection is served as before the drain — keep-alive responses, no
   * idle closing — so the next generation takes the load over gradually
   * while its code is still cold, and the warm generation serves the rest.
   * Connections accepted after the drain started, HTTP/2 sessions, upgraded
   * sockets and plain connections are not ramped. Default 0 (all at once);
   * the drain `timeout` still applies to ramped connections.
   */
  ramp?: number;
  /**
   * Whether the listener stays open during the `ramp` (default true: the
   * successor and this server both accept meanwhile). false: it closes at
   * once, as without a ramp, and only the keep-alive connections are
   * released in batches — for a drain whose successor, if any, holds the
   * socket already.
   */
  acceptDuringRamp?: boolean;
}

/** What a drain did, for a log line. */
export interface DrainResult {
  /** From the call of `drain()` to its end, in whole milliseconds. */
  durationMs: number;
  /**
   * Connections destroyed at the timeout or by {@link ServerDrainer.hammer}
   * (0 when everything ended by itself). They close (and leave
   * {@link ServerDrainer.stats}) on the next turns of the event loop.
   */
  hammered: number;
  /** Connections open when the drain started. */
  connectionsAtStart: number;
  /** Requests (HTTP/1 requests and HTTP/2 streams) in flight when the drain started. */
  requestsAtStart: number;
}

/** A snapshot of what a {@link ServerDrainer} tracks. */
export interface DrainStats {
  /** Open connections (TCP, or Unix socket), including upgraded ones and TLS handshakes. */
  connections: number;
  /**
   * HTTP/1 requests and HTTP/2 streams in flight. Before the drain applies to
   * an HTTP/1 connection, requests pipelined on it count as one.
   */
  requests: number;
  /** Connections that left HTTP through 'upgrade' or 'connect' (a subset of `connections`). */
  upgraded: number;
}

/** Payload of the `'draining'` event. */
export interface DrainingInfo {
  /** Open connections when the drain started. */
  connections: number;
  /** Requests in flight when the drain started. */
  requests: number;
}

/** The events of {@link ServerDrainer} and their arguments. */
export type ServerDrainerEvents = {
  /** The drain started: the listener is closed (with a `ramp`, it closes when the ramp ends). */
  draining: [info: DrainingInfo];
  /** The drain ended (also after a hammer). */
  drained: [result: DrainResult];
  /** The timeout passed: `destroyed` connections were destroyed. */
  hammer: [info: { destroyed: number }];
  /** An upgraded socket must be told goodbye (see {@link ServerDrainerOptions.onUpgraded}). */
  'upgraded-connection': [socket: net.Socket, req: http.IncomingMessage];
  /** A plain connection must be ended (see {@link ServerDrainerOptions.onConnectionDrain}). */
  'connection-drain': [socket: net.Socket];
};

type Kind = 'http1' | 'http2' | 'net';

/**
 * An HTTP/1 connection during a drain: the latest response (with pipelining,
 * the one Node sends last: a `Connection: close` there closes the connection
 * after all the others), how many responses are in flight, and when it
 * became idle. Before the drain a connection has no record (see
 * {@link latestResponse}), except one the drainer did not see open.
 *
 * Until the drain applies to it (`released`), only `latest` is kept:
 * nothing is counted per request. Responses finish in order, so the
 * connection is busy exactly while `latest` is (see {@link inFlight}); the
 * release starts counting from there.
 */
interface Http1Connection extends IdleConnection {
  /** Responses in flight that are counted (only once released). */
  inFlight: number;
  latest: http.ServerResponse | undefined;
  readonly drainer: ServerDrainer;
  /** The drain applies to this connection (see DrainOptions.ramp); false outside a drain. */
  released: boolean;
  /** Its socket has closed: responses still counted were released then (see #forgetSocket). */
  closed: boolean;
}

/** Whether `res` has neither finished nor been torn down. */
function inFlight(res: http.ServerResponse | undefined): res is http.ServerResponse {
  return res !== undefined && !res.writableFinished && !res.destroyed;
}

/**
 * The response Node's HTTP/1 server is sending on `socket`: `null` between
 * responses, `undefined` before the first one. It is `socket._httpMessage`,
 * which Node's server has set (when it hands a response the socket) and
 * cleared (when the response has finished) since its first versions, and
 * which its own error handling reads.
 */
function currentResponse(socket: Duplex): http.ServerResponse | null | undefined {
  return (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
}

/**
 * The latest response of a connection that has no record yet: the one queued
 * last behind the current one (pipelining, noted by the 'request' listener),
 * else the current one; undefined when the connection is idle.
 */
function latestResponse(socket: TrackedSocket): http.ServerResponse | undefined {
  const queued = socket[kQueued];
  if (inFlight(queued)) return queued;
  return currentResponse(socket) ?? undefined;
}

function isOpenSocket(socket: Duplex): boolean {
  return !socket.destroyed;
}

// Which tracked connection a response belongs to, for the one shared 'close' listener.
const kConnection = Symbol('handover.connection');
// Which drainer's shared 'close' listener a socket has.
const kDrainer = Symbol('handover.drainer');
// The latest response queued behind another on a socket with no record (pipelining).
const kQueued = Symbol('handover.queued');
type TrackedResponse = http.ServerResponse & { [kConnection]?: Http1Connection };
type TrackedSocket = Duplex & { [kConnection]?: Http1Connection; [kDrainer]?: ServerDrainer; [kQueued]?: http.ServerResponse };

function swallow(): void {
  // Errors of one socket during a drain (a client reset) must not crash the process.
}

function kindOf(server: net.Server): Kind {
  if (server instanceof http.Server) return 'http1';
  // Http2Server and Http2SecureServer are not exported; updateSettings() is
  // their public method and no other server has it.
  if (typeof (server as { updateSettings?: unknown }).updateSettings === 'function') return 'http2';
  return isHttpsServer(server) ? 'http1' : 'net';
}

function checkTimeout(name: string, value: unknown, allowInfinity: boolean): number {
  if (typeof value !== 'number') invalidType(name, 'of type number', value);
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && value === Infinity)) {
    invalidValue(name, allowInfinity ? 'must be a non-negative number of milliseconds or Infinity' : 'must be a non-negative finite number of milliseconds', value);
  }
  return value;
}

/**
 * Drains a server whose listening socket now belongs to its next generation:
 * stops accepting, lets every request in flight finish, and closes each
 * connection only at a moment when its client cannot be sending on it — so
 * the client sees no reset, no EOF under a request, no 5xx. Works with
 * `http.Server`, `https.Server`, `http2.createServer()` /
 * `createSecureServer()` servers and plain `net.Server` / `tls.Server`, using
 * their public events and methods, and for HTTP/1 the one property through
 * which Node's server itself knows the response it is sending on a socket
 * (`socket._httpMessage`; see "Cost while serving").
 *
 * Create it right after the server (before `listen`, or at least before the
 * first connection): connections accepted earlier are not seen, except that
 * an HTTP/1 connection is picked up at its next request. The drain still
 * waits for the server's `'close'`, which Node emits when every connection
 * it accepted is gone.
 *
 * **The drain rule for HTTP/1 keep-alive connections.** `drain()` never
 * closes an idle connection at once, the way Go's `Server.Shutdown` and
 * Node's `server.close()` (through `closeIdleConnections()`) do: its client
 * may have a request on the wire already, and would see a reset or an EOF.
 * From the start of the drain, every response carries `Connection: close`
 * (also responses in flight whose headers are not sent yet), so Node closes
 * the connection right after it and the client knows not to reuse it. A
 * connection that stays idle — no request in flight, no byte received since
 * its last response — is closed once it has been idle for the idle bound:
 * the server's `keepAliveTimeout` (+ `keepAliveTimeoutBuffer` on Node ≥ 24.6),
 * which is the idle time the server announces in `Keep-Alive: timeout=N`
 * (clients such as undici retire the socket before it) and after which Node
 * closes the connection anyway; `options.idleTimeout` overrides it, and
 * {@link DEFAULT_DRAIN_IDLE_TIMEOUT} (5000 ms) applies when `keepAliveTimeout`
 * is 0. The bound is counted from the end of the last response (or from the
 * connection's start), and restarts when bytes of a next request arrive. So a
 * drain closes no connection earlier than the server would have closed it
 * anyway, an idle connection is gone within the idle bound, a busy one after
 * its current response, and only a request that never finishes keeps its
 * connection until the drain `timeout`.
 *
 * HTTP/2 sessions get a GOAWAY at once (`session.close()`) and end when
 * their open streams have. Upgraded sockets and plain connections get a hook
 * (`onUpgraded`, `onConnectionDrain`, or the matching events) so that the
 * application ends them in its own protocol; each counts until it closes.
 * Errors of single sockets during the drain (a client reset) are swallowed.
 *
 * **Ramp.** With `drain({ ramp })` the generation that drains overlaps with
 * its successor for `ramp` ms instead of handing everything over at once: it
 * goes on accepting from the shared listening socket until the ramp ends
 * (a connection accepted meanwhile is drained at once), and it applies the
 * drain rule to its open HTTP/1 connections in up to 16 equal batches spread
 * over the ramp, serving the others with keep-alive until their turn. A
 * freshly started Node process runs its code unoptimised for its first
 * thousands of requests; the ramp lets the warm generation carry the load
 * meanwhile. The drain resolves no sooner than the ramp ends.
 *
 * **Cost while serving.** Until a drain starts, the drainer counts nothing
 * and keeps no reference to a request: per connection it keeps an array
 * slot (no listener, no Set entry; closed connections are swept out in
 * batches), per HTTP/1 request it reads one property. When the drain starts
 * it reads what is in flight off each socket: Node answers the requests of a
 * connection in order and sets `socket._httpMessage` to the response it is
 * sending, so a connection is busy exactly while that response, or one
 * pipelined behind it, has not finished. Only a pipelined response is noted
 * by the request listener (and stays referenced until the next one is, or
 * the socket is collected). From there the drain counts every response. A
 * connection the drainer did not see open (the server listened before the
 * drainer was made, or an HTTP/1 connection of an HTTP/2 server) gets a
 * record at its first request, which keeps its latest response. HTTP/2
 * streams and sessions and upgraded sockets are counted as they come.
 * `npm run bench:overhead` and `npm run bench:memory` measure the
 * difference to a plain server.
 */
export class ServerDrainer extends EventEmitter<ServerDrainerEvents> {
  readonly #server: net.Server;
  readonly #kind: Kind;
  readonly #options: ServerDrainerOptions;

  readonly #connections = new DrainCounter();
  readonly #requests = new DrainCounter();
  readonly #upgradedCount = new DrainCounter();

  /** Every connection counted in #connections (the accepted socket; for TLS the raw one). */
  readonly #sockets = new Set<Duplex>();
  /** Open HTTP/1 connections; each is also `socket[kConnection]` of its socket. */
  readonly #http1 = new Set<Http1Connection>();
  /** Connections of a plain net.Server / tls.Server (for TLS the TLSSocket). */
  readonly #plain = new Set<Duplex>();
  // Before the drain, the same without a listener or a Set entry per
  // connection (see OpenList); the drain moves them into the sets above.
  readonly #earlySockets = new OpenList<Duplex>(isOpenSocket);
  /** HTTP/1 connections seen opening: no record until the drain. */
  readonly #earlyHttp1Sockets = new OpenList<Duplex>(isOpenSocket);
  /** HTTP/1 connections given a record before the drain (see #openHttp1 and #onRequest). */
  readonly #earlyHttp1 = new OpenList<Http1Connection>((connection) => this.#isOpenHttp1(connection));
  readonly #earlyPlain = new OpenList<Duplex>(isOpenSocket);
  /** Every HTTP/1 connection passes 'connection' (or 'secureConnection') here: made before the server listened. */
  readonly #seesEveryConnection: boolean;
  readonly #upgraded = new Map<Duplex, http.IncomingMessage>();
  /** Sockets whose connection left HTTP ('upgrade' or 'connect'), whatever stream the app got. */
  readonly #leftHttp = new WeakSet<Duplex>();
  readonly #sessions = new Set<Http2Session>();
  readonly #streams = new Set<ServerHttp2Stream>();
  /** Objects already told to drain (hook called, GOAWAY sent) or given an error listener. */
  readonly #told = new WeakSet<object>();
  readonly #errorsSwallowed = new WeakSet<object>();

  #stopped = false;
  #draining = false;
  #listenerClosed: Promise<void> = Promise.resolve();
  #idle: IdleQueue | undefined;
  #drain: Promise<DrainResult> | undefined;
  #hammerNow: (() => void) | undefined;
  #hammerRequested = false;
  /** Ends {@link #acceptFor} early (drain over, or hammered). */
  #endAccepting: (() => void) | undefined;

  /**
   * Starts tracking `server`'s connections and requests. Throws
   * ERR_INVALID_ARG_TYPE unless `server` is a net.Server (http, https, http2
   * and tls servers all are).
   */
  constructor(server: net.Server, options: ServerDrainerOptions = {}) {
    super();
    if (!(server instanceof net.Server)) invalidType('server', 'an instance of net.Server', server);
    if (typeof options !== 'object' || options === null) invalidType('options', 'of type object', options);
    if (options.idleTimeout !== undefined) checkTimeout('options.idleTimeout', options.idleTimeout, false);
    if (options.onUpgraded !== undefined && typeof options.onUpgraded !== 'function') {
      invalidType('options.onUpgraded', 'of type function', options.onUpgraded);
    }
    if (options.onConnectionDrain !== undefined && typeof options.onConnectionDrain !== 'function') {
      invalidType('options.onConnectionDrain', 'of type function', options.onConnectionDrain);
    }
    this.#server = server;
    this.#kind = kindOf(server);
    this.#options = { ...options };
    // An HTTP/2 server shows an HTTP/1 connection (allowHTTP1) only at its first request.
    this.#seesEveryConnection = this.#kind === 'http1' && !server.listening;

    const secure = isTlsServer(server);
    server.on('connection', (socket: Duplex) => this.#onConnection(socket, !secure));
    if (secure) server.on('secureConnection', (socket: tls.TLSSocket) => this.#onSecureConnection(socket));
    server.on('listening', () => {
      // The server was (re)started after stopAccepting(): stop it again.
      if (this.#stopped) this.#closeListener();
    });

    if (this.#kind === 'http2') {
      server.on('session', (session: Http2Session) => this.#onSession(session));
      server.on('stream', (stream: ServerHttp2Stream) => this.#onStream(stream));
    }
    if (this.#kind === 'http1') {
      // Prepended: during a drain, `Connection: close` must be set before the
      // application's handler can send the headers.
      server.prependListener('request', this.#onRequest);
    }
    if (this.#kind !== 'net') {
      // On an HTTP/2 server a 'request' listener installs the compatibility
      // layer: observe HTTP/1 requests (allowHTTP1) only if the app listens.
      if (this.#kind === 'http2') observeWhileListened(server, 'request', this.#onRequest);
      observeWhileListened(server, 'checkContinue', this.#onRequest);
      observeWhileListened(server, 'checkExpectation', this.#onRequest);
      observeWhileListened(server, 'upgrade', this.#onUpgrade);
      observeWhileListened(server, 'connect', this.#onUpgrade);
    }
  }

  /** What is open right now, for log lines. */
  get stats(): DrainStats {
    // Before the drain nothing is counted as it happens: count now.
    const early = this.#draining ? 0 : new Set(this.#earlySockets.open()).size;
    return {
      connections: this.#connections.count + early,
      requests: this.#requests.count + this.#uncountedRequests(),
      upgraded: this.#upgradedCount.count,
    };
  }

  /** HTTP/1 connections busy with a response that is not counted yet (not released). */
  #uncountedRequests(): number {
    let busy = 0;
    for (const connection of this.#draining ? this.#http1 : this.#earlyHttp1.open()) {
      if (!connection.released && inFlight(connection.latest)) busy++;
    }
    if (this.#draining) return busy;
    for (const socket of this.#earlyHttp1Sockets.open()) {
      if (!this.#hasRecord(socket) && !this.#leftHttp.has(socket) && latestResponse(socket) !== undefined) busy++;
    }
    return busy;
  }

  /** True from the first call of {@link drain}. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Stops accepting connections in this process, and nothing else: idle
   * keep-alive connections stay open (see the drain rule above). It closes
   * the listening handle with `net.Server.prototype.close`, bypassing the
   * `close()` of http.Server, https.Server and the HTTP/2 servers, which also
   * closes idle keep-alive connections (Node ≥ 19) and so resets the clients
   * that are sending on them. The listening socket itself lives on in the
   * next generation, with its accept queue. Idempotent; if the server starts
   * listening again later, it is closed again.
   *
   * It never unlinks a Unix socket path by itself: libuv unlinks the path
   * when it closes a handle that bound that path in this process. Keeping
   * the path is the caller's job — the upgrader arranges that the serving
   * process never owns the path (it adopts the socket by fd), so this close
   * leaves the path to the next generation.
   */
  stopAccepting(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#closeListener();
  }

  /**
   * Drains the server: {@link stopAccepting}, then let every request finish
   * and close every connection under the drain rule (see the class), send
   * HTTP/2 GOAWAYs, call the hooks for upgraded sockets and plain
   * connections; resolves when no connection is left and the server has
   * emitted 'close', or at `timeout`, after destroying what is left (the
   * `'hammer'` event). Calling it again returns the same promise (the second
   * `options` are ignored). Never rejects.
   */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    if (this.#drain) return this.#drain;
    if (typeof options !== 'object' || options === null) invalidType('options', 'of type object', options);
    const timeout = options.timeout === undefined ? DEFAULT_DRAIN_TIMEOUT : checkTimeout('options.timeout', options.timeout, true);
    const ramp = options.ramp === undefined ? 0 : checkTimeout('options.ramp', options.ramp, false);
    if (options.acceptDuringRamp !== undefined && typeof options.acceptDuringRamp !== 'boolean') {
      invalidType('options.acceptDuringRamp', 'of type boolean', options.acceptDuringRamp);
    }
    this.#drain = this.#run(timeout, ramp, options.acceptDuringRamp ?? true);
    return this.#drain;
  }

  /**
   * Ends the drain now: destroys every connection still open (the `'hammer'`
   * event) and resolves the drain — for a second Ctrl-C. Starts the drain
   * first (stop accepting, hooks) when none is running. Returns the drain's
   * promise.
   */
  hammer(): Promise<DrainResult> {
    this.#hammerRequested = true;
    const drain = this.drain();
    this.#hammerNow?.();
    return drain;
  }

  async #run(timeout: number, ramp: number, acceptDuringRamp: boolean): Promise<DrainResult> {
    const start = performance.now();
    this.#draining = true;
    this.#adopt();
    let listenerClosing = Promise.resolve();
    if (ramp > 0 && acceptDuringRamp && !this.#stopped) listenerClosing = this.#acceptFor(ramp);
    else this.stopAccepting();
    this.#idle = new IdleQueue(this.#idleBound(), (connection) => this.#closeIdle(connection));
    const connectionsAtStart = this.#connections.count;
    const requestsAtStart = this.#requests.count + this.#uncountedRequests();
    this.#emitSafely('draining', { connections: connectionsAtStart, requests: requestsAtStart });

    for (const socket of this.#sockets) this.#swallowErrors(socket);
    const open = [...this.#http1];
    for (const connection of open) this.#swallowErrors(connection.socket);
    let stopReleasing: (() => void) | undefined;
    if (ramp > 0 && open.length > 1) stopReleasing = this.#rampRelease(open, ramp);
    else this.#release(open);
    for (const session of this.#sessions) this.#goAway(session);
    for (const stream of this.#streams) this.#swallowErrors(stream);
    for (const [socket, req] of this.#upgraded) this.#tellUpgraded(socket, req);
    for (const socket of this.#plain) this.#tellPlain(socket);

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      this.#hammerNow = () => resolve('timeout');
      if (this.#hammerRequested) resolve('timeout');
      if (timeout === Infinity) return;
      timer = setTimeout(resolve, Math.min(timeout, 0x7fffffff), 'timeout' as const);
      timer.unref();
    });
    const outcome = await Promise.race([listenerClosing.then(() => this.#settled()), deadline]);
    if (timer) clearTimeout(timer);
    stopReleasing?.();
    this.#endAccepting?.();
    let hammered = 0;
    if (outcome === 'timeout') {
      hammered = this.#hammer();
      this.#emitSafely('hammer', { destroyed: hammered });
    }
    this.#idle.clear();
    const result: DrainResult = {
      durationMs: Math.round(performance.now() - start),
      hammered,
      connectionsAtStart,
      requestsAtStart,
    };
    this.#emitSafely('drained', result);
    return result;
  }

  /**
   * Keeps the listener open for `ms` more (the ramp): both generations accept
   * from the shared socket meanwhile, and a connection accepted here is
   * drained at once. Resolves once the listener is closed.
   */
  #acceptFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.#endAccepting = undefined;
        this.stopAccepting();
        resolve();
      };
      const timer = setTimeout(end, ms).unref();
      this.#endAccepting = end;
    });
  }

  /** Applies the drain rule to `connections` from now on. */
  #release(connections: Http1Connection[]): void {
    const idle: Http1Connection[] = [];
    for (const connection of connections) {
      if (connection.released || !this.#isOpenHttp1(connection)) continue;
      connection.released = true;
      const latest = connection.latest;
      if (inFlight(latest)) {
        // Responses finish in order: once the latest has, so have the ones
        // pipelined before it, and the connection is idle. Count it from here.
        this.#countResponse(connection, latest);
        if (!latest.headersSent) latest.setHeader('Connection', 'close');
      } else {
        connection.latest = undefined;
        // Idleness is not tracked before a drain (it would cost every request):
        // an idle connection counts as idle from now, which only ever closes
        // it later than its last response would allow, never sooner.
        markIdle(connection);
        idle.push(connection);
      }
    }
    this.#idle?.addAll(idle);
  }

  /** Releases `connections` in equal batches over `ramp` ms; returns a function that cancels the rest. */
  #rampRelease(connections: Http1Connection[], ramp: number): () => void {
    const steps = Math.min(connections.length, RAMP_STEPS);
    let step = 0;
    let timer: NodeJS.Timeout | undefined;
    const next = (): void => {
      step++;
      const from = Math.ceil((connections.length * (step - 1)) / steps);
      const to = Math.ceil((connections.length * step) / steps);
      this.#release(connections.slice(from, to));
      if (step < steps) timer = setTimeout(next, ramp / steps).unref();
    };
    timer = setTimeout(next, ramp / steps).unref();
    return () => clearTimeout(timer);
  }

  /** Resolves when nothing is left; each await is an event, never a poll. */
  async #settled(): Promise<'done'> {
    for (;;) {
      const listenerClosed = this.#listenerClosed;
      await this.#requests.wait();
      await this.#connections.wait();
      await listenerClosed;
      if (this.#requests.count === 0 && this.#connections.count === 0 && listenerClosed === this.#listenerClosed) return 'done';
    }
  }

  #idleBound(): number {
    if (this.#options.idleTimeout !== undefined) return this.#options.idleTimeout;
    const { keepAliveTimeout, keepAliveTimeoutBuffer } = this.#server as { keepAliveTimeout?: unknown; keepAliveTimeoutBuffer?: unknown };
    if (typeof keepAliveTimeout !== 'number' || !(keepAliveTimeout > 0)) return DEFAULT_DRAIN_IDLE_TIMEOUT;
    // Node ≥ 24.6 keeps the socket keepAliveTimeoutBuffer ms longer than it announces.
    const buffer = typeof keepAliveTimeoutBuffer === 'number' && keepAliveTimeoutBuffer > 0 ? keepAliveTimeoutBuffer : 0;
    return keepAliveTimeout + buffer;
  }

  #closeListener(): void {
    const server = this.#server;
    if (!server.listening) return;
    this.#listenerClosed = new Promise((resolve) => server.once('close', () => resolve()));
    // The base-class close: only the listening handle (see stopAccepting).
    net.Server.prototype.close.call(server);
  }

  // ---- tracking -----------------------------------------------------------

  /** Moves the connections seen before the drain into the sets the drain works on. */
  #adopt(): void {
    for (const socket of this.#earlySockets.open()) this.#countConnection(socket);
    for (const connection of this.#earlyHttp1.open()) this.#trackHttp1(connection);
    for (const socket of this.#earlyHttp1Sockets.open() as TrackedSocket[]) {
      if (this.#hasRecord(socket) || this.#leftHttp.has(socket)) continue;
      const connection = this.#recordHttp1(socket, false);
      connection.latest = latestResponse(socket);
      socket[kQueued] = undefined;
    }
    for (const socket of this.#earlyPlain.open()) this.#trackPlain(socket);
    this.#earlySockets.clear();
    this.#earlyHttp1Sockets.clear();
    this.#earlyHttp1.clear();
    this.#earlyPlain.clear();
  }

  #hasRecord(socket: Duplex): boolean {
    return (socket as TrackedSocket)[kConnection]?.drainer === this;
  }

  #isOpenHttp1(connection: Http1Connection): boolean {
    const socket = connection.socket as TrackedSocket;
    return connection.drainer === this && socket[kConnection] === connection && !socket.destroyed;
  }

  #countConnection(socket: Duplex): void {
    if (!this.#draining) {
      this.#earlySockets.add(socket);
      return;
    }
    if (this.#sockets.has(socket)) return;
    this.#sockets.add(socket);
    this.#connections.add();
    this.#listenClose(socket);
    if (this.#draining) this.#swallowErrors(socket);
  }

  // One listener shared by every socket (no closure per connection): it
  // forgets the socket in #sockets and #http1, whichever it is in.
  #listenClose(socket: TrackedSocket): void {
    const owner = socket[kDrainer];
    if (owner === this) return;
    if (owner === undefined) {
      socket[kDrainer] = this;
      socket.on('close', this.#onSocketClose);
      return;
    }
    // The same socket emitted to the servers of two drainers: its own listener.
    socket.once('close', () => this.#forgetSocket(socket));
  }

  readonly #onSocketClose = function (this: TrackedSocket): void {
    const drainer = this[kDrainer];
    if (drainer !== undefined) drainer.#forgetSocket(this);
  };

  #forgetSocket(socket: TrackedSocket): void {
    if (this.#sockets.delete(socket)) this.#connections.done();
    const connection = socket[kConnection];
    if (connection === undefined || connection.drainer !== this) return;
    this.#http1.delete(connection);
    this.#idle?.delete(connection);
    // A response pipelined behind another may never emit 'close' when its
    // socket dies (Node 20 does not destroy the queued ones): release it here.
    connection.closed = true;
    for (; connection.inFlight > 0; connection.inFlight--) this.#requests.done();
  }

  #onConnection(socket: Duplex, isApplicationSocket: boolean): void {
    this.#countConnection(socket);
    if (!isApplicationSocket) return; // TLS: the application socket comes with 'secureConnection'
    if (this.#kind === 'http1') this.#openHttp1(socket);
    else if (this.#kind === 'net') this.#openPlain(socket);
    // HTTP/2 cleartext: the session comes with 'session'.
  }

  #onSecureConnection(socket: tls.TLSSocket): void {
    if (this.#kind === 'http1') this.#openHttp1(socket);
    else if (this.#kind === 'net') this.#openPlain(socket);
    else if (socket.alpnProtocol !== 'h2') this.#openHttp1(socket); // HTTP/2 server with allowHTTP1
  }

  /**
   * An HTTP/1 connection has opened: noted before the drain (with a record
   * when the drainer may also meet connections it did not see open, so that
   * its requests tell the two apart), drained at once during it.
   */
  #openHttp1(socket: Duplex): void {
    if (this.#draining) this.#recordHttp1(socket, true);
    else if (this.#seesEveryConnection) this.#earlyHttp1Sockets.add(socket);
    else this.#recordHttp1(socket, false);
  }

  /** Gives `socket` its record (tracked at once during the drain, released or not). */
  #recordHttp1(socket: Duplex, released: boolean): Http1Connection {
    const connection: Http1Connection = { socket, inFlight: 0, latest: undefined, idleSince: 0, bytesReadAtIdle: 0, drainer: this, released, closed: false };
    (socket as TrackedSocket)[kConnection] = connection;
    if (!this.#draining) {
      this.#earlyHttp1.add(connection);
      return connection;
    }
    this.#trackHttp1(connection);
    if (released) {
      this.#swallowErrors(socket);
      markIdle(connection);
      this.#idle?.add(connection);
    }
    return connection;
  }

  #trackHttp1(connection: Http1Connection): void {
    this.#http1.add(connection);
    this.#listenClose(connection.socket);
  }

  #openPlain(socket: Duplex): void {
    if (!this.#draining) {
      this.#earlyPlain.add(socket);
      return;
    }
    this.#trackPlain(socket);
    this.#tellPlain(socket);
  }

  #trackPlain(socket: Duplex): void {
    if (this.#plain.has(socket)) return;
    this.#plain.add(socket);
    socket.once('close', () => this.#plain.delete(socket));
  }

  readonly #onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // HTTP/2 compatibility requests are tracked as streams.
    if (req.httpVersionMajor === 2) return;
    const socket = req.socket as TrackedSocket;
    let connection = socket[kConnection];
    if (connection === undefined || connection.drainer !== this) {
      if (this.#seesEveryConnection && !this.#draining) {
        const current = currentResponse(socket);
        if (current !== undefined) {
          // Before the drain, a request costs no more than this: Node says
          // which response it is sending, and the drain reads it there
          // (latestResponse); only a response queued behind it is noted.
          if (current !== res) socket[kQueued] = res;
          return;
        }
        // Node does not show the response: count this connection's requests
        // as they come, with a record (it was counted when it opened).
      } else {
        // A connection accepted before this drainer existed.
        this.#countConnection(socket);
      }
      connection = this.#recordHttp1(socket, this.#draining);
    }
    connection.latest = res;
    // Before the drain applies to the connection, that is all a request costs.
    if (!connection.released) return;
    this.#idle?.delete(connection);
    this.#countResponse(connection, res);
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  /** Counts `res` as in flight on `connection` until its 'close'. */
  #countResponse(connection: Http1Connection, res: http.ServerResponse): void {
    connection.inFlight++;
    this.#requests.add();
    // One listener shared by every response, no closure per response. 'close'
    // comes once per response, after 'finish' or when the connection is torn
    // down first.
    (res as TrackedResponse)[kConnection] = connection;
    res.on('close', this.#onResponseClose);
  }

  readonly #onResponseClose = function (this: http.ServerResponse): void {
    const response = this as TrackedResponse;
    const connection = response[kConnection];
    if (connection === undefined) return;
    response[kConnection] = undefined; // counted once, whatever emits 'close' again
    if (connection.closed) return; // released with its socket
    connection.inFlight--;
    if (connection.latest === this) connection.latest = undefined;
    const drainer = connection.drainer;
    // Only released connections count their responses: this one is idle now.
    if (connection.inFlight === 0) {
      markIdle(connection);
      if (drainer.#isOpenHttp1(connection)) drainer.#idle?.add(connection);
    }
    drainer.#requests.done();
  };

  readonly #onUpgrade = (req: http.IncomingMessage, socket: Duplex): void => {
    // The connection's own socket (`socket` may wrap it, in Node versions that
    // hand over an upgrade before its request body has arrived).
    const own = req.socket as TrackedSocket;
    // It leaves HTTP: no more requests, no idle closing.
    this.#leftHttp.add(own);
    const connection = own[kConnection];
    if (connection !== undefined && this.#isOpenHttp1(connection)) {
      this.#http1.delete(connection);
      own[kConnection] = undefined;
      this.#idle?.delete(connection);
    } else if (!this.#seesEveryConnection) {
      // A connection accepted before this drainer existed (one it saw open
      // was counted then).
      this.#countConnection(own);
    }
    if (this.#upgraded.has(socket)) return;
    this.#upgraded.set(socket, req);
    const release = this.#upgradedCount.track();
    socket.once('close', () => {
      this.#upgraded.delete(socket);
      release();
    });
    if (this.#draining) {
      this.#swallowErrors(socket);
      // This listener runs before the application's: give it its turn to
      // complete the handshake before it is asked to say goodbye.
      setImmediate(() => this.#tellUpgraded(socket, req));
    }
  };

  #onSession(session: Http2Session): void {
    if (this.#sessions.has(session)) return;
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    if (this.#draining) this.#goAway(session);
  }

  #onStream(stream: ServerHttp2Stream): void {
    const session = stream.session;
    if (session && !this.#sessions.has(session)) {
      // A session established before this drainer existed: its socket was not counted.
      this.#onSession(session);
      session.once('close', this.#connections.track());
    }
    this.#streams.add(stream);
    const release = this.#requests.track();
    stream.once('close', () => {
      this.#streams.delete(stream);
      release();
    });
    if (this.#draining) this.#swallowErrors(stream);
  }

  // ---- draining -----------------------------------------------------------

  #swallowErrors(emitter: EventEmitter): void {
    if (this.#errorsSwallowed.has(emitter)) return;
    this.#errorsSwallowed.add(emitter);
    emitter.on('error', swallow);
  }

  #closeIdle(connection: IdleConnection): void {
    const socket = connection.socket as Duplex & { destroySoon?: () => void };
    // destroySoon(): FIN after whatever is still buffered, as Node does after a
    // `Connection: close` response.
    if (typeof socket.destroySoon === 'function') socket.destroySoon();
    else socket.end();
  }

  #goAway(session: Http2Session): void {
    if (this.#told.has(session) || session.closed || session.destroyed) return;
    this.#told.add(session);
    this.#swallowErrors(session);
    // GOAWAY naming the last stream received; the session ends once its open
    // streams are done (at once when it has none). A stream the client starts
    // while the GOAWAY is on the wire is refused: RFC 9113 §6.8 guarantees
    // that it was not processed, so clients may retry it. The race-free
    // two-step shutdown (nghttp2_submit_shutdown_notice, a GOAWAY that still
    // accepts new streams, then the final one a round trip later) is not
    // reachable from Node: its session.goaway() makes nghttp2 ignore every new
    // stream, and stop reading once no stream is open.
    session.close();
  }

  #tellUpgraded(socket: Duplex, req: http.IncomingMessage): void {
    if (this.#told.has(socket) || socket.destroyed) return;
    this.#told.add(socket);
    this.#swallowErrors(socket);
    // A net.Socket or tls.TLSSocket, unless the application emitted 'connection' with another Duplex.
    const s = socket as net.Socket;
    this.#callHook('onUpgraded hook', () => {
      this.#options.onUpgraded?.(s, req);
      this.emit('upgraded-connection', s, req);
    });
  }

  #tellPlain(socket: Duplex): void {
    if (this.#told.has(socket) || socket.destroyed) return;
    this.#told.add(socket);
    this.#swallowErrors(socket);
    const s = socket as net.Socket;
    this.#callHook('onConnectionDrain hook', () => {
      this.#options.onConnectionDrain?.(s);
      this.emit('connection-drain', s);
    });
  }

  #emitSafely<K extends 'draining' | 'drained' | 'hammer'>(event: K, ...args: ServerDrainerEvents[K]): void {
    this.#callHook(`'${event}' listener`, () => {
      (this.emit as (event: K, ...args: ServerDrainerEvents[K]) => boolean)(event, ...args);
    });
  }

  #callHook(name: string, call: () => void): void {
    // A throwing hook must not abort the drain of every other connection; the
    // socket it failed to end is hammered at the timeout.
    try {
      call();
    } catch (err) {
      process.emitWarning(`handover: a drain ${name} threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`, 'HandoverWarning');
    }
  }

  #hammer(): number {
    const destroyed = this.#connections.count;
    for (const session of this.#sessions) session.destroy();
    const sockets = new Set<Duplex>([...this.#upgraded.keys(), ...[...this.#http1].map((c) => c.socket), ...this.#plain, ...this.#sockets]);
    for (const socket of sockets) {
      this.#swallowErrors(socket);
      socket.destroy();
    }
    // Connections accepted before this drainer existed, which Node tracks.
    const closeAll = (this.#server as { closeAllConnections?: unknown }).closeAllConnections;
    if (typeof closeAll === 'function') {
      try {
        closeAll.call(this.#server);
      } catch {
        // Never listened: nothing to close.
      }
    }
    return destroyed;
  }
}
