// Upgrader (issue 3): every socket handed to the next generation, safely.
// Real generations of test/fixtures/upgrader-app.js, real sockets and
// signals; every step is awaited on an event a generation wrote, on a process
// exit or with expect.poll. Each test kills and reaps everything it started.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { inspectFd, NotifyListener, sdNotify, type NotifyMessage } from '../../lib/index';
import { native } from '../../lib/native/binding';
import { monotonicUsec } from '../../lib/protocol/sd-notify';
import { APP, cleanupRuns, httpGet, procState, removeScratch, Run, scratchDir, udpEcho, zombiesOf, type GenEvent } from '../helpers/generations';
import { fixtureBinary } from '../helpers/compile';
import { connectOutcome, freePort } from '../helpers/net';
import { environOf } from '../helpers/proc';

afterEach(async () => {
  await cleanupRuns();
});

afterAll(() => removeScratch());

/** A listening TCP socket made by the kernel for us, as a socket activator would. */
function listeningSocket(host = '127.0.0.1'): { fd: number; port: number } {
  const fd = native('test').listenSocket({ family: host.includes(':') ? 'IPv6' : 'IPv4', type: 'stream', address: host, port: 0, path: '', backlog: 16, ipv6Only: false });
  return { fd, port: inspectFd(fd).port! };
}

/** The fixture copied into `dir` (a script we may delete or replace). */
function copyApp(dir: string, name = 'app.js'): string {
  const path = join(dir, name);
  copyFileSync(APP, path);
  return path;
}

async function startReady(run: Run, ...args: Parameters<Run['start']>): Promise<GenEvent> {
  run.start(...args);
  return run.next({ event: 'ready', gen: 1 });
}

/** SIGHUP to `from`; resolves with the next generation's ready event once `from` has exited. */
async function upgrade(run: Run, from: GenEvent): Promise<GenEvent> {
  run.signal(from.pid, 'SIGHUP');
  const ready = await run.next((e) => e.event === 'ready' && e.gen === from.gen + 1 && e.hasParent && e.parentPid === from.pid);
  await run.next({ event: 'exiting', pid: from.pid });
  return ready;
}

async function upgradeFails(run: Run, from: GenEvent): Promise<GenEvent> {
  const before = run.all({ event: 'upgrade-failed', pid: from.pid }).length;
  run.signal(from.pid, 'SIGHUP');
  return run.next((e) => e.event === 'upgrade-failed' && e.pid === from.pid && run.all({ event: 'upgrade-failed', pid: from.pid }).indexOf(e) === before);
}

/**
 * An HTTP/1.0 request to a Linux abstract socket named as systemd names it
 * ('@name': the name's exact length). Node 20's own client cannot: it pads
 * '\0name' to the whole of sun_path, a different address; test/fixtures/abstract-get.c does not.
 */
