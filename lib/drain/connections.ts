import * as diagnostics from 'node:diagnostics_channel';
import type * as http from 'node:http';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { DrainCounter } from './counter';
import { busy, Http1Drain, kLeft, kQueued, type Http1Socket } from './http1';
import { OpenList } from './open-list';
import { isTlsServer } from './tls-servers';

/** The protocol a server speaks: HTTP/1 (http, https), HTTP/2 (maybe with HTTP/1 beside), or its own. */
export type Kind = 'http1' | 'http2' | 'net';
/** What the drain asks the application to end in its own protocol (ServerDrainer's hooks). */
export interface Hooks {
  upgraded(socket: Duplex, req: http.IncomingMessage): void;
  plain(socket: Duplex): void;
}

const kConnections = Symbol('handover.connections');
const kSeen = Symbol('handover.seen');
const kSettled = Symbol('handover.settled');
/** A connection as counted: a socket, or an HTTP/2 session found through a stream (its `socket` is a proxy). */
type Closable = (Duplex | Http2Session) & { [kSeen]?: Connections };
type Tracked = net.Server & { [kConnections]?: Connections };
type Session = Http2Session & { [kSettled]?: true };
type Message = { server: Tracked; socket: Http1Socket; response: http.ServerResponse };

const swallowed = new WeakSet<Duplex | Http2Session | ServerHttp2Stream>();
function swallow(emitter: Duplex | Http2Session | ServerHttp2Stream): void {
  // A client reset on one socket during a drain must not crash the process:
  // only where nobody listens (Node's HTTP servers listen on every socket
  // they parse). A listener added to every socket at the drain would give
  // each a new shape, and deoptimize Node's stream code for all of them.
  if (swallowed.has(emitter) || emitter.listenerCount('error') > 0) return;
  swallowed.add(emitter);
  emitter.on('error', () => {});
}

/**
 * How many connections `server` itself counts (net.Server's `_connections`:
 * each socket it accepted, until it closes); undefined where the field is
 * not Node's. When its listener is closed, the server emits 'close' once
 * that is 0: the drain waits for that instead of watching each socket.
 */
export function serverConnections(server: net.Server): number | undefined {
  const count = (server as { _connections?: unknown })._connections;
  return typeof count === 'number' ? count : undefined;
}

/** Whether `server` counts `connection` (it accepted it: see serverConnections). */
function countedBy(server: net.Server, connection: Closable): boolean {
  if (serverConnections(server) === undefined) return false;
  try {
    const socket = '_server' in connection ? connection : (connection as Http2Session).socket;
    return (socket as { _server?: unknown } | undefined)?._server === server;
  } catch {
    return false; // an HTTP/2 session's socket proxy refuses a property
  }
}

// `listener` first on `event`, only while the application listens too: an
// 'upgrade' or 'connect' listener alone makes Node hand the socket over.
function observeWhileListened(emitter: net.Server, event: string, listener: (req: http.IncomingMessage, socket: Duplex) => void): void {
  const mine = (): boolean => emitter.rawListeners(event).includes(listener);
  emitter.on('newListener', (name, added) => name === event && added !== listener && !mine() && emitter.prependListener(event, listener));
  emitter.on('removeListener', (name) => name === event && mine() && emitter.listenerCount(event) === 1 && emitter.removeListener(event, listener));
  if (emitter.listenerCount(event) > 0) emitter.prependListener(event, listener);
}

// Node ≥ 20 publishes these for each HTTP/1 request of every server of the
// process, before any listener sees it; 'finish' is only needed from a drain on.
const subscribed = new Set<string>();
function subscribe(name: 'request.start' | 'response.finish'): void {
  if (subscribed.has(name)) return;
  subscribed.add(name);
  diagnostics.subscribe(`http.server.${name}`, (message) => {
    const { server, socket, response } = message as Message;
    server[kConnections]?.[name === 'request.start' ? 'request' : 'finished'](socket, response);
  });
}

