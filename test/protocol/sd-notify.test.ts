// lib/sd-notify.ts: the sd_notify wire format, sending datagrams, and a
// NOTIFY_SOCKET of our own that reports each sender's pid as the kernel
// attests it — the check that makes readiness impossible to spoof for an
// unprivileged process. Real AF_UNIX datagram sockets, real processes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatNotify, NotifyListener, parseNotify, sdNotify, type NotifyMessage } from '../../lib/index';
import { monotonicUsec } from '../../lib/protocol/sd-notify';
import { DIST } from '../helpers/generations';

const listeners: NotifyListener[] = [];
let counter = 0;

/** A listener on a fresh abstract name, collecting what it receives. */
function listen(): { listener: NotifyListener; messages: NotifyMessage[] } {
  const listener = new NotifyListener(`@handover-test-notify-${process.pid}-${counter++}-${Date.now()}`);
  listeners.push(listener);
  const messages: NotifyMessage[] = [];
  listener.on('message', (m: NotifyMessage) => messages.push(m));
  return { listener, messages };
}

afterEach(() => {
  for (const l of listeners.splice(0)) l.close();
});

/** The error sdNotify throws, or null when the datagram went out. */
function sendError(path: string): unknown {
  try {
    sdNotify(path, { PROBE: 1 });
    return null;
  } catch (err) {
    return err;
  }
}

/** Runs `code` in a fresh node process (with the package as `h`) and returns its pid once it exited 0. */
async function inChild(code: string, env: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, ['-e', `const h = require(${JSON.stringify(DIST)}); ${code}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const [exitCode] = await once(child, 'exit');
  expect(exitCode).toBe(0);
  return child.pid!;
}

describe('wire format', () => {
  it('formats KEY=value lines, one per field, newlines in values flattened', () => {
    expect(formatNotify({ READY: 1, STATUS: 'two\nlines', MAINPID: 42 })).toBe('READY=1\nSTATUS=two lines\nMAINPID=42');
  });

  it('parses KEY=value lines, ignores lines without a key', () => {
    expect([...parseNotify('READY=1\n\ngarbage\n=x\nSTATUS=a=b\n')]).toEqual([
      ['READY', '1'],
      ['STATUS', 'a=b'],
    ]);
  });

  it('MONOTONIC_USEC is CLOCK_MONOTONIC in µs, the clock of process.hrtime', () => {
    const a = monotonicUsec();
    const hr = process.hrtime.bigint() / 1000n;
    const b = monotonicUsec();
    expect(hr).toBeGreaterThanOrEqual(a);
    expect(b).toBeGreaterThanOrEqual(hr);
  });
});

describe('NotifyListener and sdNotify', () => {
  it('receives each datagram with the sender pid the kernel attests: this process', async () => {
    const { listener, messages } = listen();
    sdNotify(listener.path, { READY: 1, STATUS: 'serving' });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]).toMatchObject({ pid: process.pid, raw: 'READY=1\nSTATUS=serving' });
    expect(Object.fromEntries(messages[0].fields)).toEqual({ READY: '1', STATUS: 'serving' });
  });

  it('…and another process, whatever pid it writes in the message', async () => {
    const { listener, messages } = listen();
    const pid = await inChild(`h.sdNotify(process.env.NOTIFY_SOCKET, { READY: 1, MAINPID: ${process.pid} })`, { NOTIFY_SOCKET: listener.path });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0].pid).toBe(pid);
    expect(messages[0].fields.get('MAINPID')).toBe(String(process.pid));
  });

  // Fewer than net.unix.max_dgram_qlen (10): sdNotify's send blocks while the
  // receiver's queue is full, and here the receiver is this very event loop.
  it('datagrams from one sender arrive in order', async () => {
    const { listener, messages } = listen();
    for (let i = 0; i < 8; i++) sdNotify(listener.path, { N: i });
    await expect.poll(() => messages.length).toBe(8);
    expect(messages.map((m) => m.fields.get('N'))).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it('drops an oversized datagram (over 4096 bytes, systemd\'s limit) and goes on', async () => {
    const { listener, messages } = listen();
    // sdNotify refuses such a message (EMSGSIZE): another program's sender.
    const sender = 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"STATUS=" + b"x" * 5000, "\\0" + sys.argv[1][1:])';
    const python = spawn('python3', ['-c', sender, listener.path], { stdio: 'inherit' });
    expect(await once(python, 'exit')).toEqual([0, null]);
    sdNotify(listener.path, { READY: 1 });
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0].raw).toBe('READY=1');
  });

  it('works on a filesystem path too, and close() leaves the path to its owner', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handover-notify-'));
    try {
      const path = join(dir, 'notify.sock');
      const listener = new NotifyListener(path);
      const messages: NotifyMessage[] = [];
      listener.on('message', (m: NotifyMessage) => messages.push(m));
      sdNotify(path, { READY: 1 });
      await expect.poll(() => messages.length).toBe(1);
      listener.close();
      listener.close(); // idempotent
      // The socket is closed with its poll handle, on the next turn of the loop.
      await expect.poll(() => sendError(path)).toMatchObject({ code: 'ECONNREFUSED', syscall: 'sendto', path });
      expect(existsSync(path)).toBe(true);
      expect(messages).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors are shaped like Node\'s: ECONNREFUSED for a name nobody listens on, ENOENT for a missing path, EADDRINUSE for a taken name', () => {
    const { listener } = listen();
    expect(() => sdNotify('@handover-test-nobody-listens-here', { READY: 1 })).toThrow(
      expect.objectContaining({ code: 'ECONNREFUSED', errno: -111, syscall: 'sendto', path: '@handover-test-nobody-listens-here' }),
    );
    expect(() => sdNotify('/nonexistent/notify.sock', { READY: 1 })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'sendto' }));
    expect(() => new NotifyListener(listener.path)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', path: listener.path }));
    expect(() => sdNotify('', { READY: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('after close() nothing more is delivered', async () => {
    const { listener, messages } = listen();
    sdNotify(listener.path, { A: 1 });
    await expect.poll(() => messages.length).toBe(1);
    listener.close();
    await expect.poll(() => sendError(listener.path)).toMatchObject({ code: 'ECONNREFUSED' });
    expect(messages).toHaveLength(1);
  });

  it('a listener never keeps a process alive by itself', async () => {
    // The child opens a listener and returns: it must exit on its own.
    await inChild(`new h.NotifyListener('@handover-test-unref-' + process.pid).on('message', () => {})`);
  });
});