function abstractGet(name: string): { pid: number; gen: number } {
  const response = execFileSync(fixtureBinary('abstract-get'), [name.slice(1)], { encoding: 'utf8', timeout: 10_000 });
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

describe('inheritance in: LISTEN_FDS as sd_listen_fds reads it', () => {
  it('adopts what a socket activator passes: matched by address, named, variables gone for the app and its children', async () => {
    const dir = scratchDir('inherit-');
    const socket = listeningSocket();
    const logPath = join(dir, 'log');
    const logFd = openSync(logPath, 'a');
    const run = new Run();
    try {
      run.forkExec({ listen: [[socket.port, '127.0.0.1']], logFile: join(dir, 'not-opened'), grandchild: true }, [socket.fd, logFd], {
        env: { LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:log' },
      });
    } finally {
      closeSync(socket.fd);
      closeSync(logFd);
    }
    const start = await run.next({ event: 'start' });
    expect(start.env).toEqual({ LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:log', LISTEN_PID: String(run.firstPid) });
    expect(start.inherited.map((f: GenEvent) => [f.fd, f.type])).toEqual([
      [3, 'socket'],
      [4, 'file'],
    ]);
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toBeNull();
    expect(constructed.env).toEqual({});
    expect(constructed.unclaimed).toEqual([
      { fd: 3, name: 'web' },
      { fd: 4, name: 'log' },
    ]);
    const ready = await run.next({ event: 'ready' });
    expect(ready.handedOver.map((f: GenEvent) => [f.fd, f.name, f.port ?? null])).toEqual([
      [3, 'web', socket.port],
      [4, 'log', null],
    ]);
    expect((await run.next({ event: 'log-file' })).opened).toBe(false);
    expect(ready.env).toEqual({});
    // A grandchild (execFileSync) sees neither the variables nor the fds.
    expect(ready.grandchild.env).toEqual({});
    const passed = [ready.fdTable['3'], logPath];
    expect(ready.grandchild.fds.filter((line: string) => passed.some((target) => line.endsWith(` ${target}`)))).toEqual([]);
    expect(await httpGet({ port: socket.port })).toMatchObject({ pid: run.firstPid });
    expect(readFileSync(logPath, 'utf8')).toBe(`gen 1 pid ${run.firstPid}\ngen 1 ready\n`);
  });

  // Node already marks the fds it inherits close-on-exec at start-up (strace:
  // F_SETFD on 0..16 and on until the first closed fd), so the flag cannot be
  // seen flipping here; what matters is that no adopted fd reaches a child.
  it('every adopted fd is FD_CLOEXEC: twenty listeners, none reaches a grandchild', async () => {
    const sockets = Array.from({ length: 20 }, () => listeningSocket());
    const run = new Run();
    try {
      run.forkExec({ listen: sockets.map((s) => [s.port, '127.0.0.1']), grandchild: true }, sockets.map((s) => s.fd), { env: { LISTEN_FDS: '20' } });
    } finally {
      for (const s of sockets) closeSync(s.fd);
    }
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toBeNull();
    expect(constructed.inherited.map((f: GenEvent) => f.cloexec)).toEqual(Array(20).fill(true));
    const ready = await run.next({ event: 'ready' });
    expect(ready.handedOver.map((f: GenEvent) => [f.fd, f.port])).toEqual(sockets.map((s, i) => [3 + i, s.port]));
    const targets = ready.handedOver.map((f: GenEvent) => f.target);
    expect(ready.grandchild.fds.filter((line: string) => targets.includes(line.split(' ')[1]))).toEqual([]);
    expect(await httpGet({ port: sockets[19].port })).toMatchObject({ pid: run.firstPid });
  });

  it('ignores the variables when LISTEN_PID names another process, and still removes them', async () => {
    const socket = listeningSocket();
    const run = new Run();
    try {
      run.forkExec({ listen: [[0, '127.0.0.1']] }, [socket.fd], { env: { LISTEN_FDS: '1', LISTEN_PID: String(process.pid) }, listenPid: false });
    } finally {
      closeSync(socket.fd);
    }
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toBeNull();
    expect(constructed.env).toEqual({});
    expect(constructed.unclaimed).toEqual([]);
    const ready = await run.next({ event: 'ready' });
    expect(ready.handedOver).toHaveLength(1);
    expect(ready.handedOver[0].fd).not.toBe(3);
    expect(ready.addresses[0].port).not.toBe(socket.port);
    // fd 3 was not ours: left alone, neither adopted nor closed.
    expect(ready.fdTable['3']).toMatch(/^socket:/);
    expect(await httpGet({ port: ready.addresses[0].port })).toMatchObject({ pid: run.firstPid });
  });

  it.each([
    ['a count that is not a number', { LISTEN_FDS: 'two' }, /LISTEN_FDS is not a count/],
    ['a negative count', { LISTEN_FDS: '-1' }, /LISTEN_FDS is not a count/],
    ['a count past the fds passed (fd 4 is Node\'s own)', { LISTEN_FDS: '3' }, /fd 4/],
    ['a count far past the open fds', { LISTEN_FDS: '900' }, /fd 4/],
    ['names that do not match the count', { LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b' }, /LISTEN_FDNAMES/],
  ])('garbage — %s — is logged as inheritanceError, nothing is adopted or closed, the app listens afresh', async (_what, variables, message) => {
    const socket = listeningSocket();
    const target = readlinkSync(`/proc/self/fd/${socket.fd}`);
    const run = new Run();
    try {
      run.forkExec({ listen: [[0, '127.0.0.1']], log: true }, [socket.fd], { env: variables });
    } finally {
      closeSync(socket.fd);
    }
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(message) });
    await run.next((e) => e.event === 'log' && e.line.startsWith('ignoring inherited fds'));
    expect(constructed.env).toEqual({});
    expect(constructed.unclaimed).toEqual([]);
    const ready = await run.next({ event: 'ready' });
    expect(ready.addresses[0].port).not.toBe(socket.port);
    expect(ready.handedOver[0].fd).not.toBe(3);
    expect(ready.fdTable['3']).toBe(target);
    expect(await httpGet({ port: ready.addresses[0].port })).toMatchObject({ pid: run.firstPid });
  });

  it('garbage with LISTEN_PID set to its own pid by a wrapper (fd 3 is Node\'s epoll) is ignored: no crash, a fresh listener', async () => {
    const run = new Run();
    run.spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=a:b exec "$0" "$1"', process.execPath, APP], {
      env: run.env({ listen: [[0, '127.0.0.1']], grandchild: true }),
    });
    const start = await run.next({ event: 'start' });
    expect(start.env).toMatchObject({ LISTEN_FDS: '2', LISTEN_PID: String(run.firstPid) });
    expect(start.inherited[0].target).toBe('anon_inode:[eventpoll]');
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(/fd 3 is a kernel object/) });
    expect(constructed.env).toEqual({});
    const ready = await run.next({ event: 'ready' });
    expect(ready.grandchild.env).toEqual({});
    expect(ready.fdTable['3']).toBe('anon_inode:[eventpoll]');
    expect(await httpGet({ port: ready.addresses[0].port })).toMatchObject({ pid: run.firstPid });
  });

  it('LISTEN_PID that is not a number is garbage; LISTEN_FDS without LISTEN_PID is nothing (as in systemd)', async () => {
    const a = new Run();
    a.forkExec({}, [], { env: { LISTEN_FDS: '1', LISTEN_PID: 'me' }, listenPid: false });
    const b = new Run();
    b.forkExec({}, [], { env: { LISTEN_FDS: '1' }, listenPid: false });
    const [ca, cb] = await Promise.all([a.next({ event: 'constructed' }), b.next({ event: 'constructed' })]);
    expect(ca.inheritanceError).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(/LISTEN_PID/) });
    expect(cb.inheritanceError).toBeNull();
    expect([ca.env, cb.env]).toEqual([{}, {}]);
    await Promise.all([a.next({ event: 'ready' }), b.next({ event: 'ready' })]);
  });

  it('a named fd that is not what its name says is an inheritanceError: file(name) opens afresh, the fd is closed at ready()', async () => {
    const dir = scratchDir('misnamed-');
    const socket = listeningSocket();
    const run = new Run();
    try {
      run.forkExec({ listen: [[0, '::1']], logFile: join(dir, 'log'), log: true }, [socket.fd], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'log' } });
    } finally {
      closeSync(socket.fd);
    }
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inheritanceError).toBeNull();
    const logFile = await run.next({ event: 'log-file' });
    expect(logFile.opened).toBe(true);
    expect(logFile.fd).not.toBe(3);
    const ready = await run.next({ event: 'ready' });
    expect(ready.inheritanceError).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(/fd 3 .*"log".* listening socket/) });
    await run.next((e) => e.event === 'log' && /fd 3/.test(e.line) && /"log"/.test(e.line));
    expect(ready.handedOver.map((f: GenEvent) => f.name)).toEqual(['unknown', 'log']);
    expect(ready.unclaimed).toEqual([]);
    expect(ready.fdTable['3']).not.toBe(constructed.inherited[0].target);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toContain(`gen 1 pid ${run.firstPid}`);
  });

  it('listen({ name }) on a named fd that is a file is an inheritanceError and binds afresh', async () => {
    const dir = scratchDir('misnamed-');
    const fd = openSync(join(dir, 'web'), 'w');
    const run = new Run();
    try {
      run.forkExec({ listen: [[{ port: 0, host: '127.0.0.1', name: 'web' }]] }, [fd], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' } });
    } finally {
      closeSync(fd);
    }
    const ready = await run.next({ event: 'ready' });
    expect(ready.inheritanceError).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(/fd 3 .*"web".* not a listening stream socket/) });
    expect(ready.handedOver.map((f: GenEvent) => f.name)).toEqual(['web']);
    expect(ready.handedOver[0].fd).not.toBe(3);
    expect(await httpGet({ port: ready.addresses[0].port })).toMatchObject({ pid: run.firstPid });
  });
});

