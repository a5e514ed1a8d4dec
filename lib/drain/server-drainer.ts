import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { Connections, serverConnections, type Kind } from './connections';
import { isHttpsServer } from './tls-servers';
import { invalidType, invalidValue } from '../core';

/** Default `timeout` of {@link ServerDrainer.drain}: what is left after 30 s is destroyed. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;
/** Idle bound (ms) of a draining HTTP/1 connection when the server has no `keepAliveTimeout` (0, or HTTP/2 with `allowHTTP1`). */
export const DEFAULT_DRAIN_IDLE_TIMEOUT = 5_000;
/** How long (ms) a generation overlaps with its successor by default: GracefulServer's `drainRamp`, the supervisor's `probation` (BENCHMARKS.md). */
export const DEFAULT_DRAIN_RAMP = 1000;
const RAMP_STEPS = 16;

/** Options of {@link ServerDrainer}. */
export interface ServerDrainerOptions {
  /** Ms a draining HTTP/1 connection may stay idle before it is closed. Default: as long as Node would keep it (`keepAliveTimeout` + its buffer), or {@link DEFAULT_DRAIN_IDLE_TIMEOUT}. Less brings back the race the drain avoids. */
  idleTimeout?: number;
  /** Called once per upgraded socket (WebSocket, CONNECT) when the drain starts or the socket upgrades during it: say goodbye, end it. Same as `'upgraded-connection'`. */
  onUpgraded?: (socket: net.Socket, req: http.IncomingMessage) => void;
  /** Called once per connection of a plain net.Server or tls.Server when the drain starts or it opens during it: end it when the protocol allows. Same as `'connection-drain'`. */
  onConnectionDrain?: (socket: net.Socket) => void;
}

/** Options of {@link ServerDrainer.drain}. */
export interface DrainOptions {
  /** Ms after which every connection still open is destroyed (the "hammer"). Default {@link DEFAULT_DRAIN_TIMEOUT}; `Infinity` never hammers. */
  timeout?: number;
  /** Ms over which the HTTP/1 connections open at the start are released, in up to 16 batches (until then: keep-alive, as before); meanwhile the listener stays open and what it accepts is drained at once. Default 0. */
  ramp?: number;
  /** false: close the listener at once even with a `ramp` (a drain without a successor). Default true. */
  acceptDuringRamp?: boolean;
}

/** What a drain did, for a log line. */
export interface DrainResult {
  /** From the call of `drain()` to its end, in whole milliseconds. */
  durationMs: number;
  /** Connections destroyed at the timeout or by {@link ServerDrainer.hammer}. */
  hammered: number;
  connectionsAtStart: number;
  /** HTTP/1 requests and HTTP/2 streams in flight when the drain started. */
  requestsAtStart: number;
}

/** What a {@link ServerDrainer} sees open. */
export interface DrainStats {
  /** Open connections (TCP, or Unix socket), including upgraded ones and TLS handshakes. */
  connections: number;
  /** HTTP/1 requests and HTTP/2 streams in flight; requests pipelined on one HTTP/1 connection count as one. */
  requests: number;
  /** Connections that left HTTP through 'upgrade' or 'connect' (a subset of `connections`). */
  upgraded: number;
}

/** Payload of the `'draining'` event: what was open when the drain started. */
export interface DrainingInfo {
  connections: number;
  requests: number;
}

/** The events of {@link ServerDrainer}: `draining` (with a `ramp`, the listener closes when it ends), `drained` (also after a hammer), `hammer`, and the hooks' events. */
export type ServerDrainerEvents = {
  draining: [info: DrainingInfo];
  drained: [result: DrainResult];
  hammer: [info: { destroyed: number }];
  'upgraded-connection': [socket: net.Socket, req: http.IncomingMessage];
  'connection-drain': [socket: net.Socket];
};

/**
 * Ms this Node keeps an idle keep-alive connection open past
 * `keepAliveTimeout`: `server.keepAliveTimeoutBuffer` where it exists
 * (Node 22.19, 24.6), else the fixed 1000 ms of Node 20.18 and 22.9 on, else 0.
 */
export function nodeKeepAliveBuffer(server: net.Server, version = process.versions.node): number {
  const buffer = (server as { keepAliveTimeoutBuffer?: unknown }).keepAliveTimeoutBuffer;
  if (typeof buffer === 'number' && buffer >= 0) return buffer;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 9) || (major === 20 && minor >= 18) ? 1000 : 0;
}

