// A NOTIFY_SOCKET that only its user can reach, notifications that wait for
// room at a full receiver instead of failing at once, and a bounded log of
// the notifications a receiver ignores (issue 20, point 3). Real sockets;
// the receivers that never read are other processes.
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NotifyListener, sdNotify, type NotifyMessage } from '../../lib/index';
import { IgnoredNotifications, PrivateNotifyListener, privateSocketPath, removePrivateSocket, sdNotifyPatiently, Upstream } from '../../lib/protocol';
import { cleanup, DIST, finished, removeTempDirs, spawnNode, spawnTracked, tempDir } from '../helpers/children';

const listeners: NotifyListener[] = [];
afterEach(async () => {
  for (const l of listeners.splice(0)) l.close();
  await cleanup();
});
afterAll(removeTempDirs);

function listen(): { listener: PrivateNotifyListener; messages: NotifyMessage[] } {
  const listener = PrivateNotifyListener.open('handover-test-');
  listeners.push(listener);
  const messages: NotifyMessage[] = [];
  listener.on('message', (m: NotifyMessage) => messages.push(m));
  return { listener, messages };
}

/** Sends to `path` until the receiver's queue is full (EAGAIN); returns how many went in. */
function fill(path: string): number {
  for (let sent = 0; sent < 10_000; sent++) {
    try {
      sdNotify(path, { FILLER: sent });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return sent;
      throw err;
    }
  }
  throw new Error('the queue never filled');
}

/** A python receiver bound to a socket in a fresh directory, that never reads. */
async function deafReceiver(): Promise<string> {
  const path = join(tempDir('handover-deaf-'), 'deaf.sock');
  const child = spawnTracked('python3', ['-c', 'import socket, sys, time\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound", flush=True)\ntime.sleep(120)', path]);
  await once(child.stdout!, 'data');
  return path;
}