describe('listeners by address', () => {
  it('hands TCP v4/v6, Unix path and abstract, UDP v4/v6 and a named file to the next generation, each adopted by its real address', async () => {
    const dir = scratchDir('kinds-');
    const path = join(dir, 'http.sock');
    const abstract = `@handover-test-${process.pid}-${Date.now()}`;
    const listen = [[0, '127.0.0.1'], [0, '0.0.0.0'], [0], [0, '::1'], [path], [abstract], { udp: ['udp4', 0, '127.0.0.1', 'dns'] }, { udp: ['udp6', 0, '::1'] }];
    const run = new Run();
    const first = await startReady(run, { listen, logFile: join(dir, 'log') });
    const ports = first.addresses.slice(0, 4).map((a: { port: number }) => a.port);
    expect(first.addresses.slice(0, 4).map((a: { address: string }) => a.address)).toEqual(['127.0.0.1', '0.0.0.0', '::', '::1']);
    expect(first.addresses.slice(4)).toEqual([path, abstract]);
    const udp = first.udp.map((a: { port: number }) => a.port);
    const names = first.handedOver.map((f: GenEvent) => f.name);
    expect(names).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'unknown', 'dns', 'unknown', 'log']);

    const second = await upgrade(run, first);
    // Every fd was inherited, in order, at 3..11: nothing was bound afresh.
    expect(second.handedOver.map((f: GenEvent) => f.fd)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(second.handedOver.map((f: GenEvent) => f.name)).toEqual(names);
    expect(second.addresses).toEqual(first.addresses);
    expect(second.udp).toEqual(first.udp);
    expect(second.unclaimed).toEqual([]);
    // Port 0 kept its real port; every socket serves from the new generation.
    expect(await httpGet({ port: ports[0] })).toMatchObject({ pid: second.pid });
    expect(await httpGet({ port: ports[1] })).toMatchObject({ pid: second.pid });
    expect(await httpGet({ port: ports[2] })).toMatchObject({ pid: second.pid });
    expect(await httpGet({ port: ports[2], host: '::1' })).toMatchObject({ pid: second.pid });
    expect(await httpGet({ port: ports[3], host: '::1' })).toMatchObject({ pid: second.pid });
    expect(await httpGet({ socketPath: path })).toMatchObject({ pid: second.pid });
    expect(abstractGet(abstract)).toMatchObject({ pid: second.pid });
    expect(await udpEcho(udp[0])).toMatchObject({ pid: second.pid, echo: 'ping' });
    expect(await udpEcho(udp[1], '::1', 'udp6')).toMatchObject({ pid: second.pid, echo: 'ping' });
    expect(readFileSync(join(dir, 'log'), 'utf8')).toContain(`gen 2 pid ${second.pid}`);
  });

  it('binds afresh what the new generation asks for and the old did not have; closes what it no longer asks for', async () => {
    const dir = scratchDir('change-');
    const [a, b] = [join(dir, 'a.sock'), join(dir, 'b.sock')];
    const run = new Run();
    const first = await startReady(run, { listenByGen: { 1: [[0, '127.0.0.1'], [a]], 2: [[0, '127.0.0.1'], [b]] } });
    const second = await upgrade(run, first);
    expect(second.handedOver.map((f: GenEvent) => [f.fd === 3, f.path ?? f.port])).toEqual([
      [true, first.addresses[0].port],
      [false, b],
    ]);
    expect(Object.values(second.fdTable)).not.toContain(first.handedOver[1].target);
    expect(await httpGet({ socketPath: b })).toMatchObject({ pid: second.pid });
  });

  it('port 0 on one host: names keep each listener its own port, in any order; an unnamed request prefers an unnamed listener', async () => {
    const run = new Run();
    const named = (name: string) => [{ port: 0, host: '127.0.0.1', name }];
    const first = await startReady(run, { listenByGen: { 1: [named('a'), named('b'), [0, '127.0.0.1']], 2: [named('b'), [0, '127.0.0.1'], named('a')] } });
    const port = Object.fromEntries(first.handedOver.map((f: GenEvent, i: number) => [i === 2 ? 'unnamed' : f.name, f.port]));
    const second = await upgrade(run, first);
    expect(second.handedOver.map((f: GenEvent) => [f.name, f.fd, f.port])).toEqual([
      ['b', 4, port.b],
      ['unknown', 5, port.unnamed],
      ['a', 3, port.a],
    ]);
  });

  it('a second listen on an address already handed out is EADDRINUSE, as Node reports it', async () => {
    const dir = scratchDir('twice-');
    const path = join(dir, 'twice.sock');
    const run = new Run();
    const first = await startReady(run, { listen: [[0, '127.0.0.1'], [path]], modes: { 1: 'double-listen', 2: 'double-listen' } });
    const port = first.addresses[0].port;
    const expected = [
      { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port },
      { code: 'EADDRINUSE', syscall: 'listen', address: path },
    ];
    expect((await run.next({ event: 'double-listen', gen: 1 })).errors).toMatchObject(expected);
    await upgrade(run, first);
    // Also when the first listen adopted an inherited socket.
    expect((await run.next({ event: 'double-listen', gen: 2 })).errors).toMatchObject(expected);
  });

  it('an address another process holds fails like Node\'s listen: EADDRINUSE, syscall listen', async () => {
    const held = listeningSocket();
    try {
      const run = new Run();
      run.start({ listen: [[held.port, '127.0.0.1']] });
      const error = await run.next({ event: 'error' });
      expect(error.error).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: held.port, message: `listen EADDRINUSE: address already in use 127.0.0.1:${held.port}` });
    } finally {
      closeSync(held.fd);
    }
  });
});

