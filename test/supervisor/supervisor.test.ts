// Supervisor mode (issue 5): `handover run` with real generations of
// test/fixtures/supervised-app.js, real sockets and real signals. Every step
// is awaited on a log line of the supervisor, an event of a generation, a
// response or an exit; every process is gone after each test.
import { chmodSync, closeSync, openSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HandoverError } from '../../lib/core/errors';
import { sdNotify } from '../../lib/protocol/sd-notify';
import { Supervisor } from '../../lib/supervisor/supervisor';
import { removeTempDirs, tempDir } from '../helpers/children';
import { openFds, zombieChildren } from '../helpers/proc';
import { APP, BIN, cleanupSupervisors, get, modeFile, procState, readyPid, supervise, SupervisorRun } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
});

afterAll(() => removeTempDirs());

describe('reload', () => {
  it('lets a request in flight finish on the old generation while new requests reach the new one', async () => {
    const run = supervise([], 'graceful');
    const port = await run.port();
    const oldPid = await readyPid(run, 1);
    const start = await run.event({ event: 'start', pid: oldPid });
    // The protocol, as the generation saw it: one socket at fd 3, LISTEN_PID
    // its own pid, a NOTIFY_SOCKET of the supervisor's, its own process group.
    expect(start.env).toMatchObject({ LISTEN_FDS: '1', LISTEN_FDNAMES: 'unknown', LISTEN_PID: String(oldPid) });
    // A socket file in a 0700 directory of the supervisor's (not an abstract
    // name, which any user could flood): removed when the supervisor exits.
    expect(start.env.NOTIFY_SOCKET).toMatch(new RegExp(`^/.+/handover-supervisor-${run.pid}-[^/]{6}/notify\\.sock$`));
    expect(statSync(dirname(start.env.NOTIFY_SOCKET)).mode & 0o7777).toBe(0o700);
    expect(start.env.HANDOVER_PARENT_PID).toBeUndefined();
    expect(start).toMatchObject({ ppid: run.pid, pgid: oldPid, fd3: { type: 'socket', listening: true, port, nonblocking: true } });
    expect((await get(port)).pid).toBe(oldPid);

    const held = get(port, '/hold');
    await run.event({ event: 'hold', pid: oldPid });
    const mark = run.logs.length;
    run.signal('SIGHUP');
    const newPid = await readyPid(run, 2, mark);
    await run.event({ event: 'draining', pid: oldPid });
    for (let i = 0; i < 5; i++) expect(await get(port)).toMatchObject({ status: 200, pid: newPid });
    expect(await held).toMatchObject({ status: 200, body: `held ${oldPid}\n`, pid: oldPid });
    await run.log(new RegExp(`generation 1 \\(pid ${oldPid}\\) exited \\(exit code 0\\)`), mark);
    expect(procState(run.pid)).not.toBeNull(); // one PID for life
    expect(zombieChildren(run.pid)).toEqual([]);
  });

  it('runs one more reload, not one per signal, when SIGHUP comes during a reload', async () => {
    const run = supervise([], 'graceful');
    await readyPid(run, 1);
    const mark = run.logs.length;
    run.signal('SIGHUP');
    await run.log(/generation 2 started/, mark);
    run.signal('SIGHUP');
    await run.log(/one more reload will follow/, mark);
    run.signal('SIGHUP');
    await run.log(/a reload is already queued/, mark);
    const pid3 = await readyPid(run, 3, mark);
    const pid2 = await run.generationPid(2);
    await run.event({ event: 'draining', pid: pid2 });
    expect((await get(await run.port())).pid).toBe(pid3);
    await run.log(/generation 2 \(pid [0-9]+\) exited/, mark);
    expect(run.logsMatching(/generation 4 started/)).toEqual([]);
  });

  it('keeps both generations through --probation, then retires the old one', async () => {
    const run = supervise(['--probation', '300ms'], 'graceful');
    const oldPid = await readyPid(run, 1);
    run.signal('SIGHUP');
    const probation = await run.log(/generation 2 \(pid ([0-9]+)\) is ready; probation for 300 ms while generation 1/);
    const index = run.logs.findIndex((l) => l.includes('probation for 300 ms'));
    await run.log(new RegExp(`reloaded: generation 2 \\(pid ${probation[1]}\\) serves .*stopping generation 1 \\(pid ${oldPid}\\)`), index + 1);
    await run.event({ event: 'draining', pid: oldPid });
  });
});

