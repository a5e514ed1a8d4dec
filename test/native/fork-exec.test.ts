// forkExecWithFds: the fd table, exec failures, signals, process attributes,
// argument validation and worker threads, all with real child processes. The
// child is test/fixtures/report-fds.c, which reports its exact fd table.
import { once } from 'node:events';
import { chmodSync, closeSync, openSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { forkExecWithFds, HandoverError, inspectFd, setCloexec, type ForkExecAttributes } from '../../lib/index';
import { adopt, cleanup, DIST, driverArgs, finished, jsonLines, JsonLines, killStray, reap, removeTempDirs, spawnUnderSubreaper, start, startDriver, subreaperExit, tempDir, within } from '../helpers/children';
import { closeAll, drain, makePipe, placeFiles, targetsOf } from '../helpers/fds';
import { allProcesses, FDINFO_CLOEXEC, FDINFO_NONBLOCK, fdInfoFlags, fdTarget, freeFdRange, isRunning, openFds, procStat, signalBit, signalState, zombieChildren } from '../helpers/proc';
import { envObject, fdTable, reporterPath, runReporter, type Report } from '../helpers/reporter';

let dir: string;

beforeAll(() => {
  reporterPath();
  dir = tempDir();
});

afterEach(async () => {
  await cleanup();
  expect(zombieChildren()).toEqual([]);
});

afterAll(() => removeTempDirs());

/** The child's fd table must be exactly `files` mapped through the parent's targets, none close-on-exec. */
function expectTable(report: Report, files: (number | null)[], parentTargets: Map<number, string>): void {
  const expected: Record<number, string> = {};
  files.forEach((fd, i) => {
    if (fd !== null) expected[i] = parentTargets.get(fd) ?? fdTarget(fd);
  });
  expect(fdTable(report)).toEqual(expected);
  for (const entry of report.fds) {
    expect(entry.flags & FDINFO_CLOEXEC, `fd ${entry.fd} is close-on-exec`).toBe(0);
    expect(entry.fdflags, `fd ${entry.fd} F_GETFD`).toBe(0);
  }
}

/**
 * Runs `pattern` as a fd table on distinct files. The parent's own fds 3..N
 * belong to Node (epoll, eventfd, IPC), so the pattern is shifted by a base
 * above them: pattern [11, 12, 6, 7, 9, 3] becomes files[B+i] = B+pattern[i],
 * with real files opened at B+3, B+6, ... — the same collisions (a source
 * number that is also a target) and the same order of moves. Indexes below B
 * keep stdio and close the rest.
 */
async function checkShiftedPattern(pattern: (number | null)[]): Promise<void> {
  const sources = [...new Set(pattern.filter((p): p is number => p !== null))];
  const base = freeFdRange(Math.max(pattern.length, ...sources.map((s) => s + 1)));
  const placed = placeFiles(dir, sources.map((s) => base + s));
  try {
    const files: (number | null)[] = [0, 1, 2, ...Array<null>(base - 3).fill(null), ...pattern.map((p) => (p === null ? null : base + p))];
    const before = targetsOf([0, 1, 2, ...placed.keys()]);
    const report = await runReporter({ files });
    expectTable(report, files, before);
    // The parent's table is untouched.
    expect(targetsOf(before.keys())).toEqual(before);
    for (const fd of placed.keys()) expect(inspectFd(fd).cloexec).toBe(true);
  } finally {
    closeAll(placed.keys());
  }
}

describe('fd table: files[i] becomes fd i', () => {
  it('default table [0, 1, 2]: the child has exactly the parent\'s stdio', async () => {
    const report = await runReporter();
    expectTable(report, [0, 1, 2], targetsOf([0, 1, 2]));
  });

  it('default table gives working stdio: input, output and errors go through the parent\'s pipes', async () => {
    const driver = startDriver(
      { spawns: [{ path: '/bin/sh', argv: ['sh', '-c', 'read line; echo "out:$line"; echo "err:$line" >&2; exit 7'] }] },
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    driver.stdin!.end('hello\n');
    const result = await finished(driver);
    expect(result.code).toBe(0);
    // The driver's own JSON lines and the child's output share the pipe.
    expect(result.stdout.split('\n').filter((line) => !line.startsWith('{'))).toEqual(['out:hello', '']);
    expect(result.stderr).toBe('err:hello\n');
    expect(jsonLines(result.stdout)[1]).toEqual({ statuses: [{ code: 7, signal: null }] });
  });

  it('output of the child reaches a pipe passed in files', async () => {
    const pipe = makePipe(dir);
    const devnull = openSync('/dev/null', 'r');
    try {
      const pid = start('/bin/sh', ['sh', '-c', 'echo out; echo err >&2; cat'], { files: [devnull, pipe.write, pipe.write] });
      closeSync(pipe.write);
      expect(await reap(pid)).toEqual({ code: 0, signal: null });
      expect(drain(pipe.read)).toBe('out\nerr\n');
    } finally {
      closeSync(pipe.read);
      closeSync(devnull);
    }
  });

  it('identity: files[i] = i, including fds that are close-on-exec in the parent', async () => {
    const base = freeFdRange(8);
    const placed = placeFiles(dir, [base, base + 1, base + 2, base + 3, base + 5]);
    try {
      for (const fd of placed.keys()) expect(fdInfoFlags(fd) & FDINFO_CLOEXEC, `parent fd ${fd}`).toBe(FDINFO_CLOEXEC);
      const files: (number | null)[] = Array.from({ length: base + 6 }, (_, i) => (i < 3 || placed.has(i) ? i : null));
      const before = targetsOf([0, 1, 2, ...placed.keys()]);
      const report = await runReporter({ files });
      expectTable(report, files, before);
      // Clearing FD_CLOEXEC happened in the child's table only.
      for (const fd of placed.keys()) expect(fdInfoFlags(fd) & FDINFO_CLOEXEC, `parent fd ${fd}`).toBe(FDINFO_CLOEXEC);
    } finally {
      closeAll(placed.keys());
    }
  });

  it('files[i] === i for a close-on-exec fd: the child has it open, without FD_CLOEXEC', async () => {
    const [fd] = placeFiles(dir, [freeFdRange(1)]).keys();
    try {
      expect(inspectFd(fd).cloexec).toBe(true);
      const files: (number | null)[] = [...Array<null>(fd).fill(null), fd];
      const report = await runReporter({ files });
      expect(report.fds).toEqual([{ fd, target: fdTarget(fd), flags: expect.any(Number), fdflags: 0 }]);
      expect(report.fds[0].flags & FDINFO_CLOEXEC).toBe(0);
      expect(inspectFd(fd).cloexec).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('swaps stdio [0, 2, 1] (in a process whose stdio are three distinct files)', async () => {
    const out = join(dir, 'swap-report.json');
    const stdio = ['in', 'out', 'err'].map((name) => {
      writeFileSync(join(dir, `swap-${name}`), '');
      return openSync(join(dir, `swap-${name}`), name === 'in' ? 'r' : 'w');
    });
    try {
      const driver = startDriver(
        { spawns: [{ path: reporterPath(), argv: ['report-fds', out], attr: { files: [0, 2, 1] } }], out: join(dir, 'swap-driver.log') },
        { stdio },
      );
      expect((await finished(driver)).code).toBe(0);
      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      expect(fdTable(report)).toEqual({ 0: join(dir, 'swap-in'), 1: join(dir, 'swap-err'), 2: join(dir, 'swap-out') });
    } finally {
      closeAll(stdio);
    }
  });

  it.each([
    ['a swap', [0, 2, 1]],
    ['a permutation', [4, 0, 3, 1, 2]],
    ['a rotation', [1, 2, 3, 4, 0]],
    ['collisions: sources that are also targets', [11, 12, 6, 7, 9, 3]],
    ['a source read after its slot is overwritten', [3, 0, 1, 2]],
    ['the same fd at several indexes', [2, 2, 2, 5, 5]],
    ['null slots among moves', [1, null, 0, null, 4]],
    ['sources far above the table', [40, 41, 42]],
  ])('%s: %j', async (_name, pattern) => {
    await checkShiftedPattern(pattern);
  });

  it('the same fd at several indexes, stdio included', async () => {
    const [fd] = placeFiles(dir, [freeFdRange(1)]).keys();
    try {
      const report = await runReporter({ files: [fd, fd, fd, fd] });
      const target = fdTarget(fd);
      expect(fdTable(report)).toEqual({ 0: target, 1: target, 2: target, 3: target });
    } finally {
      closeSync(fd);
    }
  });

  it('null closes the slot', async () => {
    const [fd] = placeFiles(dir, [freeFdRange(1)]).keys();
    try {
      const files = [0, null, 2, fd, null, fd];
      expectTable(await runReporter({ files }), files, targetsOf([0, 2, fd]));
    } finally {
      closeSync(fd);
    }
  });

  it('fewer than 3 entries: missing stdio is closed; [] gives an empty table', async () => {
    expectTable(await runReporter({ files: [0] }), [0], targetsOf([0]));
    expectTable(await runReporter({ files: [2, 1] }), [2, 1], targetsOf([1, 2]));
    expect((await runReporter({ files: [] })).fds).toEqual([]);
    expect((await runReporter({ files: [null, null, null] })).fds).toEqual([]);
  });

  it('no other fd reaches the child, not even one without FD_CLOEXEC', async () => {
    const leaky = openSync(join(dir, 'leaky'), 'w');
    const passed = openSync(join(dir, 'passed'), 'w');
    try {
      setCloexec(leaky, false);
      expect(fdInfoFlags(leaky) & FDINFO_CLOEXEC).toBe(0);
      const nonCloexec = openFds().filter((fd) => fd > 2 && (fdInfoFlags(fd) & FDINFO_CLOEXEC) === 0);
      expect(nonCloexec).toContain(leaky);

      expectTable(await runReporter(), [0, 1, 2], targetsOf([0, 1, 2]));
      expectTable(await runReporter({ files: [0, 1, 2, passed] }), [0, 1, 2, passed], targetsOf([0, 1, 2, passed]));
      const report = await runReporter({ files: [] });
      expect(report.fds).toEqual([]);
      expect(report.fds.map((f) => f.target)).not.toContain(join(dir, 'leaky'));
    } finally {
      closeSync(leaky);
      closeSync(passed);
    }
  });

  it('passed fds keep O_NONBLOCK and FD_CLOEXEC in the parent (a listening socket)', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      const before = inspectFd(fd);
      expect(before).toMatchObject({ type: 'socket', listening: true, nonblocking: true, cloexec: true });
      const flagsBefore = fdInfoFlags(fd);

      const moved = await runReporter({ files: [0, 1, 2, fd] });
      const identity = await runReporter({ files: [...Array<null>(fd).fill(null), fd] });

      expect(inspectFd(fd)).toEqual(before);
      expect(fdInfoFlags(fd)).toBe(flagsBefore);
      // O_NONBLOCK lives in the shared open file description: the child sees it too.
      expect(moved.fds.find((f) => f.fd === 3)).toMatchObject({ target: fdTarget(fd), fdflags: 0 });
      expect(moved.fds.find((f) => f.fd === 3)!.flags & FDINFO_NONBLOCK).toBe(FDINFO_NONBLOCK);
      expect(identity.fds).toEqual([{ fd, target: fdTarget(fd), flags: expect.any(Number), fdflags: 0 }]);
      expect(identity.fds[0].flags & FDINFO_NONBLOCK).toBe(FDINFO_NONBLOCK);

      // And the server still accepts.
      const accepted = once(server, 'connection');
      const client = createConnection((server.address() as { port: number }).port, '127.0.0.1');
      const [socket] = (await accepted) as [import('node:net').Socket];
      socket.destroy();
      client.destroy();
    } finally {
      await closeServer(server);
    }
  });
});

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Children of this process, zombie or not. */
function children(): number[] {
  return allProcesses().filter((p) => p.ppid === process.pid).map((p) => p.pid);
}

describe('exec failures are thrown synchronously, with Node\'s error shape', () => {
  function expectFailure(run: () => unknown, expected: { code: string; syscall: string; path?: string; description?: string }): void {
    const fdsBefore = openFds();
    const childrenBefore = children();
    let error: (Error & Record<string, unknown>) | undefined;
    try {
      run();
    } catch (err) {
      error = err as Error & Record<string, unknown>;
    }
    expect(error, 'no error thrown').toBeInstanceOf(Error);
    const errno = -(osConstants.errno as Record<string, number>)[expected.code];
    expect(error).toMatchObject({ code: expected.code, errno, syscall: expected.syscall });
    expect(error!.errno).toBeLessThan(0);
    if (expected.path === undefined) {
      expect(error).not.toHaveProperty('path');
    } else {
      expect(error!.path).toBe(expected.path);
    }
    // Node's message: description from Node's own errno table (strerror's
    // words for the few errnos libuv does not name), then the syscall and path.
    const [, description] = getSystemErrorMap().get(errno) ?? [expected.code, expected.description];
    const path = expected.path === undefined ? '' : ` '${expected.path}'`;
    expect(error!.message.startsWith(`${expected.code}: ${description}, ${expected.syscall}${path}`), error!.message).toBe(true);
    expect(error).not.toBeInstanceOf(HandoverError);
    // No child, no zombie, no fd left behind.
    expect(openFds()).toEqual(fdsBefore);
    expect(children()).toEqual(childrenBefore);
    expect(zombieChildren()).toEqual([]);
  }

  it('ENOENT: the exact message of Node', () => {
    let error: Error | undefined;
    try {
      forkExecWithFds('/x', ['x']);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toBe("ENOENT: no such file or directory, execve '/x'");
    expectFailure(() => forkExecWithFds('/nonexistent-handover/x', ['x']), { code: 'ENOENT', syscall: 'execve', path: '/nonexistent-handover/x' });
  });

  it('EACCES: a file without execute permission', () => {
    const path = join(dir, 'not-executable.sh');
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, 0o644);
    expectFailure(() => forkExecWithFds(path, ['x']), { code: 'EACCES', syscall: 'execve', path });
  });

  it('ENOEXEC: an executable file with garbage content and no shebang', () => {
    const path = join(dir, 'garbage');
    writeFileSync(path, Buffer.from([0x7f, 0x45, 0x4c, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04]));
    chmodSync(path, 0o755);
    expectFailure(() => forkExecWithFds(path, ['x']), { code: 'ENOEXEC', syscall: 'execve', path, description: 'exec format error' });
    expect(() => forkExecWithFds(path, ['x'])).toThrow(`ENOEXEC: exec format error, execve '${path}'`);
  });

  it('ENOTDIR: a path through a regular file', () => {
    const file = join(dir, 'regular');
    writeFileSync(file, '');
    expectFailure(() => forkExecWithFds(join(file, 'x'), ['x']), { code: 'ENOTDIR', syscall: 'execve', path: join(file, 'x') });
  });

  it('a bad cwd: syscall chdir, path = the cwd', () => {
    const cwd = join(dir, 'no-such-dir');
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { cwd }), { code: 'ENOENT', syscall: 'chdir', path: cwd });
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { cwd: file }), { code: 'ENOTDIR', syscall: 'chdir', path: file });
  });

  it('a failing setpgid: EPERM for a process group that does not exist', () => {
    const used = new Set(allProcesses().flatMap((p) => [p.pid, p.pgid]));
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    let pgid = pidMax - 1;
    while (used.has(pgid)) pgid--;
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { pgid }), { code: 'EPERM', syscall: 'setpgid' });
  });

  it('a failing setpgid: EPERM for a process group of another session', async () => {
    const leader = start('/bin/sleep', ['sleep', '60'], { setsid: true, files: [] });
    expect(procStat(leader)).toMatchObject({ sid: leader, pgid: leader });
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { pgid: leader }), { code: 'EPERM', syscall: 'setpgid' });
    process.kill(leader, 'SIGKILL');
    expect(await reap(leader)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('EBADF: a closed fd in files', () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { files: [0, 1, 2, fd] }), { code: 'EBADF', syscall: 'dup2' });
    expectFailure(() => forkExecWithFds('/bin/true', ['true'], { files: [fd] }), { code: 'EBADF', syscall: 'dup2' });
  });

  it('1,000 failed spawns leave the fd count and the zombie count unchanged', () => {
    const fdsBefore = openFds().length;
    const zombiesBefore = zombieChildren().length;
    for (let i = 0; i < 1000; i++) {
      expect(() => forkExecWithFds('/nonexistent-handover/x', ['x'], { files: [0, 1, 2] })).toThrow(/ENOENT/);
    }
    expect(openFds().length).toBe(fdsBefore);
    expect(zombieChildren().length).toBe(zombiesBefore);
  });
});