describe('upgrade out: the same program, or its new release', () => {
  it('starts the same execPath, execArgv and absolute script in the initial cwd, whatever the app did to its cwd', async () => {
    const dir = scratchDir('entry-');
    const run = new Run();
    const execArgv = ['--no-warnings', '--max-old-space-size=256'];
    const first = await startReady(run, { chdir: '/' }, { execArgv, cwd: dir, env: { PWD: dir } });
    const start1 = await run.next({ event: 'start', gen: 1 });
    const second = await upgrade(run, first);
    const start2 = await run.next({ event: 'start', gen: 2 });
    expect(start2).toMatchObject({ execPath: process.execPath, execArgv, cwd: dir, ppid: first.pid });
    expect(start2.argv).toEqual(start1.argv);
    expect(start2.argv[1]).toBe(APP);
    expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: second.pid });
    expect(run.all({ event: 'warning' })).toEqual([]);
  });

  it.each([
    ['a relative script in a symlinked cwd', (dir: string) => ({ cwd: join(dir, 'current'), script: 'app.js' })],
    ['an absolute script through the symlink', (dir: string) => ({ cwd: dir, script: join(dir, 'current', 'app.js') })],
  ])('a `current -> releases/N` symlink switched between upgrades starts the new release: %s', async (_what, layout) => {
    const dir = scratchDir('releases-');
    for (const n of [1, 2, 3]) {
      mkdirSync(join(dir, 'releases', String(n)), { recursive: true });
      copyApp(join(dir, 'releases', String(n)));
      writeFileSync(join(dir, 'releases', String(n), 'RELEASE'), `${n}\n`);
    }
    const point = (n: number) => {
      // Atomically, as deploy tools do: a new link renamed over the old one.
      symlinkSync(join('releases', String(n)), join(dir, 'current.new'));
      renameSync(join(dir, 'current.new'), join(dir, 'current'));
    };
    point(1);
    const { cwd, script } = layout(dir);
    const run = new Run();
    const first = await startReady(run, {}, { script, cwd, env: { PWD: cwd } });
    const port = first.addresses[0].port;
    expect(await httpGet({ port })).toMatchObject({ pid: first.pid, release: '1' });
    point(2);
    const second = await upgrade(run, first);
    expect(await httpGet({ port })).toMatchObject({ pid: second.pid, release: '2' });
    await run.next({ event: 'parent-exited', pid: second.pid });
    point(3);
    const third = await upgrade(run, second);
    expect(await httpGet({ port })).toMatchObject({ pid: third.pid, release: '3' });
    expect(run.all({ event: 'start' }).map((e) => e.release)).toEqual(['1', '2', '3']);
    expect(run.all({ event: 'warning' })).toEqual([]);
  });

  it('warns when the entry point is a temporary artefact (a script in os.tmpdir())', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handover-upgrader-'));
    try {
      const run = new Run();
      await startReady(run, {}, { script: copyApp(dir) });
      const warning = await run.next({ event: 'warning' });
      expect(warning.message).toMatch(/temporary directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves only when the new process calls ready(): a spoofed READY=1 on its NOTIFY_SOCKET is ignored', async () => {
    const run = new Run();
    const first = await startReady(run, { modes: { 2: 'ready-on-signal' }, log: true });
    const port = first.addresses[0].port;
    run.signal(first.pid, 'SIGHUP');
    const waiting = await run.next({ event: 'waiting', gen: 2 });
    // The child's NOTIFY_SOCKET (its name is in /proc/net/unix for anyone to
    // read): a socket file in a 0700 directory of the parent's, so that only
    // this user and root can send to it.
    const notifySocket = environOf(waiting.pid).NOTIFY_SOCKET;
    expect(notifySocket).toMatch(new RegExp(`^/.+/handover-${first.pid}-[^/]{6}/notify\\.sock$`));
    expect(statSync(dirname(notifySocket)).mode & 0o7777).toBe(0o700);
    sdNotify(notifySocket, { READY: 1, MAINPID: waiting.pid });
    await run.next((e) => e.event === 'log' && e.pid === first.pid && e.line.includes(`ignoring a notification from pid ${process.pid}`));
    // Both generations accept meanwhile (the child listens before it is
    // ready); the old one has not been told to retire.
    expect(run.all({ event: 'upgraded' })).toEqual([]);
    expect(run.all({ event: 'exiting' })).toEqual([]);
    expect(run.owns(first.pid)).toBe(true);
    run.signal(waiting.pid, 'SIGUSR2');
    expect(await run.next({ event: 'upgraded', pid: first.pid })).toMatchObject({ child: waiting.pid });
    await run.next({ event: 'exiting', pid: first.pid });
    expect(await httpGet({ port })).toMatchObject({ pid: waiting.pid });
  });

  it('a spoofed READY=1 does not end the wait: a child that never says it times out', async () => {
    const run = new Run();
    const first = await startReady(run, { modes: { 2: 'never-ready' }, upgradeTimeout: 1500, log: true });
    run.signal(first.pid, 'SIGHUP');
    const child = await run.next({ event: 'not-ready', gen: 2 });
    sdNotify(environOf(child.pid).NOTIFY_SOCKET, { READY: 1 });
    await run.next((e) => e.event === 'log' && e.line.startsWith('ignoring a notification'));
    const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
    expect(failed.error).toMatchObject({ code: 'ERR_UPGRADE_TIMEOUT', childPid: child.pid });
    expect(procState(child.pid)).toBeNull();
    expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: first.pid });
  });
});

