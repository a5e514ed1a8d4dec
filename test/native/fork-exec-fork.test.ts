// The fork + execve + error-pipe path (native/spawn_fork.cc), which macOS
// takes for listenPid: run here through the native spawn option forkExec,
// with the contract of the Linux clone path — exact argv and environment,
// the fd table exactly `files`, exec failures thrown synchronously with no
// child left behind. And the signal mask a child starts with, read before it
// has run one instruction (test/fixtures/trace-forks.c), for both paths.
import { chmodSync, closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { native, type NativeSpawnOptions } from '../../lib/native/binding';
import { setCloexec } from '../../lib/index';
import { adopt, cleanup, DIST, finished, jsonLines, reap, removeTempDirs, spawnTracked, tempDir } from '../helpers/children';
import { fixtureBinary } from '../helpers/compile';
import { allProcesses, FDINFO_CLOEXEC, fdTarget, openFds, signalBit, zombieChildren } from '../helpers/proc';
import { fdTable, readReport, reporterPath, type Report } from '../helpers/reporter';

const errno = osConstants.errno as Record<string, number>;
let dir: string;
let counter = 0;

beforeAll(() => {
  reporterPath();
  dir = tempDir();
});

afterEach(async () => {
  await cleanup();
  expect(zombieChildren()).toEqual([]);
});

afterAll(() => removeTempDirs());

/** The native spawn on the fork path, with listenPid; returns the pid, tracked for cleanup. */
function forkSpawn(options: Partial<NativeSpawnOptions> & { file: string; argv: string[] }): number {
  const pid = native('test').spawn({
    envp: [],
    files: [0, 1, 2],
    setsid: false,
    setpgid: false,
    pgid: 0,
    pdeathsig: 0,
    listenPid: true,
    forkExec: true,
    ...options,
  });
  adopt(pid);
  return pid;
}

/** Runs the reporter on the fork path; argv[1] must be where it writes. */
async function forkReport(options: Partial<NativeSpawnOptions> & { argv?: string[] } = {}): Promise<Report & { spawned: number }> {
  const out = join(dir, `report-${++counter}.json`);
  const argv = options.argv ?? ['report-fds', out];
  argv[1] = out;
  const pid = forkSpawn({ file: reporterPath(), ...options, argv });
  return { ...(await readReport({ pid, out })), spawned: pid };
}

function children(): number[] {
  return allProcesses()
    .filter((p) => p.ppid === process.pid)
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

describe('the fork path: what the child gets', () => {
  it('exactly argv, argv[0] included', async () => {
    const report = await forkReport({ argv: ['not-the-path', '', 'two words', '', '$HOME', '"quoted"'] });
    expect(report.argv).toEqual(['not-the-path', report.argv[1], 'two words', '', '$HOME', '"quoted"']);
  });

  it('exactly the environment, in order, with LISTEN_PID = its own pid; nothing added (no PWD, no SHLVL), names that are not shell identifiers kept', async () => {
    const envp = ['B=2', 'A=1', 'not-a-shell.name=x', 'WITH SPACE=y', 'EMPTY=', '1DIGIT=z', 'NOEQUALS', 'UNICODE=\u00e9\u4e2d'];
    const report = await forkReport({ envp });
    expect(report.pid).toBe(report.spawned);
    expect(report.env).toEqual([...envp, `LISTEN_PID=${report.pid}`]);
  });

  it('the fd table is exactly files: a close-on-exec fd passed without FD_CLOEXEC, others (even without FD_CLOEXEC) not at all, no error pipe', async () => {
    const passed = openSync(join(dir, 'passed'), 'w');
    const stray = openSync(join(dir, 'stray'), 'w');
    setCloexec(stray, false);
    try {
      const report = await forkReport({ files: [0, 1, 2, -1, passed] });
      expect(fdTable(report)).toEqual({ 0: fdTarget(0), 1: fdTarget(1), 2: fdTarget(2), 4: fdTarget(passed) });
      for (const entry of report.fds) expect(entry.flags & FDINFO_CLOEXEC, `fd ${entry.fd}`).toBe(0);
    } finally {
      closeSync(passed);
      closeSync(stray);
    }
  });

  it('default dispositions and an empty mask, though Node ignores SIGPIPE; setsid and cwd apply', async () => {
    const cwd = tempDir();
    const report = await forkReport({ setsid: true, cwd });
    expect({ SigIgn: report.SigIgn, SigBlk: report.SigBlk }).toEqual({ SigIgn: '0000000000000000', SigBlk: '0000000000000000' });
    expect(report.sid).toBe(report.pid);
    expect(report.pgid).toBe(report.pid);
    expect(report.cwd).toBe(cwd);
  });
});

describe('the fork path: failures are thrown synchronously, with no child left', () => {
  function expectFailure(options: Partial<NativeSpawnOptions> & { file: string }, code: string, syscall: string): void {
    const fdsBefore = openFds();
    const childrenBefore = children();
    let error: unknown;
    try {
      forkSpawn({ argv: ['x'], ...options });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ errno: -errno[code], syscall, native: true });
    expect(openFds()).toEqual(fdsBefore);
    expect(children()).toEqual(childrenBefore);
    expect(zombieChildren()).toEqual([]);
  }

  it('ENOEXEC: an executable file without #! is not run as a shell script', () => {
    const path = join(dir, 'no-shebang');
    writeFileSync(path, `touch ${join(dir, 'ran')}\n`);
    chmodSync(path, 0o755);
    expectFailure({ file: path }, 'ENOEXEC', 'execve');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('ENOENT: a missing file', () => {
    expectFailure({ file: join(dir, 'missing') }, 'ENOENT', 'execve');
  });

  it('EACCES: a file without execute permission', () => {
    const path = join(dir, 'not-executable');
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, 0o644);
    expectFailure({ file: path }, 'EACCES', 'execve');
  });

  it('a bad cwd fails in chdir; a failing setpgid in setpgid', () => {
    expectFailure({ file: '/bin/true', cwd: join(dir, 'no-such-dir') }, 'ENOENT', 'chdir');
    expectFailure({ file: '/bin/true', setpgid: true, pgid: process.pid }, 'EPERM', 'setpgid');
  });

  it('200 failed spawns leave the fd count and the zombie count unchanged', () => {
    const fdsBefore = openFds();
    for (let i = 0; i < 200; i++) {
      expect(() => forkSpawn({ file: join(dir, 'missing'), argv: ['x'] })).toThrow();
    }
    expect(openFds()).toEqual(fdsBefore);
    expect(zombieChildren()).toEqual([]);
  });

  it('a successful spawn is reaped like any child', async () => {
    const pid = forkSpawn({ file: '/bin/sh', argv: ['sh', '-c', 'exit 5'] });
    expect(await reap(pid)).toEqual({ code: 5, signal: null });
  });
});

describe('the signal mask a child starts with, before it runs (between clone and execve)', () => {
  // Every signal but SIGKILL and SIGSTOP, which cannot be blocked. glibc's
  // sigfillset and pthread_sigmask leave its signals 32 and 33 open: a clone
  // child sharing our memory could run their handlers.
  const all = (1n << 64n) - 1n - signalBit(osConstants.signals.SIGKILL) - signalBit(osConstants.signals.SIGSTOP);

  it('every signal is blocked, on the clone path and on the fork path', async () => {
    const script = `
      const { forkExecWithFds, waitPid } = require(${JSON.stringify(DIST)});
      const { native } = require(${JSON.stringify(join(DIST, '../native/binding.js'))});
      (async () => {
        const clone = forkExecWithFds('/bin/true', ['true']);
        console.log(JSON.stringify({ path: 'clone', pid: clone }));
        await waitPid(clone);
        const fork = native('test').spawn({ file: '/bin/true', argv: ['true'], envp: [], files: [0, 1, 2], setsid: false, setpgid: false, pgid: 0, pdeathsig: 0, listenPid: true, forkExec: true });
        console.log(JSON.stringify({ path: 'fork', pid: fork }));
        await waitPid(fork);
      })();
    `;
    const traced = await finished(spawnTracked(fixtureBinary('trace-forks'), [process.execPath, '-e', script]));
    const lines = jsonLines(traced.stdout);
    expect(lines.at(-1), traced.stderr).toEqual({ exited: { code: 0, signal: null } });
    const masks = new Map(lines.filter((l) => 'child' in l).map((l) => [l.child as number, BigInt(`0x${l.SigBlk as string}`)]));
    const spawned = lines.filter((l) => 'path' in l);
    expect(spawned.map((l) => l.path)).toEqual(['clone', 'fork']);
    for (const { path, pid } of spawned) {
      expect(masks.get(pid as number)?.toString(16), `${path as string} child ${pid as number}`).toBe(all.toString(16));
    }
  });
});
