/**
 * A wrk-like HTTP/1.1 load generator for the drain tests: N connections, each
 * sending its next request the moment the previous response is parsed (the
 * tightest race a keep-alive client can make with a server that closes idle
 * connections). Like wrk, a response with `Connection: close` makes the
 * client close and reconnect; nothing is ever retried. Every failure is
 * counted by kind, every success by response body (the tests' servers answer
 * "A" or "B", so the counts say which generation served).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

/** What went wrong, as a client sees it. */
export type LoadErrorKind =
  /** connect() or the TLS handshake failed. */
  | 'connect'
  /** EOF (or another read error) on a connection that was kept alive, before a response. */
  | 'read'
  /** ECONNRESET / EPIPE. */
  | 'reset'
  /** A response that is not 2xx. */
  | 'status'
  /** No complete response within `requestTimeoutMs`. */
  | 'timeout'
  /** Bytes that are not a well-formed response (or bytes nobody asked for). */
  | 'parse';

export const ERROR_KINDS: readonly LoadErrorKind[] = ['connect', 'read', 'reset', 'status', 'timeout', 'parse'];

/** One parsed HTTP/1.x response. */
export interface ParsedResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Incremental HTTP/1.1 response parser: Content-Length, chunked, or (for a
 * `Connection: close` response without either) body until EOF.
 */
export class ResponseParser {
  #buffer: Buffer = Buffer.alloc(0);
  #head: { status: number; headers: Record<string, string> } | undefined;
  #untilEof = false;

  /** Feeds bytes; returns the responses completed by them. Throws on malformed input. */
  push(chunk: Buffer): ParsedResponse[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: ParsedResponse[] = [];
    for (;;) {
      const response = this.#next();
      if (!response) return out;
      out.push(response);
    }
  }

  /** The peer closed: completes a body-until-EOF response; throws if a response was cut short. */
  end(): ParsedResponse | undefined {
    if (this.#head && this.#untilEof) {
      const response = { ...this.#head, body: this.#buffer.toString() };
      this.#reset();
      return response;
    }
    if (this.#head || this.#buffer.length > 0) throw new Error('EOF in the middle of a response');
    return undefined;
  }

  /** True while part of a response has been received. */
  get partial(): boolean {
    return this.#head !== undefined || this.#buffer.length > 0;
  }

  #reset(): void {
    this.#head = undefined;
    this.#untilEof = false;
  }

  #next(): ParsedResponse | undefined {
    if (!this.#head) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.#buffer.length > 65_536) throw new Error('response head too large');
        return undefined;
      }
      const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
      const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
      if (!match) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.#head = { status: Number(match[1]), headers };
      this.#buffer = this.#buffer.subarray(end + 4);
      this.#untilEof = false;
    }
    const { headers, status } = this.#head;
    if (status >= 100 && status < 200 && status !== 101) {
      // An interim response (100 Continue): the final one follows.
      this.#reset();
      return this.#next();
    }
    if (status === 204 || status === 304 || status === 101) return this.#complete('');
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) return this.#chunked();
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error('bad content-length');
      if (this.#buffer.length < length) return undefined;
      const body = this.#buffer.subarray(0, length).toString();
      this.#buffer = this.#buffer.subarray(length);
      return this.#complete(body);
    }
    this.#untilEof = true;
    return undefined;
  }

  #chunked(): ParsedResponse | undefined {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lineEnd = this.#buffer.indexOf('\r\n', offset);
      if (lineEnd === -1) return undefined;
      const size = parseInt(this.#buffer.subarray(offset, lineEnd).toString('latin1'), 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        // No trailers from the test servers: the terminating CRLF follows.
        if (this.#buffer.length < lineEnd + 4) return undefined;
        if (this.#buffer.subarray(lineEnd + 2, lineEnd + 4).toString() !== '\r\n') throw new Error('trailers not supported');
        const body = Buffer.concat(parts).toString();
        this.#buffer = this.#buffer.subarray(lineEnd + 4);
        return this.#complete(body);
      }
      if (this.#buffer.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
    }
  }

  #complete(body: string): ParsedResponse {
    const head = this.#head!;
    this.#reset();
    return { status: head.status, headers: head.headers, body };
  }
}

/** Options of {@link LoadClient}. */
export interface LoadClientOptions {
  port: number;
  host?: string;
  /** Concurrent connections (each with one request at a time). */
  connections: number;
  /** false: every request says `Connection: close` (a new connection per request). Default true. */
  keepAlive?: boolean;
  /** Connect with TLS (these options are passed to tls.connect). */
  tls?: tls.ConnectionOptions;
  path?: string;
  /** Per request. Default 5000. */
  requestTimeoutMs?: number;
}

/** What a load run saw. */
export interface LoadStats {
  /** 2xx responses. */
  ok: number;
  /** 2xx responses by body. */
  byBody: Record<string, number>;
  errors: Record<LoadErrorKind, number>;
  /** The first few errors, for a readable failure message. */
  samples: string[];
  /** Connections established. */
  connects: number;
}

type ResolvedOptions = Required<Omit<LoadClientOptions, 'tls'>> & { tls: tls.ConnectionOptions | undefined };