describe('readiness', () => {
  it('ready() is run-once: the same promise, one READY=1', async () => {
    const messages: NotifyMessage[] = [];
    const listener = new NotifyListener(`@handover-test-${process.pid}-${Date.now()}-once`);
    listener.on('message', (m: NotifyMessage) => messages.push(m));
    try {
      const run = new Run();
      run.start({ modes: { 1: 'ready-twice' }, notifyStopping: true }, { env: { NOTIFY_SOCKET: listener.path } });
      expect((await run.next({ event: 'ready-twice' })).same).toBe(true);
      await run.next({ event: 'ready' });
      run.signal(run.firstPid, 'SIGTERM');
      // Datagrams from one sender arrive in order: once STOPPING=1 is here, every READY=1 is.
      await expect.poll(() => messages.some((m) => m.fields.get('STOPPING') === '1')).toBe(true);
      expect(messages.map((m) => [m.pid, m.raw])).toEqual([
        [run.firstPid, `READY=1\nMAINPID=${run.firstPid}`],
        [run.firstPid, 'STOPPING=1'],
      ]);
    } finally {
      listener.close();
    }
  });

  it('waitForParent() resolves when the old generation exits, also when it was SIGKILLed while draining; until then upgrade() is ERR_PARENT_DRAINING', async () => {
    const run = new Run();
    const first = await startReady(run, { lingerMs: 60_000 });
    run.signal(first.pid, 'SIGHUP');
    const second = await run.next({ event: 'ready', gen: 2 });
    await run.next({ event: 'exiting', pid: first.pid });
    run.signal(second.pid, 'SIGHUP');
    const refused = await run.next({ event: 'upgrade-failed', pid: second.pid });
    expect(refused.error).toMatchObject({ code: 'ERR_PARENT_DRAINING' });
    expect(run.all({ event: 'parent-exited' })).toEqual([]);
    run.signal(first.pid, 'SIGKILL');
    expect(await run.firstExit).toEqual({ code: null, signal: 'SIGKILL' });
    await run.next({ event: 'parent-exited', pid: second.pid });
    const third = await upgrade(run, second);
    expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: third.pid });
  });
});

describe('the old generation dies during the upgrade', () => {
  it.each([
    ['before the new one read the protocol variables', 'hold-before-upgrader', 'holding'],
    ['after that, before the new one is ready', 'ready-on-signal', 'waiting'],
  ])('%s: the new one tells systemd MAINPID itself, waits for nobody, and can upgrade', async (_when, mode, event) => {
    const messages: NotifyMessage[] = [];
    const listener = new NotifyListener(`@handover-test-${process.pid}-${Date.now()}-orphan`);
    listener.on('message', (m: NotifyMessage) => messages.push(m));
    try {
      const run = new Run();
      const first = await startReady(run, { modes: { 2: mode } }, { env: { NOTIFY_SOCKET: listener.path } });
      run.signal(first.pid, 'SIGHUP');
      const held = await run.next({ event, gen: 2 });
      run.signal(first.pid, 'SIGKILL');
      await run.firstExit;
      run.signal(held.pid, 'SIGUSR2');
      const second = await run.next({ event: 'ready', gen: 2 });
      expect(second).toMatchObject({ hasParent: true, parentPid: first.pid, env: {} });
      await run.next({ event: 'parent-exited', pid: second.pid });
      await expect.poll(() => messages.some((m) => m.pid === second.pid)).toBe(true);
      expect(messages.map((m) => [m.pid, Object.fromEntries(m.fields)])).toEqual([
        [first.pid, { READY: '1', MAINPID: String(first.pid) }],
        [first.pid, { RELOADING: '1', MONOTONIC_USEC: expect.any(String) }],
        [second.pid, { MAINPID: String(second.pid), READY: '1' }],
      ]);
      expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: second.pid });
      const third = await upgrade(run, second);
      expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: third.pid });
    } finally {
      listener.close();
    }
  });
});