/**
 * What is open on one server, found one way whether it listened before or
 * not: a connection is listed when it opens ('connection', 'secureConnection')
 * or first shows itself (a request, a stream, an upgrade). From the drain on,
 * each is counted in `open` until it closes; what opens then is drained at once.
 */
export class Connections {
  /** During the drain: one per connection still open that the server does not count itself (serverConnections), and per upgraded socket. */
  readonly open = new DrainCounter();
  readonly #server: net.Server;
  readonly #kind: Kind;
  /** Every connection: the accepted socket (for TLS the raw one), or what showed it. */
  readonly #sockets = new OpenList<Closable>((c) => !c.destroyed);
  /** HTTP/1 or plain connections as the application sees them; without TLS, the same list. */
  readonly #apps: OpenList<Duplex>;
  readonly #upgraded = new Map<Duplex, http.IncomingMessage>();
  readonly #sessions = new Set<Session>();
  readonly #streams = new Set<ServerHttp2Stream>();
  #drain: { http1: Http1Drain | undefined; hooks: Hooks } | undefined;

  /** Whether `server` has its Connections already (one drainer per server). */
  static tracks = (server: net.Server): boolean => (server as Tracked)[kConnections] !== undefined;

  constructor(server: net.Server, kind: Kind) {
    (server as Tracked)[kConnections] = this;
    this.#server = server;
    this.#kind = kind;
    const secure = isTlsServer(server);
    this.#apps = secure || kind === 'http2' ? new OpenList<Duplex>((s) => !s.destroyed) : (this.#sockets as OpenList<Duplex>);
    subscribe('request.start');
    server.on('connection', (socket: Duplex) => {
      this.#add(socket);
      if (!secure && kind !== 'http2') this.#app(socket);
    });
    if (secure) server.on('secureConnection', (socket: tls.TLSSocket) => (kind !== 'http2' || socket.alpnProtocol !== 'h2') && this.#app(socket));
    if (kind === 'http2') {
      server.on('session', (session: Http2Session) => this.#session(session, false));
      server.on('stream', (stream: ServerHttp2Stream) => this.#stream(stream));
    }
    const upgrade = (req: http.IncomingMessage, socket: Duplex): void => this.#upgrade(req, socket);
    if (kind !== 'net') for (const event of ['upgrade', 'connect']) observeWhileListened(server, event, upgrade);
  }

  /** What is open now: connections, requests in flight, upgraded sockets. */
  get stats(): { connections: number; requests: number; upgraded: number } {
    let requests = this.#streams.size;
    if (this.#kind !== 'net') for (const socket of this.#apps.open() as Http1Socket[]) if (!socket[kLeft] && busy(socket)) requests++;
    return { connections: this.#sockets.open().length, requests, upgraded: this.#upgraded.size };
  }

  /** Starts the drain: counts every connection until it closes, sends GOAWAYs, calls the hooks. Returns the HTTP/1 connections to release. */
  drain(idleBound: number, hooks: Hooks): Duplex[] {
    subscribe('response.finish');
    this.#drain = { http1: this.#kind === 'net' ? undefined : new Http1Drain(this.#server, idleBound), hooks };
    for (const connection of this.#sockets.open()) this.#watch(connection);
    for (const stream of this.#streams) swallow(stream);
    for (const session of this.#sessions) this.#goAway(session);
    // Counted until they close ('close' in #upgrade): the server's own count ends a moment before.
    if (this.#upgraded.size > 0) this.open.add(this.#upgraded.size);
    for (const [socket, req] of this.#upgraded) this.#tellUpgraded(socket, req);
    const apps = this.#apps.open().filter((socket) => !(socket as Http1Socket)[kLeft]);
    for (const socket of apps) swallow(socket);
    if (this.#kind !== 'net') return apps;
    for (const socket of apps) hooks.plain(socket);
    return [];
  }

  /** Applies the drain rule to these HTTP/1 connections (see Http1Drain). */
  release = (sockets: Duplex[]): void => sockets.forEach((socket) => this.#drain?.http1?.release(socket));

  /** Destroys everything still open; returns how many connections that was. */
  hammer(): number {
    const destroyed = this.#sockets.open().length;
    for (const session of this.#sessions) session.destroy();
    for (const socket of [...this.#sockets.open(), ...this.#apps.open(), ...this.#upgraded.keys()]) {
      swallow(socket);
      socket.destroy();
    }
    // Connections accepted before the drainer existed and silent since: Node's HTTP server knows them.
    (this.#server as { closeAllConnections?: () => void }).closeAllConnections?.();
    return destroyed;
  }

  /** @internal From diagnostics_channel: Node made `response` for a request on `socket` (before giving it the socket). */
  request(socket: Http1Socket, response: http.ServerResponse): void {
    if ((socket as Closable)[kSeen] !== this) {
      // Accepted before this drainer existed, or an HTTP/1 connection of an HTTP/2 server.
      this.#add(socket);
      this.#app(socket);
    }
    if (socket._httpMessage) socket[kQueued] = new WeakRef(response);
  }

  /** @internal From diagnostics_channel: `response` on `socket` has finished. */
  finished = (socket: Http1Socket, response: http.ServerResponse): void => this.#drain?.http1?.finished(socket, response);

  #add(connection: Closable): void {
    connection[kSeen] = this;
    this.#sockets.add(connection);
    if (this.#drain) this.#watch(connection);
  }

  #watch(connection: Closable): void {
    swallow(connection);
    if (!countedBy(this.#server, connection)) connection.once('close', this.open.track());
  }

  /** An HTTP/1 or plain connection as the application sees it. */
  #app(socket: Duplex): void {
    if (this.#apps !== this.#sockets) {
      (socket as Closable)[kSeen] = this;
      this.#apps.add(socket);
    }
    if (this.#drain === undefined) return;
    swallow(socket);
    if (this.#drain.http1) this.#drain.http1.release(socket);
    else this.#drain.hooks.plain(socket);
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex): void {
    // The connection's own socket (`socket` may wrap it).
    const own = req.socket as Http1Socket & Closable;
    own[kLeft] = true;
    if (own[kSeen] !== this) this.#add(own);
    if (this.#upgraded.has(socket)) return;
    this.#upgraded.set(socket, req);
    if (this.#drain) this.open.add();
    socket.once('close', () => this.#upgraded.delete(socket) && this.#drain && this.open.done());
    // This listener runs before the application's: the hook comes after its handshake.
    if (this.#drain) setImmediate(() => this.#tellUpgraded(socket, req));
  }

  #tellUpgraded(socket: Duplex, req: http.IncomingMessage): void {
    if (socket.destroyed) return;
    swallow(socket);
    this.#drain?.hooks.upgraded(socket, req);
  }

  #session(session: Session, found: boolean): void {
    if (this.#sessions.has(session)) return;
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    if (found) {
      // Established before this drainer existed: its peer's SETTINGS came long ago.
      session[kSettled] = true;
      this.#add(session);
    } else {
      session.once('remoteSettings', () => (session[kSettled] = true));
    }
    if (this.#drain) this.#goAway(session);
  }

  #stream(stream: ServerHttp2Stream): void {
    if (stream.session && !this.#sessions.has(stream.session)) this.#session(stream.session, true);
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    if (this.#drain) swallow(stream);
  }

  /**
   * GOAWAY naming the last stream received (open streams finish), once the
   * peer's SETTINGS and its ACK of ours are in and a turn of the loop later:
   * the requests sent with its preface or right after our SETTINGS are then
   * taken (sooner, they are refused, and clients that do not retry fail).
   */
  #goAway(session: Session): void {
    swallow(session);
    if (session.closed || session.destroyed) return;
    if (!session[kSettled] || session.pendingSettingsAck) {
      session.once(session[kSettled] ? 'localSettings' : 'remoteSettings', () => this.#goAway(session));
      return;
    }
    setImmediate(() => session.close());
  }
}