describe('signals', () => {
  it('the child starts with default dispositions and an empty mask, though Node ignores SIGPIPE', async () => {
    // The premise: this process ignores SIGPIPE.
    expect(signalState().SigIgn & signalBit(osConstants.signals.SIGPIPE)).not.toBe(0n);
    const report = await runReporter();
    expect({ SigIgn: report.SigIgn, SigBlk: report.SigBlk, SigCgt: report.SigCgt, SigPnd: report.SigPnd }).toEqual({
      SigIgn: '0000000000000000',
      SigBlk: '0000000000000000',
      SigCgt: '0000000000000000',
      SigPnd: '0000000000000000',
    });
  });

  it('the parent keeps its own dispositions and mask', async () => {
    const before = signalState();
    await runReporter();
    const after = signalState();
    expect(after.SigIgn).toBe(before.SigIgn);
    expect(after.SigBlk).toBe(before.SigBlk);
  });
});

describe('attributes', () => {
  it('argv is passed as is, argv[0] independent of path', async () => {
    const report = await runReporter({}, ['two words', '', 'ünïcødé', '--flag=x']);
    expect(report.argv.slice(2)).toEqual(['two words', '', 'ünïcødé', '--flag=x']);
    expect(report.argv[0]).toBe('report-fds');
  });

  it('cwd: the child runs there; a relative path resolves against it', async () => {
    const cwd = tempDir();
    expect((await runReporter({ cwd })).cwd).toBe(realpathSync(cwd));
    const reporter = reporterPath();
    const pid = start(`./${basename(reporter)}`, ['report-fds', join(dir, 'relative.json')], { cwd: dirname(reporter) });
    expect(await reap(pid)).toEqual({ code: 0, signal: null });
    expect((JSON.parse(readFileSync(join(dir, 'relative.json'), 'utf8')) as Report).cwd).toBe(realpathSync(dirname(reporter)));
  });

  it('the default cwd is the parent\'s', async () => {
    expect((await runReporter()).cwd).toBe(process.cwd());
  });

  it('env as an array: exactly these entries, in order', async () => {
    const env = ['B=2', 'A=one two', 'EMPTY=', 'UNICODE=ü'];
    expect((await runReporter({ env })).env).toEqual(env);
    expect((await runReporter({ env: [] })).env).toEqual([]);
  });

  it('env as an object: undefined values are dropped', async () => {
    const report = await runReporter({ env: { A: '1', GONE: undefined, EMPTY: '', B: 'x=y' } });
    expect(report.env).toEqual(['A=1', 'EMPTY=', 'B=x=y']);
  });

  it('the default env is process.env', async () => {
    const report = await runReporter();
    expect(envObject(report)).toEqual({ ...process.env });
    expect(report.env).toHaveLength(Object.keys(process.env).length);
  });

  it('setsid: the child leads a new session and process group', async () => {
    const report = await runReporter({ setsid: true });
    expect(report.sid).toBe(report.pid);
    expect(report.pgid).toBe(report.pid);
    expect(report.ppid).toBe(process.pid);
  });

  it('without setsid or setpgid: the parent\'s session and group', async () => {
    const self = procStat('self')!;
    const report = await runReporter();
    expect({ sid: report.sid, pgid: report.pgid }).toEqual({ sid: self.sid, pgid: self.pgid });
  });

  it('setpgid: the child leads a new process group in the parent\'s session', async () => {
    const self = procStat('self')!;
    for (const attr of [{ setpgid: true }, { pgid: 0 }, { setpgid: true, pgid: 0 }] as ForkExecAttributes[]) {
      const report = await runReporter(attr);
      expect(report.pgid, JSON.stringify(attr)).toBe(report.pid);
      expect(report.sid).toBe(self.sid);
    }
  });

  it('pgid: the child joins an existing process group', async () => {
    const leader = start('/bin/sleep', ['sleep', '60'], { setpgid: true, files: [] });
    expect(procStat(leader)!.pgid).toBe(leader);
    const report = await runReporter({ pgid: leader });
    expect(report.pgid).toBe(leader);
    process.kill(leader, 'SIGKILL');
    expect(await reap(leader)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('pdeathsig: the child is killed when the process that started it dies', async () => {
    // A short-lived Node process starts two sleeps, one with pdeathsig, and
    // exits at once; a subreaper adopts and reaps the orphans. files: [] so
    // that the sleeps do not hold the output pipe open.
    const tree = spawnUnderSubreaper(process.execPath, driverArgs({
      spawns: [
        { path: '/bin/sleep', argv: ['sleep', '60'], attr: { pdeathsig: 'SIGKILL', files: [] } },
        { path: '/bin/sleep', argv: ['sleep', '61'], attr: { files: [] } },
      ],
      mode: 'exit',
    }));
    const lines = new JsonLines(tree.stdout!);
    const { pids } = (await lines.next()) as { pids: [number, number] };
    const [withDeathSignal, control] = pids;
    try {
      expect(subreaperExit(await lines.next())).toEqual({ code: 0, signal: null });
      await expect.poll(() => isRunning(withDeathSignal), { timeout: 10_000, interval: 10 }).toBe(false);
      // The control, started the same way without pdeathsig, outlives its parent.
      expect(isRunning(control)).toBe(true);
    } finally {
      killStray(withDeathSignal, 'sleep');
      killStray(control, 'sleep');
    }
    // Every descendant gone: the subreaper exits.
    expect(await once(tree, 'exit')).toEqual([0, null]);
  });

  it('listenPid: LISTEN_PID is the child\'s own pid, replacing any LISTEN_PID in env', async () => {
    const listenPid = (report: Report): string[] => report.env.filter((e) => e.startsWith('LISTEN_PID='));

    const plain = await runReporter({ listenPid: true });
    expect(listenPid(plain)).toEqual([`LISTEN_PID=${plain.pid}`]);

    const fromArray = await runReporter({ listenPid: true, env: ['LISTEN_PID=1', 'A=1', 'LISTEN_PID=2'] });
    expect(listenPid(fromArray)).toEqual([`LISTEN_PID=${fromArray.pid}`]);
    expect(fromArray.env).toContain('A=1');

    const fromObject = await runReporter({ listenPid: true, env: { LISTEN_PID: '1', LISTEN_FDS: '1' } });
    expect(fromObject.env.sort()).toEqual(['LISTEN_FDS=1', `LISTEN_PID=${fromObject.pid}`]);

    // Without listenPid, an existing LISTEN_PID is passed through untouched.
    expect(listenPid(await runReporter({ env: ['LISTEN_PID=1'] }))).toEqual(['LISTEN_PID=1']);
  });
});

describe('bad arguments: HandoverError naming the argument, never a crash', () => {
  const T = 'ERR_INVALID_ARG_TYPE';
  const V = 'ERR_INVALID_ARG_VALUE';
  const cases: [string, unknown[], string, string][] = [
    ['path not a string', [42, ['x']], T, 'path'],
    ['path undefined', [undefined, ['x']], T, 'path'],
    ['empty path', ['', ['x']], V, 'path'],
    ['NUL byte in path', ['/bin/true\0x', ['x']], V, 'path'],
    ['argv not an array', ['/bin/true', 'true'], T, 'argv'],
    ['empty argv', ['/bin/true', []], V, 'argv'],
    ['argv entry not a string', ['/bin/true', ['true', 1]], T, 'argv[1]'],
    ['NUL byte in argv', ['/bin/true', ['tr\0ue']], V, 'argv[0]'],
    ['attr null', ['/bin/true', ['true'], null], T, 'attr'],
    ['attr a string', ['/bin/true', ['true'], 'x'], T, 'attr'],
    ['cwd not a string', ['/bin/true', ['true'], { cwd: 1 }], T, 'attr.cwd'],
    ['NUL byte in cwd', ['/bin/true', ['true'], { cwd: '/tmp\0' }], V, 'attr.cwd'],
    ['files not an array', ['/bin/true', ['true'], { files: 3 }], T, 'attr.files'],
    ['negative fd', ['/bin/true', ['true'], { files: [0, -1] }], T, 'attr.files[1]'],
    ['fractional fd', ['/bin/true', ['true'], { files: [1.5] }], T, 'attr.files[0]'],
    ['fd as a string', ['/bin/true', ['true'], { files: ['0'] }], T, 'attr.files[0]'],
    ['fd beyond int32', ['/bin/true', ['true'], { files: [2 ** 31] }], T, 'attr.files[0]'],
    ['too many files', ['/bin/true', ['true'], { files: Array(4097).fill(null) }], V, 'attr.files'],
    ['pdeathsig not a signal name', ['/bin/true', ['true'], { pdeathsig: 'SIGNOPE' }], V, 'attr.pdeathsig'],
    ['pdeathsig a number', ['/bin/true', ['true'], { pdeathsig: 9 }], V, 'attr.pdeathsig'],
    ['env a string', ['/bin/true', ['true'], { env: 'A=1' }], T, 'attr.env'],
    ['env null', ['/bin/true', ['true'], { env: null }], T, 'attr.env'],
    ['env a number', ['/bin/true', ['true'], { env: 5 }], T, 'attr.env'],
    ['env entry not a string', ['/bin/true', ['true'], { env: ['A=1', 2] }], T, 'attr.env[1]'],
    ['NUL byte in an env entry', ['/bin/true', ['true'], { env: ['A=1\0B=2'] }], V, 'attr.env[0]'],
    ['env value not a string', ['/bin/true', ['true'], { env: { A: 1 } }], T, 'attr.env.A'],
    ['NUL byte in an env value', ['/bin/true', ['true'], { env: { A: 'x\0' } }], V, 'attr.env.A'],
    ['setsid not a boolean', ['/bin/true', ['true'], { setsid: 1 }], T, 'attr.setsid'],
    ['setpgid not a boolean', ['/bin/true', ['true'], { setpgid: 'yes' }], T, 'attr.setpgid'],
    ['negative pgid', ['/bin/true', ['true'], { pgid: -1 }], T, 'attr.pgid'],
    ['fractional pgid', ['/bin/true', ['true'], { pgid: 1.5 }], T, 'attr.pgid'],
    ['pgid beyond the pid range', ['/bin/true', ['true'], { pgid: 2 ** 32 }], T, 'attr.pgid'],
    ['listenPid not a boolean', ['/bin/true', ['true'], { listenPid: 'yes' }], T, 'attr.listenPid'],
    ['a hole in argv', ['/bin/true', ['true', , 'x']], T, 'argv[1]'],
    ['a hole in files', ['/bin/true', ['true'], { files: [0, , 2] }], T, 'attr.files[1]'],
    ['a hole in env', ['/bin/true', ['true'], { env: ['A=1', , 'B=2'] }], T, 'attr.env[1]'],
  ];

  it.each(cases)('%s', (_name, args, code, argument) => {
    const childrenBefore = children();
    let error: unknown;
    try {
      const pid = (forkExecWithFds as (...a: unknown[]) => unknown)(...args);
      if (typeof pid === 'number') adopt(pid); // validation missed it: reap what it started
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HandoverError);
    expect(error).toBeInstanceOf(Error);
    expect((error as HandoverError).code).toBe(code);
    expect((error as HandoverError).message).toContain(`"${argument}"`);
    expect((error as HandoverError).message).toMatch(/Received /);
    expect(children()).toEqual(childrenBefore);
  });
});

describe('worker threads', () => {
  // Posts {stage} as it goes, so that a hang says where it stopped.
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { forkExecWithFds, waitPid } = require(workerData.dist);
    parentPort.postMessage({ stage: 'loaded' });
    (async () => {
      const ok = forkExecWithFds('/bin/true', ['true']);
      const three = forkExecWithFds('/bin/sh', ['sh', '-c', 'exit 3']);
      parentPort.postMessage({ stage: 'spawned', pids: [ok, three] });
      const statuses = await Promise.all([waitPid(ok), waitPid(three)]);
      parentPort.postMessage({ stage: 'reaped' });
      let error;
      try { forkExecWithFds('/nonexistent-handover', ['x']); } catch (err) { error = { code: err.code, syscall: err.syscall }; }
      if (workerData.leaveOne) {
        const pid = forkExecWithFds('/bin/sleep', ['sleep', '60'], { files: [] });
        waitPid(pid);
        parentPort.postMessage({ pid });
        return;
      }
      parentPort.postMessage({ statuses, error });
    })().catch((err) => parentPort.postMessage({ crash: String(err && err.stack) }));
  `;

  it('forkExecWithFds and waitPid work in a Worker', async () => {
    const worker = new Worker(source, { eval: true, workerData: { dist: DIST } });
    const messages: Record<string, unknown>[] = [];
    worker.on('message', (message: Record<string, unknown>) => messages.push(message));
    const stuck = (): string => {
      const pids = (messages.find((m) => m.stage === 'spawned')?.pids as number[] | undefined) ?? [];
      void worker.terminate();
      return `messages ${JSON.stringify(messages)}; its children ${JSON.stringify(pids.map((pid) => procStat(pid)))}`;
    };
    expect(await within(20_000, once(worker, 'exit'), 'the worker did not finish', stuck)).toEqual([0]);
    expect(messages).toEqual([
      { stage: 'loaded' },
      { stage: 'spawned', pids: [expect.any(Number), expect.any(Number)] },
      { stage: 'reaped' },
      { statuses: [{ code: 0, signal: null }, { code: 3, signal: null }], error: { code: 'ENOENT', syscall: 'execve' } },
    ]);
  });

  it('a Worker terminated while waitPid is pending: no crash, another thread can still wait for the child', async () => {
    // In a process of its own (a crash must not take the test runner down),
    // under a subreaper that adopts the sleep if that process dies. The main
    // thread waits before the child exits: a child whose waiters have all
    // ended is reaped by the addon once it exits (test/native-hardening.test.ts).
    const script = `
      const { Worker } = require('node:worker_threads');
      const { waitPid } = require(${JSON.stringify(DIST)});
      const worker = new Worker(${JSON.stringify(source)}, { eval: true, workerData: { dist: ${JSON.stringify(DIST)}, leaveOne: true } });
      worker.on('message', async ({ pid }) => {
        if (pid === undefined) return;
        console.log(JSON.stringify({ pid }));
        await worker.terminate();
        const status = waitPid(pid);
        process.kill(pid, 'SIGKILL');
        console.log(JSON.stringify({ status: await status }));
      });
    `;
    const tree = spawnUnderSubreaper(process.execPath, ['-e', script]);
    const lines = new JsonLines(tree.stdout!);
    const { pid } = (await lines.next()) as { pid: number };
    let line = await lines.next();
    const status = line.status;
    if (status !== undefined) line = await lines.next();
    killStray(pid, 'sleep'); // only if the process died before it could
    const exited = subreaperExit(line);
    await once(tree, 'exit');
    expect(exited).toEqual({ code: 0, signal: null });
    expect(status).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