describe('failure is harmless: the old generation serves on, a later upgrade works', () => {
  /** After a failed upgrade: same pid serves, the failed child is reaped, then a real upgrade succeeds. */
  async function stillServes(run: Run, first: GenEvent, failed: GenEvent): Promise<void> {
    const port = first.addresses[0].port;
    expect(await httpGet({ port })).toMatchObject({ pid: first.pid });
    // O_NONBLOCK and every fd are as they were.
    expect(failed.handedOver).toEqual(first.handedOver);
    for (const spawned of run.all({ event: 'spawned', pid: first.pid })) expect(procState(spawned.child)).toBeNull();
    expect(zombiesOf(first.pid)).toEqual([]);
    const next = await upgrade(run, first);
    expect(await httpGet({ port })).toMatchObject({ pid: next.pid });
  }

  it.each([
    ['crashes at start', 'crash', { code: 'ERR_CHILD_EXITED', exitCode: 3 }],
    ['exits before ready()', 'exit-before-ready', { code: 'ERR_CHILD_EXITED', exitCode: 4 }],
    ['never calls ready() (killed after upgradeTimeout)', 'never-ready', { code: 'ERR_UPGRADE_TIMEOUT' }],
  ])('the new process %s', async (_what, mode, error) => {
    const run = new Run();
    const first = await startReady(run, { modes: { '2.1': mode } as Record<string, string>, upgradeTimeout: 1500 });
    const failed = await upgradeFails(run, first);
    expect(failed.error).toMatchObject(error);
    const child = run.all({ event: 'spawned', pid: first.pid })[0].child;
    expect(failed.error.childPid).toBe(child);
    // Reaped before the error was reported.
    expect(procState(child)).toBeNull();
    await stillServes(run, first, failed);
  });

  it('the script is gone: the new process exits (ERR_CHILD_EXITED); put back, the next upgrade works', async () => {
    const dir = scratchDir('gone-');
    const script = copyApp(dir);
    const run = new Run();
    const first = await startReady(run, {}, { script });
    unlinkSync(script);
    const failed = await upgradeFails(run, first);
    expect(failed.error).toMatchObject({ code: 'ERR_CHILD_EXITED', exitCode: 1 });
    expect(run.stderr).toMatch(/Cannot find module/);
    copyApp(dir);
    await stillServes(run, first, failed);
  });

  it('the node binary is gone: ERR_EXEC with cause ENOENT, no process started; put back, the next upgrade works', async () => {
    const dir = scratchDir('node-');
    const node = join(dir, 'node');
    const place = () => {
      try {
        linkSync(process.execPath, node);
      } catch {
        copyFileSync(process.execPath, node);
        chmodSync(node, 0o755);
      }
    };
    place();
    const run = new Run();
    const first = await startReady(run, {}, { node });
    expect((await run.next({ event: 'start', gen: 1 })).execPath).toBe(node);
    unlinkSync(node);
    const failed = await upgradeFails(run, first);
    expect(failed.error).toMatchObject({ code: 'ERR_EXEC', causeCode: 'ENOENT' });
    expect(run.all({ event: 'spawned' })).toEqual([]);
    place();
    await stillServes(run, first, failed);
  });

  it('stop() during an upgrade: ERR_STOPPED, the new process is killed and reaped, the old one serves and refuses later upgrades', async () => {
    const run = new Run();
    const first = await startReady(run, { modes: { 2: 'never-ready' } });
    run.signal(first.pid, 'SIGHUP');
    const child = await run.next({ event: 'not-ready', gen: 2 });
    run.signal(first.pid, 'SIGUSR2');
    const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
    expect(failed.error).toMatchObject({ code: 'ERR_STOPPED' });
    expect(procState(child.pid)).toBeNull();
    expect((await run.next({ event: 'stop-called' })).state).toBe('stopped');
    expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: first.pid });
    const refused = await upgradeFails(run, first);
    expect(refused.error).toMatchObject({ code: 'ERR_STOPPED' });
    expect(run.all({ event: 'spawned' })).toHaveLength(1);
  });

  it('stop() closes the Upgrader\'s copies of the sockets: once the app closes its servers, connections are refused at once; named files stay open', async () => {
    const dir = scratchDir('stop-');
    const run = new Run();
    const first = await startReady(run, { listen: [[0, '127.0.0.1'], [join(dir, 's.sock')]], logFile: join(dir, 'log'), closeOnStop: true });
    run.signal(first.pid, 'SIGUSR2');
    const stopped = await run.next({ event: 'stop-called' });
    expect(await connectOutcome({ port: first.addresses[0].port, host: '127.0.0.1' })).toBe('ECONNREFUSED');
    expect(await connectOutcome({ path: join(dir, 's.sock') })).toBe('ECONNREFUSED');
    expect(stopped.handedOver.map((f: GenEvent) => f.name)).toEqual(['log']);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toContain('gen 1 stopped\n');
    expect(run.owns(first.pid)).toBe(true);
  });

  it('typed errors: ERR_NOT_READY before ready(), ERR_UPGRADE_IN_PROGRESS during one, ERR_ALREADY_UPGRADED after one', async () => {
    const run = new Run();
    const first = await startReady(run, { modes: { 1: 'upgrade-before-ready', 2: 'ready-on-signal' }, lingerMs: 60_000 });
    expect((await run.next({ event: 'early-upgrade' })).error).toMatchObject({ code: 'ERR_NOT_READY' });
    run.signal(first.pid, 'SIGHUP');
    const second = await run.next({ event: 'waiting', gen: 2 });
    expect((await upgradeFails(run, first)).error).toMatchObject({ code: 'ERR_UPGRADE_IN_PROGRESS' });
    run.signal(second.pid, 'SIGUSR2');
    await run.next({ event: 'exiting', pid: first.pid });
    expect((await upgradeFails(run, first)).error).toMatchObject({ code: 'ERR_ALREADY_UPGRADED' });
    expect(run.all({ event: 'spawned' })).toHaveLength(1);
  });

  it('a signal storm — 50 SIGHUPs within 100 ms — makes exactly one new generation', async () => {
    const run = new Run();
    const first = await startReady(run, {});
    let gone = false;
    void run.firstExit.then(() => (gone = true));
    const started = Date.now();
    // Spread over the 100 ms (pending signals of one kind merge into one):
    // pacing the storm, not waiting for anything.
    for (let i = 0; i < 50 && !gone; i++) {
      process.kill(first.pid, 'SIGHUP'); // our own unreaped child: its pid cannot have been reused
      await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = Date.now() - started;
    const second = await run.next({ event: 'ready', gen: 2 });
    // Once the first generation has exited, it can start nothing more.
    expect(await run.firstExit).toEqual({ code: 0, signal: null });
    expect(run.all({ event: 'spawned' }).map((e) => e.child)).toEqual([second.pid]);
    const failures = run.all({ event: 'upgrade-failed' });
    for (const failure of failures) expect(['ERR_UPGRADE_IN_PROGRESS', 'ERR_ALREADY_UPGRADED']).toContain(failure.error.code);
    expect(failures.length).toBe(run.all({ event: 'sighup', pid: first.pid }).length - 1);
    // The storm reached the handler many times, not once.
    expect(failures.length).toBeGreaterThan(1);
    console.log(`signal storm: 50 SIGHUPs sent in ${elapsed} ms, ${failures.length + 1} handled, ${failures.length} refused`);
    expect(run.all({ event: 'start' }).map((e) => e.pid)).toEqual([first.pid, second.pid]);
    expect(await httpGet({ port: first.addresses[0].port })).toMatchObject({ pid: second.pid });
  });
});

