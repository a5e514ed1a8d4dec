// The supervisor's protocols (issue 5): what it tells systemd, what it takes
// from systemd (socket activation), what it gives a generation (several
// listeners, names), and that a generation needs nothing but LISTEN_FDS and
// sd_notify: a Python program, and a shell script using systemd-notify.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../../lib/protocol/address';
import { inspectFd } from '../../lib/native/fd';
import { NotifyListener, type NotifyMessage } from '../../lib/protocol/sd-notify';
import { bindSocket } from '../../lib/protocol/sockets';
import { removeTempDirs, tempDir } from '../helpers/children';
import { FDINFO_NONBLOCK } from '../helpers/proc';
import { APP, BIN, cleanupSupervisors, get, procState, PY_APP, SH_APP, SupervisorRun } from '../helpers/supervisor';
import { freePort } from '../helpers/net';

const listeners: NotifyListener[] = [];

afterEach(async () => {
  await cleanupSupervisors();
  for (const listener of listeners.splice(0)) listener.close();
});

afterAll(() => removeTempDirs());

/** A NOTIFY_SOCKET standing in for systemd. */
function fakeSystemd(): { path: string; messages: NotifyMessage[] } {
  const listener = new NotifyListener(`@handover-test-systemd/${randomBytes(6).toString('hex')}`);
  listeners.push(listener);
  const messages: NotifyMessage[] = [];
  listener.on('message', (m: NotifyMessage) => messages.push(m));
  return { path: listener.path, messages };
}

function modeFile(mode: string): string {
  const path = join(tempDir('handover-protocol-'), 'mode');
  writeFileSync(path, mode);
  return path;
}

describe('systemd (Type=notify / notify-reload)', () => {
  it('speaks for itself: READY=1 with its own MAINPID, RELOADING=1 and READY=1 around reloads, STOPPING=1', async () => {
    const systemd = fakeSystemd();
    const mode = modeFile('graceful');
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--', process.execPath, APP], {
      env: { NOTIFY_SOCKET: systemd.path, SUPERVISED_MODE_FILE: mode },
    });
    const fields = (i: number) => Object.fromEntries(systemd.messages[i].fields);
    await expect.poll(() => systemd.messages.length).toBe(1);
    expect(fields(0)).toMatchObject({ READY: '1', MAINPID: String(run.pid) });
    const gen1 = await run.event({ event: 'start' });
    expect(gen1.env.NOTIFY_SOCKET).not.toBe(systemd.path); // its own, private one

    run.signal('SIGHUP');
    // READY=1 comes after the probation (DEFAULT_PROBATION).
    await expect.poll(() => systemd.messages.length, { timeout: 10_000 }).toBe(3);
    expect(fields(1)).toMatchObject({ RELOADING: '1' });
    expect(Number(fields(1).MONOTONIC_USEC)).toBeGreaterThan(0);
    expect(fields(2)).toMatchObject({ READY: '1' });
    expect(fields(2).MAINPID).toBeUndefined(); // still the supervisor's

    writeFileSync(mode, 'exit-before-ready');
    run.signal('SIGHUP');
    await expect.poll(() => systemd.messages.length, { timeout: 10_000 }).toBe(5);
    expect(fields(3)).toMatchObject({ RELOADING: '1' });
    expect(fields(4)).toMatchObject({ READY: '1' });
    expect(fields(4).STATUS).toMatch(/^reload failed: generation 3/);

    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(systemd.messages.map((m) => Object.fromEntries(m.fields)).at(-1)).toMatchObject({ STOPPING: '1' });
    // Every message came from the supervisor itself: its PID stays MAINPID.
    expect(new Set(systemd.messages.map((m) => m.pid))).toEqual(new Set([run.pid]));
  });

  it('adopts the sockets of socket activation (systemd-socket-activate) and passes them on with their names', async () => {
    const port = await freePort();
    const run = new SupervisorRun(
      ['-l', `127.0.0.1:${port}`, '--fdname=web', '-E', 'HANDOVER_SUPERVISOR_TEST', '-E', 'SUPERVISED_MODE_FILE', process.execPath, BIN, 'run', '--', process.execPath, APP],
      { command: 'systemd-socket-activate', env: { SUPERVISED_MODE_FILE: modeFile('graceful') } },
    );
    await run.log(new RegExp(`Listening on 127.0.0.1:${port}`));
    // systemd-socket-activate starts its command on the first connection.
    const first = await get(port);
    expect(first.status).toBe(200);
    await run.log(new RegExp(`adopted fd 3 \\(web\\) from LISTEN_FDS: 127.0.0.1:${port}`));
    const start = await run.event({ event: 'start', pid: first.pid });
    expect(start.env).toMatchObject({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'web', LISTEN_PID: String(first.pid) });
    expect(start.ppid).toBe(run.pid); // systemd-socket-activate exec'd the supervisor: same pid
    run.signal('SIGHUP');
    const m = await run.log(/reloaded: generation 2 \(pid ([0-9]+)\)/);
    await run.event({ event: 'draining', pid: first.pid });
    expect((await get(port)).pid).toBe(Number(m[1]));
  });
});