/** Drives load until stop(); see the file comment. */
export class LoadClient {
  /** The options with their defaults. */
  readonly options: ResolvedOptions;
  readonly #stats: LoadStats = {
    ok: 0,
    byBody: {},
    errors: { connect: 0, read: 0, reset: 0, status: 0, timeout: 0, parse: 0 },
    samples: [],
    connects: 0,
  };
  readonly #workers: Worker[] = [];
  #stopping = false;

  constructor(options: LoadClientOptions) {
    this.options = {
      host: '127.0.0.1',
      keepAlive: true,
      path: '/',
      requestTimeoutMs: 5000,
      ...options,
      tls: options.tls,
    };
  }

  /** Opens the connections; each starts sending at once. */
  start(): this {
    for (let i = 0; i < this.options.connections; i++) {
      const worker = new Worker(this);
      this.#workers.push(worker);
      worker.connect();
    }
    return this;
  }

  /** Responses received with this body so far. */
  served(body: string): number {
    return this.#stats.byBody[body] ?? 0;
  }

  /** A copy of the counters so far. */
  get stats(): LoadStats {
    return structuredClone(this.#stats);
  }

  /** Sum of all errors so far. */
  get errorCount(): number {
    return ERROR_KINDS.reduce((sum, kind) => sum + this.#stats.errors[kind], 0);
  }

  /**
   * Lets each connection finish the request it has on the wire (bounded by
   * the request timeout), closes it, and returns the final counters.
   */
  async stop(): Promise<LoadStats> {
    this.#stopping = true;
    await Promise.all(this.#workers.map((worker) => worker.stop()));
    return this.stats;
  }

  /** @internal */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** @internal */
  record(kind: LoadErrorKind, detail: string): void {
    this.#stats.errors[kind]++;
    if (this.#stats.samples.length < 10) this.#stats.samples.push(`${kind}: ${detail}`);
  }

  /** @internal */
  recordOk(body: string): void {
    this.#stats.ok++;
    this.#stats.byBody[body] = (this.#stats.byBody[body] ?? 0) + 1;
  }

  /** @internal */
  recordConnect(): void {
    this.#stats.connects++;
  }
}

class Worker {
  readonly #client: LoadClient;
  #socket: net.Socket | undefined;
  #parser = new ResponseParser();
  #connected = false;
  /** A request is on the wire and its response is not complete. */
  #outstanding = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;

  constructor(client: LoadClient) {
    this.#client = client;
  }

  connect(): void {
    if (this.#client.stopping) return this.#finish();
    const { host, port, tls: tlsOptions } = this.#client.options;
    this.#parser = new ResponseParser();
    this.#connected = false;
    this.#outstanding = false;
    const socket = tlsOptions
      ? tls.connect({ host, port, rejectUnauthorized: false, ...tlsOptions })
      : net.connect({ host, port });
    this.#socket = socket;
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      this.#client.recordConnect();
      this.#send(socket);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('end', () => this.#onEnd(socket));
    socket.on('error', (err: NodeJS.ErrnoException) => this.#onError(socket, err));
    socket.on('close', () => this.#onClose(socket));
  }

  stop(): Promise<void> {
    this.#stopped ??= new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
    if (!this.#outstanding) this.#finish();
    return this.#stopped;
  }

  #finish(): void {
    this.#clearTimer();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket && !socket.destroyed) socket.destroy();
    this.#resolveStopped?.();
    this.#stopped ??= Promise.resolve();
  }

  #send(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    if (this.#client.stopping) return this.#finish();
    const { path, keepAlive, requestTimeoutMs } = this.#client.options;
    this.#outstanding = true;
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`);
    this.#timer = setTimeout(() => {
      this.#fail(socket, 'timeout', `no response in ${requestTimeoutMs} ms`);
    }, requestTimeoutMs);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return;
    let responses: ParsedResponse[];
    try {
      responses = this.#parser.push(chunk);
    } catch (err) {
      return this.#fail(socket, 'parse', (err as Error).message);
    }
    for (const response of responses) this.#onResponse(socket, response);
  }

  #onResponse(socket: net.Socket, response: ParsedResponse): void {
    if (socket !== this.#socket) return;
    if (!this.#outstanding || this.#parser.partial) {
      return this.#fail(socket, 'parse', 'bytes nobody asked for');
    }
    this.#outstanding = false;
    this.#clearTimer();
    if (response.status >= 200 && response.status < 300) this.#client.recordOk(response.body);
    else this.#client.record('status', `HTTP ${response.status}`);
    const close = /close/i.test(response.headers.connection ?? '') || !this.#client.options.keepAlive;
    if (this.#client.stopping) return this.#finish();
    if (close) {
      // As wrk does: the server said it closes, so close and reconnect.
      this.#socket = undefined;
      socket.destroy();
      this.connect();
      return;
    }
    this.#send(socket);
  }

  #onEnd(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    let response: ParsedResponse | undefined;
    try {
      response = this.#parser.end();
    } catch (err) {
      return this.#fail(socket, 'read', `EOF: ${(err as Error).message}`);
    }
    if (response && this.#outstanding) {
      // A response delimited by EOF: complete, and the connection is over.
      this.#onResponse(socket, { ...response, headers: { ...response.headers, connection: 'close' } });
      return;
    }
    this.#fail(socket, 'read', this.#outstanding ? 'EOF before the response' : 'EOF on a kept-alive connection');
  }

  #onError(socket: net.Socket, err: NodeJS.ErrnoException): void {
    if (socket !== this.#socket) return;
    if (!this.#connected) return this.#fail(socket, 'connect', `${err.code ?? ''} ${err.message}`);
    const kind = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'read';
    this.#fail(socket, kind, `${err.code ?? ''} ${err.message}`);
  }

  #onClose(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    // A close without 'end' or 'error' (destroyed under us): still an error.
    this.#fail(socket, 'read', 'closed');
  }

  #fail(socket: net.Socket, kind: LoadErrorKind, detail: string): void {
    if (socket !== this.#socket) return;
    this.#client.record(kind, detail);
    this.#clearTimer();
    this.#outstanding = false;
    this.#socket = undefined;
    socket.destroy();
    if (this.#client.stopping) return this.#finish();
    // Like wrk: reconnect. After a failed connect, not in a hot loop.
    if (kind === 'connect') setTimeout(() => this.connect(), 5);
    else this.connect();
  }
}