describe('hygiene', () => {
  it('O_NONBLOCK of every shared socket never changes: as the old generation had it, the new one inherits it', async () => {
    const dir = scratchDir('nonblock-');
    const run = new Run();
    const first = await startReady(run, { listen: [[0, '127.0.0.1'], [join(dir, 's.sock')], { udp: ['udp4', 0, '127.0.0.1'] }] });
    const flags = (fds: GenEvent[]) => fds.map((f) => [f.type, f.nonblocking]);
    expect(flags(first.handedOver)).toEqual([
      ['socket', true],
      ['socket', true],
      ['socket', true],
    ]);
    const second = await upgrade(run, first);
    // Seen by the new generation before it touched them.
    expect(flags((await run.next({ event: 'start', gen: 2 })).inherited)).toEqual(flags(first.handedOver));
    expect(flags(second.handedOver)).toEqual(flags(first.handedOver));
    // The old one closed its copies once the new one served: nothing is left
    // behind that could queue connections nobody accepts.
    expect((await run.next({ event: 'exiting', pid: first.pid })).handedOver).toEqual([]);
  });

  it('the old generation never unlinks a Unix socket path it handed over', async () => {
    const dir = scratchDir('unix-');
    const path = join(dir, 'app.sock');
    const run = new Run();
    let current = await startReady(run, { listen: [[path]] });
    const inode = statSync(path).ino;
    for (let i = 0; i < 2; i++) {
      current = await upgrade(run, current);
      await run.next({ event: 'parent-exited', pid: current.pid });
      expect(existsSync(path)).toBe(true);
      expect(statSync(path).ino).toBe(inode);
      expect(await httpGet({ socketPath: path })).toMatchObject({ pid: current.pid });
    }
  });

  it('closes at ready() the inherited fds nobody claimed', async () => {
    const dir = scratchDir('unclaimed-');
    const socket = listeningSocket();
    const extraPath = join(dir, 'extra');
    writeFileSync(extraPath, '');
    const extra = openSync(extraPath, 'r');
    const run = new Run();
    try {
      run.forkExec({ listen: [[0, '127.0.0.1']], log: true }, [socket.fd, extra], { env: { LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:extra' } });
    } finally {
      closeSync(socket.fd);
      closeSync(extra);
    }
    const constructed = await run.next({ event: 'constructed' });
    expect(constructed.inherited.map((f: GenEvent) => f.target)).toEqual([expect.stringMatching(/^socket:/), extraPath]);
    const ready = await run.next({ event: 'ready' });
    expect(ready.handedOver.map((f: GenEvent) => [f.fd, f.name])).toEqual([[3, 'web']]);
    expect(ready.unclaimed).toEqual([]);
    expect(Object.values(ready.fdTable)).not.toContain(extraPath);
    await run.next((e) => e.event === 'log' && e.line === 'closing unclaimed inherited fd 4 (extra)');
  });
});

describe('PID file and systemd', () => {
  it('the ready generation writes the PID file atomically, relative to the initial cwd', async () => {
    const dir = scratchDir('pidfile-');
    const pidFile = join(dir, 'app.pid');
    const run = new Run();
    const first = await startReady(run, { pidFile: 'app.pid', chdir: '/', modes: { '2.1': 'exit-before-ready', '2.2': 'pid-file-then-exit' } }, { cwd: dir, env: { PWD: dir } });
    expect(readFileSync(pidFile, 'utf8')).toBe(`${first.pid}\n`);
    // A generation that never becomes ready never writes it.
    expect((await upgradeFails(run, first)).error.code).toBe('ERR_CHILD_EXITED');
    expect(readFileSync(pidFile, 'utf8')).toBe(`${first.pid}\n`);
    // One that wrote it and died before its READY=1 counted (a race with the
    // timeout or stop()): the generation that serves on writes it back.
    expect((await upgradeFails(run, first)).error).toMatchObject({ code: 'ERR_CHILD_EXITED', exitCode: 5 });
    expect(readFileSync(pidFile, 'utf8')).toBe(`${first.pid}\n`);
    const inode = statSync(pidFile).ino;
    const second = await upgrade(run, first);
    expect(readFileSync(pidFile, 'utf8')).toBe(`${second.pid}\n`);
    // Renamed over the old file (a new inode), no temporary left behind.
    expect(statSync(pidFile).ino).not.toBe(inode);
    expect(readdirSync(dir)).toEqual(['app.pid']);
  });

  it('speaks sd_notify to NOTIFY_SOCKET: READY+MAINPID, RELOADING+MONOTONIC_USEC, MAINPID=<new>+READY from the old generation, STOPPING', async () => {
    const messages: NotifyMessage[] = [];
    const listener = new NotifyListener(`@handover-test-${process.pid}-${Date.now()}-notify`);
    listener.on('message', (m: NotifyMessage) => messages.push(m));
    try {
      const run = new Run();
      const before = monotonicUsec();
      const first = await startReady(run, { modes: { '2.1': 'crash' }, notifyStopping: true }, { env: { NOTIFY_SOCKET: listener.path } });
      await upgradeFails(run, first);
      const second = await upgrade(run, first);
      await run.next({ event: 'parent-exited', pid: second.pid });
      const third = await upgrade(run, second);
      run.signal(third.pid, 'SIGTERM');
      await expect.poll(() => messages.some((m) => m.fields.get('STOPPING') === '1')).toBe(true);
      const after = monotonicUsec();
      const seen = messages.map((m) => ({ from: m.pid, fields: Object.fromEntries(m.fields) }));
      const reloading = { RELOADING: '1', MONOTONIC_USEC: expect.stringMatching(/^\d+$/) };
      expect(seen).toEqual([
        { from: first.pid, fields: { READY: '1', MAINPID: String(first.pid) } },
        { from: first.pid, fields: reloading },
        { from: first.pid, fields: { READY: '1', STATUS: expect.stringMatching(/^upgrade failed: .*exit code 3/) } },
        { from: first.pid, fields: reloading },
        { from: first.pid, fields: { MAINPID: String(second.pid), READY: '1' } },
        { from: second.pid, fields: reloading },
        { from: second.pid, fields: { MAINPID: String(third.pid), READY: '1' } },
        { from: third.pid, fields: { STOPPING: '1' } },
      ]);
      for (const m of seen.filter((s) => s.fields.MONOTONIC_USEC)) {
        expect(BigInt(m.fields.MONOTONIC_USEC)).toBeGreaterThanOrEqual(before);
        expect(BigInt(m.fields.MONOTONIC_USEC)).toBeLessThanOrEqual(after);
      }
      // No generation leaks the variables to its children.
      expect(third.env).toEqual({});
    } finally {
      listener.close();
    }
  });

  it('serves on the socket systemd-socket-activate passes (fd 3, named), then upgrades', async () => {
    const port = await freePort();
    const run = new Run();
    run.spawn('/usr/bin/systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--fdname=http', '-E', 'FIXTURE', '-E', 'HANDOVER_TEST_RUN', process.execPath, APP], {
      env: run.env({ listen: [[port, '127.0.0.1']] }),
    });
    await expect.poll(() => run.stderr, { timeout: 10_000 }).toMatch(/Listening on 127\.0\.0\.1:\d+ as 3/);
    // The first connection makes it exec the app, which serves it from the accept queue.
    expect(await httpGet({ port })).toMatchObject({ pid: run.firstPid, gen: 1 });
    const start = await run.next({ event: 'start', gen: 1 });
    expect(start.env).toEqual({ LISTEN_FDS: '1', LISTEN_PID: String(run.firstPid), LISTEN_FDNAMES: 'http' });
    const first = await run.next({ event: 'ready', gen: 1 });
    expect(first.handedOver[0]).toMatchObject({ fd: 3, name: 'http', port });
    expect(first.inheritanceError).toBeNull();
    const second = await upgrade(run, first);
    expect(second.handedOver[0]).toMatchObject({ fd: 3, name: 'http', port });
    expect(await httpGet({ port })).toMatchObject({ pid: second.pid, gen: 2 });
  });

  it('a named non-socket fd (a log file) survives three generations, and every generation writes to it', async () => {
    const dir = scratchDir('log-');
    const logPath = join(dir, 'app.log');
    const run = new Run();
    let current = await startReady(run, { logFile: logPath });
    expect((await run.next({ event: 'log-file', gen: 1 })).opened).toBe(true);
    // Rotated away: a generation that reopened the path would write elsewhere.
    renameSync(logPath, `${logPath}.1`);
    for (let gen = 2; gen <= 4; gen++) {
      current = await upgrade(run, current);
      expect((await run.next({ event: 'log-file', gen })).opened).toBe(false);
      expect(current.handedOver.find((f: GenEvent) => f.name === 'log')).toMatchObject({ type: 'file' });
      await run.next({ event: 'parent-exited', pid: current.pid });
    }
    expect(existsSync(logPath)).toBe(false);
    const lines = readFileSync(`${logPath}.1`, 'utf8').trim().split('\n');
    expect(lines).toEqual(run.all({ event: 'ready' }).flatMap((e) => [`gen ${e.gen} pid ${e.pid}`, `gen ${e.gen} ready`]));
    expect(lines).toHaveLength(8);
  });
});

