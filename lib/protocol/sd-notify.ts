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

/**
 * The service manager this process reports to (systemd's NOTIFY_SOCKET), if
 * any: {@link send} never throws — a notification that cannot be delivered
 * goes to `onError`, and serving goes on.
 */
export class Upstream {
  /** The socket, or undefined when nobody listens (then send() does nothing). */
  readonly socket: string | undefined;
  readonly #onError: (err: Error, socket: string) => void;

  constructor(socket: string | undefined, onError: (err: Error, socket: string) => void) {
    this.socket = socket || undefined;
    this.#onError = onError;
  }

  send(fields: NotifyFields): void {
    if (this.socket === undefined) return;
    try {
      sdNotify(this.socket, fields);
    } catch (err) {
      this.#onError(err as Error, this.socket);
    }
  }
}

/**
 * {@link sdNotify}, retried while the receiver's queue is full (EAGAIN): the
 * send never blocks the event loop, and a burst of messages from elsewhere
 * cannot make this one fail at once. Gives up after `attempts` tries.
 */
export async function sdNotifyPatiently(socketPath: string, fields: NotifyFields, attempts = 100, delayMs = 10): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      sdNotify(socketPath, fields);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EAGAIN' || i >= attempts) throw err;
      await new Promise((resolveDelay) => setTimeout(resolveDelay, delayMs));
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
 * receiver can ignore anything but the process it started. It never keeps the
 * event loop alive by itself.
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

  /** Closes the socket (idempotent). A filesystem path is the caller's to remove. */
  close(): void {
    this.#socket?.close();
    this.#socket = null;
  }
}