function kindOf(server: net.Server): Kind {
  if (server instanceof http.Server || isHttpsServer(server)) return 'http1';
  // Http2Server and Http2SecureServer are not exported; updateSettings() is theirs alone.
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function' ? 'http2' : 'net';
}

function checkMs(name: string, value: unknown, allowInfinity: boolean): number {
  if (typeof value !== 'number') invalidType(name, 'of type number', value);
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && value === Infinity)) {
    invalidValue(name, allowInfinity ? 'must be a non-negative number of milliseconds or Infinity' : 'must be a non-negative finite number of milliseconds', value);
  }
  return value;
}

/** @internal For tests: the drain counter's ignored `done()` calls (see DrainCounter.surplus). */
export let counterSurplus: (drainer: ServerDrainer) => number;

/**
 * Drains a server whose listening socket now belongs to its next generation,
 * with no client-visible error: stops accepting, answers every request
 * received (`Connection: close` on the last), closes a connection only when
 * its client cannot be sending, sends HTTP/2 GOAWAY once the peer's first
 * requests are in, calls hooks for upgraded sockets and plain connections,
 * destroys what is left after a timeout. For http, https, http2, net and tls
 * servers, made before or after `listen()`. Rules, reasons, cost:
 * docs/graceful-server.md.
 */
export class ServerDrainer extends EventEmitter<ServerDrainerEvents> {
  static {
    counterSurplus = (drainer) => drainer.#connections.open.surplus;
  }

  readonly #server: net.Server;
  readonly #options: ServerDrainerOptions;
  readonly #connections: Connections;
  #stopped = false;
  #listenerClosed: Promise<void> = Promise.resolve();
  #drain: Promise<DrainResult> | undefined;
  #endNow: (() => void) | undefined;
  #hammerRequested = false;