describe('failed reloads leave the old generation serving', () => {
  it('when the new generation exits before it is ready — and a later reload still works', async () => {
    const run = supervise([], 'graceful');
    const port = await run.port();
    const oldPid = await readyPid(run, 1);
    run.mode.set('exit-before-ready');
    run.signal('SIGHUP');
    await run.log(new RegExp(`reload failed: generation 2 \\(pid [0-9]+\\) exited before it was ready: exit code 3; generation 1 \\(pid ${oldPid}\\) goes on serving`));
    expect(await get(port)).toMatchObject({ status: 200, pid: oldPid });
    expect(run.events.filter((e) => e.event === 'draining')).toEqual([]);
    expect(zombieChildren(run.pid)).toEqual([]);

    run.mode.set('graceful');
    run.signal('SIGHUP');
    const newPid = await readyPid(run, 3);
    await run.event({ event: 'draining', pid: oldPid });
    expect((await get(port)).pid).toBe(newPid);
  });

  it('when it is not ready within --ready-timeout (and READY=1 from a stranger does not count)', async () => {
    const run = supervise(['--ready-timeout', '1500ms'], 'plain');
    const port = await run.port();
    const oldPid = await readyPid(run, 1);
    run.mode.set('never-ready');
    run.signal('SIGHUP');
    const pid2 = await run.generationPid(2);
    await run.event({ event: 'listening', pid: pid2 });
    // This test process is not generation 2 nor one of its descendants.
    sdNotify((await run.event({ event: 'start', pid: pid2 })).env.NOTIFY_SOCKET, { READY: 1 });
    await run.log(new RegExp(`ignoring a notification from pid ${process.pid}: not a generation`));
    await run.log(new RegExp(`reload failed: generation 2 \\(pid ${pid2}\\) was not ready within 1500 ms; it was killed; generation 1 \\(pid ${oldPid}\\) goes on serving`));
    expect(procState(pid2)).toBeNull(); // killed and reaped
    expect(await get(port)).toMatchObject({ status: 200, pid: oldPid });
    expect(run.events.some((e) => e.event === 'signal' && e.pid === oldPid)).toBe(false);
  });

  it('when the command cannot be executed any more', async () => {
    const dir = tempDir('handover-supervisor-');
    const script = join(dir, 'app');
    writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "${APP}"\n`);
    chmodSync(script, 0o755);
    const mode = modeFile('graceful');
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--', script], { env: { SUPERVISED_MODE_FILE: mode.path } });
    const port = await run.port();
    const oldPid = await readyPid(run, 1);
    renameSync(script, `${script}.gone`);
    run.signal('SIGHUP');
    await run.log(new RegExp(`reload failed: cannot start generation 2: ENOENT: no such file or directory, execve '${script}'; generation 1 \\(pid ${oldPid}\\) goes on serving`));
    expect(await get(port)).toMatchObject({ status: 200, pid: oldPid });
    renameSync(`${script}.gone`, script);
    run.signal('SIGHUP');
    const newPid = await readyPid(run, 2);
    await run.event({ event: 'draining', pid: oldPid });
    expect((await get(port)).pid).toBe(newPid);
  });

  it('when the new generation dies during --probation: rolled back', async () => {
    const run = supervise(['--probation', '60s'], 'graceful');
    const port = await run.port();
    const oldPid = await readyPid(run, 1);
    run.signal('SIGHUP');
    const m = await run.log(/generation 2 \(pid ([0-9]+)\) is ready; probation for 60000 ms/);
    const newPid = Number(m[1]);
    process.kill(newPid, 'SIGKILL');
    await run.log(
      new RegExp(`reload failed: generation 2 \\(pid ${newPid}\\) exited during its probation: killed by SIGKILL; rolled back; generation 1 \\(pid ${oldPid}\\) goes on serving`),
    );
    for (let i = 0; i < 3; i++) expect(await get(port)).toMatchObject({ status: 200, pid: oldPid });
    expect(run.events.filter((e) => e.event === 'draining')).toEqual([]);
  });
});

describe('crashes', () => {
  it('restarts a crashed app with exponential back-off; connections wait in the backlog meanwhile', async () => {
    const run = supervise(['--restart-backoff', '250ms', '--restart-backoff-max', '1m'], 'plain');
    const port = await run.port();
    const pid1 = await readyPid(run, 1);
    process.kill(pid1, 'SIGKILL');
    await run.log(new RegExp(`generation 1 \\(pid ${pid1}\\) crashed \\(killed by SIGKILL\\); restarting in 250 ms`));
    // Nobody accepts right now; the kernel queues the connection on the socket the supervisor holds.
    const waiting = get(port);
    const pid2 = await readyPid(run, 2);
    expect(await waiting).toMatchObject({ status: 200, pid: pid2 });

    // The next generation fails once on start: still one more crash in a row.
    run.mode.set('fail-once');
    const crashed = Date.now();
    process.kill(pid2, 'SIGKILL');
    await run.log(new RegExp(`generation 2 \\(pid ${pid2}\\) crashed \\(killed by SIGKILL\\); restarting in 500 ms`));
    await run.log(/restart failed: generation 3 \(pid [0-9]+\) exited before it was ready: exit code 3/);
    await run.log(/generation 3 \(pid [0-9]+\) failed to start \(exit code 3\); restarting in 1000 ms/);
    const pid4 = await readyPid(run, 4);
    expect(Date.now() - crashed).toBeGreaterThanOrEqual(1500);
    expect((await get(port)).pid).toBe(pid4);
    expect(zombieChildren(run.pid)).toEqual([]);
  });

  it('exits with the app status when the first generation never becomes ready', async () => {
    const run = supervise([], 'exit-before-ready');
    await run.log(/start failed: generation 1 \(pid [0-9]+\) exited before it was ready: exit code 3/);
    expect(await run.exit).toEqual({ code: 3, signal: null });
  });

  it('exits 127 when the command does not exist', async () => {
    const run = new SupervisorRun(['run', '--', 'no-such-command-handover-test']);
    await run.log(/start failed: cannot start generation 1: ENOENT: no such file or directory, execvp 'no-such-command-handover-test'/);
    expect(await run.exit).toEqual({ code: 127, signal: null });
  });
});

describe('signals and exit status', () => {
  it('forwards SIGUSR1, SIGUSR2 and SIGTERM, then exits with the app status', async () => {
    const run = supervise([], 'plain', { SUPERVISED_EXIT_CODE: '42' });
    const pid = await readyPid(run, 1);
    for (const signal of ['SIGUSR1', 'SIGUSR2'] as const) {
      run.signal(signal);
      await run.event({ event: 'signal', signal, pid });
    }
    run.signal('SIGTERM');
    await run.event({ event: 'signal', signal: 'SIGTERM', pid });
    await run.log(/exiting with code 42/);
    expect(await run.exit).toEqual({ code: 42, signal: null });
  });

  it('Ctrl-C in a terminal reaches the app exactly once, through the supervisor; it drains; exit code 0', async () => {
    // script(1) runs the supervisor on a pseudo-terminal, as its foreground
    // process group; ^C written to the terminal makes the kernel send SIGINT
    // to that group. The generation runs in a group of its own. script(1)
    // runs the command through $SHELL -c: `exec` makes the supervisor itself
    // the foreground process whatever the shell (a shell that stayed as the
    // parent would get the SIGINT too and die of it: script would report 130).
    const mode = modeFile('graceful');
    const command = ['exec', process.execPath, BIN, 'run', '--listen', '127.0.0.1:0', '--', process.execPath, APP].join(' ');
    const run = new SupervisorRun(['-qfec', command, '/dev/null'], { command: 'script', stdio: ['pipe', 'pipe', 'pipe'], env: { SUPERVISED_MODE_FILE: mode.path, SHELL: '/bin/sh' } });
    const pid = await readyPid(run, 1);
    const start = await run.event({ event: 'start', pid });
    expect(start.pgid).toBe(pid);
    run.child.stdin!.write('\x03');
    await run.log(new RegExp(`SIGINT: stopping; forwarding SIGINT to generation 1 \\(pid ${pid}\\)`));
    await run.event({ event: 'draining', pid });
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(run.events.filter((e) => e.event === 'signal' && e.signal === 'SIGINT')).toHaveLength(1);
    expect(run.events.filter((e) => e.event === 'draining')).toHaveLength(1);
  });

  it('follows an app that replaces itself and names its successor with MAINPID= (GracefulServer#upgrade() called by the app)', async () => {
    const run = supervise([], 'graceful');
    const port = await run.port();
    const pid = await readyPid(run, 1);
    expect(await get(port, '/self-upgrade')).toMatchObject({ body: 'upgraded\n', pid });
    const m = await run.log(new RegExp(`generation 1: pid ${pid} exited \\(exit code 0\\) and named pid ([0-9]+) its successor \\(MAINPID\\): following it`));
    const successor = Number(m[1]);
    expect(await run.event({ event: 'start', pid: successor })).toMatchObject({ ppid: pid, env: { HANDOVER_SUPERVISOR_PID: String(run.pid) } });
    expect((await get(port)).pid).toBe(successor);
    run.signal('SIGTERM');
    await run.event({ event: 'draining', pid: successor });
    expect(await run.exit).toEqual({ code: 0, signal: null });
    await run.log(new RegExp(`generation 1 \\(pid ${successor}\\) exited \\(exit code 0\\)`));
  });

  it('SIGKILLs an app that ignores SIGTERM after --drain-timeout and exits 128+9', async () => {
    const run = supervise(['--drain-timeout', '300ms'], 'ignore-term');
    const pid = await readyPid(run, 1);
    run.signal('SIGTERM');
    await run.event({ event: 'signal', signal: 'SIGTERM', pid });
    await run.log(new RegExp(`generation 1 \\(pid ${pid}\\) did not exit within 300 ms of SIGTERM: SIGKILL to its process group`));
    expect(await run.exit).toEqual({ code: 137, signal: null });
  });

  it('Ctrl-Z stops the app with the supervisor and fg continues both', async () => {
    const run = supervise([], 'plain');
    const port = await run.port();
    const pid = await readyPid(run, 1);
    run.signal('SIGTSTP');
    await expect.poll(() => [procState(run.pid), procState(pid)]).toEqual(['T', 'T']);
    run.signal('SIGCONT');
    await run.log(/SIGCONT: continuing the generations/);
    await expect.poll(() => procState(pid)).not.toBe('T');
    expect((await get(port)).pid).toBe(pid);
  });
});

describe('Supervisor (library)', () => {
  it('start(), reload() and stop() resolve and reject with the documented values', async () => {
    const mode = modeFile('plain');
    const lines: string[] = [];
    const fdsBefore = openFds();
    const devNull = openSync('/dev/null', 'r+');
    const supervisor = new Supervisor({
      stdio: [devNull, devNull, devNull],
      command: process.execPath,
      args: [APP],
      listen: ['127.0.0.1:0'],
      env: { ...process.env, SUPERVISED_MODE_FILE: mode.path },
      signals: false,
      subreaper: false,
      log: (line) => lines.push(line),
    });
    try {
      const first = await supervisor.start();
      expect(first).toMatchObject({ number: 1, state: 'serving' });
      expect(supervisor.sockets).toHaveLength(1);
      const port = supervisor.sockets[0].address!.family === 'unix' ? 0 : (supervisor.sockets[0].address as { port: number }).port;
      expect((await get(port)).pid).toBe(first.pid);

      mode.set('exit-before-ready');
      const failure = await supervisor.reload().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(HandoverError);
      expect(failure).toMatchObject({ code: 'ERR_CHILD_EXITED', exitCode: 3 });
      expect(supervisor.current).toBe(first);

      mode.set('plain');
      const second = await supervisor.reload();
      expect(second).toMatchObject({ number: 3, state: 'serving' });
      expect(supervisor.current).toBe(second);
      await first.exited;

      expect(await supervisor.stop()).toBe(0);
      expect(supervisor.generations).toEqual([]);
      await expect(supervisor.reload()).rejects.toMatchObject({ code: 'ERR_STOPPED' });
      expect(lines.at(-1)).toBe('exiting with code 0');
    } finally {
      await supervisor.stop();
      closeSync(devNull);
    }
    // Its sockets and its notification socket are closed, its children reaped.
    await expect.poll(() => openFds()).toEqual(fdsBefore);
    expect(zombieChildren()).toEqual([]);
  });
});