describe('Upstream and sdNotifyPatiently: a full receiver', () => {
  it('Upstream holds a notification the receiver has no room for and delivers it, and those after it, in order', async () => {
    const { listener, messages } = listen();
    const errors: Error[] = [];
    const busy: string[] = [];
    const upstream = new Upstream(listener.path, (err) => errors.push(err), (socket) => busy.push(socket));
    // This event loop is the receiver: nothing is read until the test yields.
    const filled = fill(listener.path);
    upstream.send({ READY: 1, MAINPID: process.pid });
    upstream.send({ STATUS: 'after' });
    expect(busy).toEqual([listener.path]);
    await upstream.settled();
    expect(errors).toEqual([]);
    await expect.poll(() => messages.length).toBe(filled + 2);
    expect(messages.slice(filled).map((m) => m.raw)).toEqual([`READY=1\nMAINPID=${process.pid}`, 'STATUS=after']);
  });

  it('sdNotifyPatiently gives up at its deadline with the EAGAIN of the last try', async () => {
    const path = await deafReceiver();
    fill(path);
    const started = performance.now();
    await expect(sdNotifyPatiently(path, { READY: 1 }, 300)).rejects.toMatchObject({ code: 'EAGAIN', syscall: 'sendto', path });
    expect(performance.now() - started).toBeGreaterThanOrEqual(299);
    // Other errors are not retried.
    await expect(sdNotifyPatiently(join(dirname(path), 'nobody.sock'), { READY: 1 })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an app started by a supervisor whose queue is full still says READY=1: ready() waits for room', async () => {
    // A receiver that reads only when told to, printing each message.
    const path = join(tempDir('handover-slow-'), 'slow.sock');
    const receiver = spawnTracked('python3', ['-c', SLOW_RECEIVER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    await once(receiver.stdout!, 'data');
    const filled = fill(path);
    const script = join(dirname(path), 'app.js');
    writeFileSync(script, `const h = require(${JSON.stringify(DIST)}); const u = new h.Upgrader({ log: (l) => console.log(l) }); u.ready().then(() => { console.log('ready resolved'); u.stop(); });`);
    const app = spawnNode([script], { env: { ...process.env, NOTIFY_SOCKET: path } });
    const appDone = finished(app);
    let output = '';
    app.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    await expect.poll(() => output, { timeout: 10_000 }).toContain('is full');
    const received = finished(receiver);
    receiver.stdin!.end('read\n');
    const done = await appDone;
    expect(done.code).toBe(0);
    // (It also warns that its script is in the temporary directory.)
    const said = done.stdout.split('\n').filter((l) => !l.includes('temporary directory'));
    expect(said).toEqual([`${path} is full: retrying for up to 10 s`, 'ready resolved', '']);
    const lines = (await received).stdout.trim().split('\n');
    expect(lines).toHaveLength(filled + 1); // ("bound" was read before)
    expect(lines[filled]).toBe(JSON.stringify(`READY=1\nMAINPID=${app.pid}`));
  });
});

/** Binds argv[1], says "bound", waits for a line on stdin, then prints each message (JSON) until READY=1. */
const SLOW_RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
sys.stdin.readline()
while True:
    data = s.recv(4096).decode()
    print(json.dumps(data), flush=True)
    if data.startswith("READY=1"):
        break
`;

describe('PrivateNotifyListener', () => {
  it('is a socket file in a fresh 0700 directory, removed with it on close()', () => {
    const { listener } = listen();
    expect(listener.path).toMatch(new RegExp(`/handover-test-${process.pid}-[^/]{6}/notify\\.sock$`));
    const dir = statSync(dirname(listener.path));
    expect({ mode: dir.mode & 0o7777, uid: dir.uid }).toEqual({ mode: 0o700, uid: process.getuid!() });
    expect(statSync(listener.path).isSocket()).toBe(true);
    listener.close();
    expect(existsSync(dirname(listener.path))).toBe(false);
  });

  it('is removed at exit when nobody closed it', async () => {
    const child = spawnNode(['-e', `const p = require(${JSON.stringify(join(dirname(DIST), 'protocol/index.js'))}); console.log(p.PrivateNotifyListener.open('handover-test-exit-').path);`]);
    const { code, stdout } = await finished(child);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`/handover-test-exit-${child.pid}-[^/]{6}/notify\\.sock\n$`));
    expect(existsSync(dirname(stdout.trim()))).toBe(false);
  });

  it('clears away what SIGKILLed processes left under its stem, and nothing else', async () => {
    const base = tempDir('handover-sweep-');
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = base;
    chmodSync(base, 0o700);
    const dead = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1; // no process can have it
    const made = (name: string, files: string[]) => {
      mkdirSync(join(base, name));
      for (const file of files) writeFileSync(join(base, name, file), '');
      return join(base, name);
    };
    const stale = made(`handover-test-sweep-${dead}-AbC123`, ['notify.sock']);
    const empty = made(`handover-test-sweep-${dead}-XyZ789`, []);
    const live = made(`handover-test-sweep-${process.ppid}-AbC123`, ['notify.sock']);
    const more = made(`handover-test-sweep-${dead}-Qq1234`, ['notify.sock', 'other']);
    const otherStem = made(`handover-test-sweeps-${dead}-AbC123`, ['notify.sock']);
    try {
      const path = privateSocketPath('handover-test-sweep-');
      expect(dirname(dirname(path))).toBe(base);
      expect([stale, empty, live, more, otherStem].map(existsSync)).toEqual([false, false, true, true, true]);
      removePrivateSocket(path);
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('goes under $XDG_RUNTIME_DIR when it is private and ours, and where the path fits sun_path', () => {
    const saved = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, TMPDIR: process.env.TMPDIR };
    try {
      const runtime = tempDir('handover-runtime-');
      process.env.XDG_RUNTIME_DIR = runtime;
      const path = privateSocketPath('handover-test-');
      expect(dirname(dirname(path))).toBe(runtime);
      removePrivateSocket(path);
      expect(existsSync(dirname(path))).toBe(false);
      // A TMPDIR so long that no socket path under it fits: /tmp instead.
      delete process.env.XDG_RUNTIME_DIR;
      const deep = join(tempDir('handover-deep-'), 'd'.repeat(120));
      mkdirSync(deep);
      process.env.TMPDIR = deep;
      expect(tmpdir()).toBe(deep);
      const short = privateSocketPath('handover-test-');
      expect(dirname(dirname(short))).toBe('/tmp');
      expect(Buffer.byteLength(short)).toBeLessThan(108);
      removePrivateSocket(short);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('IgnoredNotifications', () => {
  it('gives the first notification of each sender a line, counts the rest, and sums them up once per interval', async () => {
    const lines: string[] = [];
    const ignored = new IgnoredNotifications((line) => lines.push(line), 100);
    const message = (pid: number, raw = 'READY=1') => ({ pid, raw, fields: new Map([['READY', '1']]) });
    for (let i = 0; i < 1000; i++) ignored.ignore(message(7 + (i % 2), 'READY=1\nSTATUS=\x1b[2J\r'), 'not ours');
    expect(lines).toEqual([
      'ignoring a notification from pid 7: not ours (READY=1\\nSTATUS=\\x1b[2J\\r)',
      'ignoring a notification from pid 8: not ours (READY=1\\nSTATUS=\\x1b[2J\\r)',
    ]);
    await expect.poll(() => lines.length).toBe(3);
    expect(lines[2]).toBe('ignored 998 more notifications from pid 7, 8 in the last 0.1 s');
    // Many senders: four get a line, the summary names five pids and says there were others.
    for (let pid = 100; pid < 120; pid++) ignored.ignore(message(pid), 'not ours');
    expect(lines.length).toBe(7);
    ignored.close();
    expect(lines[7]).toBe('ignored 16 more notifications from pid 104, 105, 106, 107, 108 and others in the last 0.1 s');
    expect(lines).toHaveLength(8);
  });
});
