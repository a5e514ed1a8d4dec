import { EventEmitter } from 'node:events';
import { native, type NativeNotifySocket } from '../native';
import { fromNative, invalidType } from '../core';

/** Fields of one sd_notify message, e.g. `{ READY: '1', MAINPID: '42' }`. */
export type NotifyFields = Record<string, string | number>;

/** `KEY=value` lines, the sd_notify wire format. */
export function formatNotify(fields: NotifyFields): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value).replace(/\n/g, ' ')}`)
    .join('\n');
}

/** Parses `KEY=value` lines; lines without '=' are ignored, as systemd does. */
export function parseNotify(message: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of message.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

/**
 * CLOCK_MONOTONIC in microseconds, for `MONOTONIC_USEC=` (systemd ≥ 253 wants it
 * with `RELOADING=1`). libuv's hrtime reads CLOCK_MONOTONIC on Linux.
 */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * Sends one sd_notify datagram to `socketPath` (an absolute path or '@abstract').
 * Throws a Node-shaped system error (ENOENT, ECONNREFUSED...) when it cannot.
 */
export function sdNotify(socketPath: string, fields: NotifyFields): void {
  const binding = native('sdNotify');
  if (typeof socketPath !== 'string' || socketPath === '') invalidType('socketPath', 'a non-empty string', socketPath);
  try {
    binding.notifySend(socketPath, formatNotify(fields));
  } catch (err) {
    fromNative(err, socketPath);
  }
}

/** How long a notification is retried while its receiver's queue is full. */
export const NOTIFY_RETRY_DEADLINE = 10_000;
/** Notifications an {@link Upstream} holds while one is being retried; more are dropped (and reported). */
const UPSTREAM_QUEUE_MAX = 64;
/** Longest pause between two tries. */
const RETRY_DELAY_MAX = 50;

/**
 * {@link sdNotify}, retried while the receiver's queue is full (EAGAIN) for
 * up to `deadlineMs`, with pauses from 1 ms growing to 50 ms: the send never
 * blocks the event loop, and a burst of messages from elsewhere cannot make
 * this one fail at once. `onBusy` hears of the first EAGAIN. Rejects with the
 * last error (EAGAIN at the deadline; anything else at once).
 */
export async function sdNotifyPatiently(socketPath: string, fields: NotifyFields, deadlineMs = NOTIFY_RETRY_DEADLINE, onBusy?: (err: Error) => void): Promise<void> {
  const until = performance.now() + deadlineMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, RETRY_DELAY_MAX)) {
    try {
      sdNotify(socketPath, fields);
      return;
    } catch (err) {
      const left = until - performance.now();
      if ((err as { code?: string }).code !== 'EAGAIN' || left <= 0) throw err;
      if (delay === 1) onBusy?.(err as Error);
      // Kept referenced: a notification on its way is work in progress, bounded by the deadline.
      await new Promise((resolveDelay) => setTimeout(resolveDelay, Math.min(delay, left)));
    }
  }
}

/**
 * The service manager this process reports to (systemd's NOTIFY_SOCKET, or
 * the supervisor's), if any: {@link send} never throws. A notification the
 * receiver has no room for (EAGAIN) is retried for up to
 * {@link NOTIFY_RETRY_DEADLINE}, and the ones sent meanwhile wait behind it,
 * so that they arrive in order; one that cannot be delivered goes to
 * `onError`, and serving goes on. `onBusy` hears when the receiver is full.
 */
export class Upstream {
  /** The socket, or undefined when nobody listens (then send() does nothing). */
  readonly socket: string | undefined;
  readonly #onError: (err: Error, socket: string) => void;
  readonly #onBusy: ((socket: string) => void) | undefined;
  readonly #queue: NotifyFields[] = [];
  #settled: Promise<void> = Promise.resolve();

  constructor(socket: string | undefined, onError: (err: Error, socket: string) => void, onBusy?: (socket: string) => void) {
    this.socket = socket || undefined;
    this.#onError = onError;
    this.#onBusy = onBusy;
  }

  send(fields: NotifyFields): void {
    const socket = this.socket;
    if (socket === undefined) return;
    if (this.#queue.length > 0) {
      if (this.#queue.length < UPSTREAM_QUEUE_MAX) this.#queue.push(fields);
      else this.#onError(new Error(`${this.#queue.length} notifications are waiting for room at the receiver: dropped ${formatNotify(fields).replace(/\n/g, ' ')}`), socket);
      return;
    }
    try {
      sdNotify(socket, fields);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EAGAIN') {
        this.#onError(err as Error, socket);
        return;
      }
    }
    this.#onBusy?.(socket);
    this.#queue.push(fields);
    this.#settled = this.#retry(socket);
  }

  /** Resolves once every notification sent so far was delivered or given up on (never rejects). */
  settled(): Promise<void> {
    return this.#settled;
  }

  async #retry(socket: string): Promise<void> {
    while (this.#queue.length > 0) {
      try {
        await sdNotifyPatiently(socket, this.#queue[0]);
      } catch (err) {
        this.#onError(err as Error, socket);
      }
      this.#queue.shift();
    }
  }
}

/** One message received by a {@link NotifyListener}. */
export interface NotifyMessage {
  fields: Map<string, string>;
  /** The sender's pid as the kernel attests it (SCM_CREDENTIALS); -1 where the platform gives none. */
  pid: number;
  raw: string;
}

/**
 * A NOTIFY_SOCKET of our own: a bound AF_UNIX datagram socket. Every message is
 * emitted as `'message'` with the sender's pid checked by the kernel, so the
 * receiver can ignore anything but the process it started; `'close'` is
 * emitted once, when it is closed. It never keeps the event loop alive by
 * itself.
 */
export class NotifyListener extends EventEmitter {
  /** The address to put in the child's NOTIFY_SOCKET. */
  readonly path: string;
  #socket: NativeNotifySocket | null;

  constructor(path: string) {
    super();
    const binding = native('NotifyListener');
    this.path = path;
    try {
      this.#socket = new binding.NotifySocket(path, (raw, pid) => {
        this.emit('message', { fields: parseNotify(raw), pid, raw } satisfies NotifyMessage);
      });
    } catch (err) {
      fromNative(err, path);
    }
  }

  /** Closes the socket (idempotent; emits `'close'` the first time). A filesystem path is the caller's to remove. */
  close(): void {
    if (this.#socket === null) return;
    this.#socket.close();
    this.#socket = null;
    this.emit('close');
  }
}