describe('listeners', () => {
  it('binds TCP, Unix and UDP listeners once, in order, named, and removes its Unix socket at exit', async () => {
    const dir = tempDir('handover-protocol-');
    const sock = join(dir, 'app.sock');
    const run = new SupervisorRun(
      ['run', '--listen', 'web=127.0.0.1:0', '--listen', `unix:${sock}`, '--listen', 'dns=udp:127.0.0.1:0', '--', process.execPath, APP],
      { env: { SUPERVISED_MODE_FILE: modeFile('plain') } },
    );
    await run.log(/listening on 127\.0\.0\.1:[0-9]+ \(fd [0-9]+, web\)/);
    await run.log(new RegExp(`listening on unix:${sock} \\(fd`));
    await run.log(/listening on udp:127\.0\.0\.1:[0-9]+ \(fd [0-9]+, dns\)/);
    const start = await run.event({ event: 'start' });
    expect(start.env).toMatchObject({ LISTEN_FDS: '3', LISTEN_FDNAMES: 'web:unknown:dns' });
    expect(lstatSync(sock).isSocket()).toBe(true);
    await run.log(/is ready after/);
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(existsSync(sock)).toBe(false);
  });

  it('bindSocket: binds port 0 and reports the real port, replaces a stale Unix socket, refuses a live one', async () => {
    const tcp = await bindSocket(parseAddress('web=127.0.0.1:0'));
    try {
      expect(tcp).toMatchObject({ kind: 'stream', name: 'web', address: { family: 'IPv4', address: '127.0.0.1' } });
      expect(inspectFd(tcp.fd)).toMatchObject({ listening: true, cloexec: true, nonblocking: true, port: (tcp.address as { port: number }).port });
      expect((tcp.address as { port: number }).port).toBeGreaterThan(0);
    } finally {
      closeSync(tcp.fd);
    }
    const path = join(tempDir('handover-protocol-'), 'stale.sock');
    closeSync((await bindSocket(parseAddress(`unix:${path}`))).fd); // the file stays, nobody listens
    const fresh = await bindSocket(parseAddress(`unix:${path}`));
    try {
      expect(inspectFd(fresh.fd)).toMatchObject({ listening: true, path });
      await expect(bindSocket(parseAddress(`unix:${path}`))).rejects.toMatchObject({
        code: 'EADDRINUSE',
        errno: -98,
        syscall: 'listen',
        address: path,
        message: `listen EADDRINUSE: address already in use ${path}`,
      });
    } finally {
      closeSync(fresh.fd);
    }
  });

  it('reports a busy address like Node does and exits 1', async () => {
    const server = createServer();
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const { port } = server.address() as { port: number };
    try {
      const run = new SupervisorRun(['run', '--listen', `127.0.0.1:${port}`, '--', process.execPath, APP]);
      await run.log(new RegExp(`cannot start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`));
      expect(await run.exit).toEqual({ code: 1, signal: null });
    } finally {
      server.close();
    }
  });
});

describe('any language', () => {
  it('runs a Python server that adopts fd 3 and notifies by itself, across a reload', async () => {
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--', 'python3', PY_APP]);
    const port = await run.port();
    const ready1 = await run.event({ event: 'ready' });
    expect(await get(port)).toMatchObject({ status: 200, body: `python ${ready1.pid}\n` });
    // Python did not touch the flags of the shared socket.
    const flags = parseInt(/^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${ready1.pid}/fdinfo/3`, 'utf8'))![1], 8);
    expect(flags & FDINFO_NONBLOCK).toBe(FDINFO_NONBLOCK);
    await run.log(new RegExp(`generation 1 \\(pid ${ready1.pid}\\) status: python serving`));

    run.signal('SIGHUP');
    const m = await run.log(/reloaded: generation 2 \(pid ([0-9]+)\) serves/);
    await run.event({ event: 'signal', signal: 'SIGTERM', pid: ready1.pid });
    expect(await get(port)).toMatchObject({ status: 200, body: `python ${m[1]}\n` });
    await run.log(new RegExp(`generation 1 \\(pid ${ready1.pid}\\) exited \\(exit code 0\\)`));
  });

  it('accepts READY=1 from systemd-notify run by a shell script (a descendant of the generation)', async () => {
    const run = new SupervisorRun(['run', '--listen', 'web=127.0.0.1:0', '--', SH_APP]);
    const start = await run.event({ event: 'start' });
    expect(start.names).toBe('web');
    await run.event({ event: 'ready', pid: start.pid });
    // Exactly stdio and the listener (and the script itself, which dash keeps open at fd 10).
    const fds = readdirSync(`/proc/${start.pid}/fd`).filter((fd) => fd !== '10');
    expect(fds.sort()).toEqual(['0', '1', '2', '3']);
    const m = await run.log(new RegExp(`generation 1 \\(pid ${start.pid}\\) is ready \\(sent by pid ([0-9]+)\\)`));
    expect(Number(m[1])).not.toBe(start.pid);
    await run.log(new RegExp(`generation 1 \\(pid ${start.pid}\\) status: shell script ready`));
    await run.log(/is ready after [0-9]+ ms: serving/);
    run.signal('SIGTERM');
    await run.event({ event: 'signal', signal: 'SIGTERM', pid: start.pid });
    expect(await run.exit).toEqual({ code: 7, signal: null });
    expect(procState(start.pid)).toBeNull();
  });
});