  /** Starts tracking `server`. Throws ERR_INVALID_ARG_TYPE unless it is a net.Server (http, https, http2, tls all are), ERR_INVALID_ARG_VALUE if it has a ServerDrainer already. */
  constructor(server: net.Server, options: ServerDrainerOptions = {}) {
    super();
    if (!(server instanceof net.Server)) invalidType('server', 'an instance of net.Server', server);
    if (typeof options !== 'object' || options === null) invalidType('options', 'of type object', options);
    if (options.idleTimeout !== undefined) checkMs('options.idleTimeout', options.idleTimeout, false);
    for (const hook of ['onUpgraded', 'onConnectionDrain'] as const) {
      if (options[hook] !== undefined && typeof options[hook] !== 'function') invalidType(`options.${hook}`, 'of type function', options[hook]);
    }
    if (Connections.tracks(server)) invalidValue('server', 'has a ServerDrainer already', server);
    this.#server = server;
    this.#options = { ...options };
    this.#connections = new Connections(server, kindOf(server));
    // The server was (re)started after stopAccepting(): stop it again.
    server.on('listening', () => this.#stopped && this.#closeListener());
  }

  /** What is open right now, for log lines. */
  get stats(): DrainStats {
    return this.#connections.stats;
  }

  /** True from the first call of {@link drain}. */
  get draining(): boolean {
    return this.#drain !== undefined;
  }

  /**
   * Stops accepting, nothing else: `net.Server.prototype.close` on the handle
   * (the HTTP servers' `close()` also closes idle keep-alive connections,
   * resetting clients sending on them). The socket lives on in the next
   * generation. Idempotent; a server listening again is closed again.
   */
  stopAccepting(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#closeListener();
  }

  /** Drains (see the class); resolves when nothing is left, or at `timeout` after destroying the rest. Again: the same promise. Never rejects. */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    if (this.#drain) return this.#drain;
    if (typeof options !== 'object' || options === null) invalidType('options', 'of type object', options);
    const timeout = options.timeout === undefined ? DEFAULT_DRAIN_TIMEOUT : checkMs('options.timeout', options.timeout, true);
    const ramp = options.ramp === undefined ? 0 : checkMs('options.ramp', options.ramp, false);
    if (options.acceptDuringRamp !== undefined && typeof options.acceptDuringRamp !== 'boolean') {
      invalidType('options.acceptDuringRamp', 'of type boolean', options.acceptDuringRamp);
    }
    this.#drain = this.#run(timeout, ramp, options.acceptDuringRamp ?? true);
    return this.#drain;
  }

  /** Ends the drain now, destroying what is open (`'hammer'`); starts it first if none runs. Returns the drain's promise. */
  hammer(): Promise<DrainResult> {
    this.#hammerRequested = true;
    const drain = this.drain();
    this.#endNow?.();
    return drain;
  }

  async #run(timeout: number, ramp: number, acceptDuringRamp: boolean): Promise<DrainResult> {
    const start = performance.now();
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void): void => void timers.push(setTimeout(fn, Math.min(ms, 0x7fffffff)).unref());
    const accepting = ramp > 0 && acceptDuringRamp && !this.#stopped;
    if (!accepting) this.stopAccepting();
    const { connections: connectionsAtStart, requests: requestsAtStart } = this.stats;
    const { onUpgraded, onConnectionDrain } = this.#options;
    const http1 = this.#connections.drain(this.#idleBound(), {
      upgraded: (socket, req) => this.#hook('onUpgraded hook', () => (onUpgraded?.(socket as net.Socket, req), this.emit('upgraded-connection', socket as net.Socket, req))),
      plain: (socket) => this.#hook('onConnectionDrain hook', () => (onConnectionDrain?.(socket as net.Socket), this.emit('connection-drain', socket as net.Socket))),
    });
    this.#hook("'draining' listener", () => this.emit('draining', { connections: connectionsAtStart, requests: requestsAtStart }));
    // The ramp: batch i of n is released at ramp * i / n.
    const steps = ramp > 0 ? Math.min(http1.length, RAMP_STEPS) : 1;
    for (let step = 1; step <= steps; step++) {
      const batch = http1.slice(Math.ceil((http1.length * (step - 1)) / steps), Math.ceil((http1.length * step) / steps));
      if (ramp > 0) later((ramp * step) / steps, () => this.#connections.release(batch));
      else this.#connections.release(batch);
    }
    const listenerClosing = new Promise<void>((resolve) => {
      if (!accepting) return resolve();
      later(ramp, resolve);
      this.#endNow = resolve;
    }).then(() => this.stopAccepting());
    const outcome = await new Promise<'done' | 'timeout'>((resolve) => {
      this.#endNow = () => resolve('timeout');
      if (this.#hammerRequested) resolve('timeout');
      if (timeout !== Infinity) later(timeout, () => resolve('timeout'));
      listenerClosing.then(() => this.#settled()).then(resolve);
    });
    for (const timer of timers) clearTimeout(timer);
    let hammered = 0;
    if (outcome === 'timeout') {
      this.stopAccepting();
      hammered = this.#connections.hammer();
      this.#hook("'hammer' listener", () => this.emit('hammer', { destroyed: hammered }));
    }
    const result: DrainResult = { durationMs: Math.round(performance.now() - start), hammered, connectionsAtStart, requestsAtStart };
    this.#hook("'drained' listener", () => this.emit('drained', result));
    return result;
  }

  /** Resolves when nothing is left; each await is an event, never a poll. */
  async #settled(): Promise<'done'> {
    for (;;) {
      const listenerClosed = this.#listenerClosed;
      await this.#connections.open.wait();
      await listenerClosed;
      if (this.#connections.open.count === 0 && listenerClosed === this.#listenerClosed) return 'done';
    }
  }

  #idleBound(): number {
    if (this.#options.idleTimeout !== undefined) return this.#options.idleTimeout;
    const { keepAliveTimeout } = this.#server as { keepAliveTimeout?: unknown };
    if (typeof keepAliveTimeout !== 'number' || !(keepAliveTimeout > 0)) return DEFAULT_DRAIN_IDLE_TIMEOUT;
    return keepAliveTimeout + nodeKeepAliveBuffer(this.#server);
  }

  // The server emits 'close' once its listener is closed and every
  // connection it accepted has closed: what the drain waits for (with
  // Connections.open, for what the server does not count).
  #closeListener(): void {
    const server = this.#server;
    if (!server.listening && !serverConnections(server)) return;
    this.#listenerClosed = new Promise((resolve) => server.once('close', () => resolve()));
    if (server.listening) net.Server.prototype.close.call(server);
  }

  // A throwing hook or listener must not stop the drain of the rest; what it failed to end is hammered at the timeout.
  #hook(name: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      process.emitWarning(`handover: a drain ${name} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 'HandoverWarning');
    }
  }
}
