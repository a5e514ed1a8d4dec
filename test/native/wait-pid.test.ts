// waitPid: exit codes and signals, already-exited children, many children at
// once, coexistence with child_process, ECHILD, and `ref: false`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HandoverError, waitPid } from '../../lib/index';
import { cleanup, driverArgs, JsonLines, killStray, reap, removeTempDirs, spawnUnderSubreaper, start, subreaperExit, tempDir, within } from '../helpers/children';
import { fixtureBinary } from '../helpers/compile';
import { makePipe } from '../helpers/fds';
import { isRunning, procStat, zombieChildren } from '../helpers/proc';

let dir: string;
let exitOnEof: string;
let devnull: number;

beforeAll(() => {
  dir = tempDir();
  exitOnEof = fixtureBinary('exit-on-eof');
  devnull = openSync('/dev/null', 'r+');
});

afterEach(async () => {
  await cleanup();
  expect(zombieChildren()).toEqual([]);
});

afterAll(() => {
  closeSync(devnull);
  removeTempDirs();
});

/** Catches what a call throws synchronously or rejects with. */
async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('exit status', () => {
  it('exit codes', async () => {
    for (const code of [0, 1, 3, 255]) {
      const pid = start('/bin/sh', ['sh', '-c', `exit ${code}`]);
      expect(await reap(pid)).toEqual({ code, signal: null });
    }
  });

  it('signals, by name', async () => {
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGUSR1'] as const) {
      const pid = start('/bin/sleep', ['sleep', '60'], { files: [] });
      process.kill(pid, signal);
      expect(await reap(pid)).toEqual({ code: null, signal });
    }
    // A signal the child sends itself.
    const pid = start('/bin/sh', ['sh', '-c', 'kill -SEGV $$']);
    expect(await reap(pid)).toEqual({ code: null, signal: 'SIGSEGV' });
  });

  it('a child that exited before waitPid was called', async () => {
    const pid = start('/bin/sh', ['sh', '-c', 'exit 9']);
    await expect.poll(() => procStat(pid)?.state, { timeout: 10_000, interval: 5 }).toBe('Z');
    expect(await reap(pid)).toEqual({ code: 9, signal: null });
    expect(procStat(pid)).toBeNull();
  });

  it('50 children alive at once are all reaped with the right status, without the thread pool', async () => {
    const pipe = makePipe(dir);
    const pids: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        // Every fifth dies of SIGTERM, the others exit with their index.
        const args = i % 5 === 4 ? ['exit-on-eof', '0', String(osConstants.signals.SIGTERM)] : ['exit-on-eof', String(i)];
        pids.push(start(exitOnEof, args, { files: [pipe.read, devnull, devnull] }));
      }
      const statuses = Promise.all(pids.map((pid) => waitPid(pid)));
      for (const pid of pids) expect(isRunning(pid)).toBe(true);
      // 50 pending waits hold no libuv thread-pool thread (4 by default): fs still works.
      await expect(fsp.readFile('/proc/self/stat', 'utf8')).resolves.toMatch(/^\d+ /);
      closeSync(pipe.write);
      pipe.write = -1;
      expect(await statuses).toEqual(pids.map((_, i) => (i % 5 === 4 ? { code: null, signal: 'SIGTERM' } : { code: i, signal: null })));
    } finally {
      if (pipe.write >= 0) closeSync(pipe.write);
      closeSync(pipe.read);
    }
    for (const pid of pids) expect(procStat(pid)).toBeNull();
  });

  it('waits for exactly that child: another exited child stays unreaped', async () => {
    const other = start('/bin/sh', ['sh', '-c', 'exit 4']);
    const pid = start('/bin/sh', ['sh', '-c', 'exit 2']);
    await expect.poll(() => procStat(other)?.state, { timeout: 10_000, interval: 5 }).toBe('Z');
    expect(await reap(pid)).toEqual({ code: 2, signal: null });
    expect(procStat(other)?.state).toBe('Z');
    expect(await reap(other)).toEqual({ code: 4, signal: null });
  });

  it('calling twice returns the same promise', async () => {
    const pid = start('/bin/sh', ['sh', '-c', 'exit 6']);
    const first = waitPid(pid);
    expect(waitPid(pid)).toBe(first);
    expect(await first).toEqual({ code: 6, signal: null });
    expect(await reap(pid).catch((err: NodeJS.ErrnoException) => err.code)).toBe('ECHILD');
  });
});

describe('coexistence with child_process', () => {
  it('neither reaps the other\'s children, even when they exit together', async () => {
    const pipe = makePipe(dir);
    try {
      const ours = start(exitOnEof, ['exit-on-eof', '6'], { files: [pipe.read, devnull, devnull] });
      const theirs = spawn(exitOnEof, ['5'], { stdio: [pipe.read, 'ignore', 'ignore'] });
      await once(theirs, 'spawn');
      const theirExit = once(theirs, 'exit');
      const ourExit = waitPid(ours);
      closeSync(pipe.write);
      pipe.write = -1;
      expect(await ourExit).toEqual({ code: 6, signal: null });
      expect(await theirExit).toEqual([5, null]);
    } finally {
      if (pipe.write >= 0) closeSync(pipe.write);
      closeSync(pipe.read);
    }
  });

  it('a child of ours that exited stays ours while child_process reaps its own', async () => {
    const ours = start('/bin/sh', ['sh', '-c', 'exit 7']);
    await expect.poll(() => procStat(ours)?.state, { timeout: 10_000, interval: 5 }).toBe('Z');
    // child_process's SIGCHLD handling runs (its child exits) while ours is a zombie.
    const theirs = spawn('/bin/sh', ['-c', 'exit 8'], { stdio: 'ignore' });
    expect(await once(theirs, 'exit')).toEqual([8, null]);
    expect(procStat(ours)?.state).toBe('Z');
    expect(await reap(ours)).toEqual({ code: 7, signal: null });
  });
});

describe('ECHILD', () => {
  async function expectEchild(pid: number): Promise<void> {
    const err = (await failure(() => waitPid(pid))) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ECHILD', errno: -osConstants.errno.ECHILD, syscall: 'waitpid' });
    expect(err.message).toBe('ECHILD: no child processes, waitpid');
  }

  it('rejects for pid 1 and for our own parent', async () => {
    await expectEchild(1);
    await expectEchild(process.ppid);
  });

  it('rejects for a child already reaped', async () => {
    const pid = start('/bin/true', ['true']);
    expect(await reap(pid)).toEqual({ code: 0, signal: null });
    await expectEchild(pid);
  });

  it('rejects for a child of child_process\'s child (a grandchild)', async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [data] = (await once(child.stdout!, 'data')) as [Buffer];
    const grandchild = Number(data.toString().trim());
    try {
      expect(procStat(grandchild)?.ppid).toBe(child.pid);
      await expectEchild(grandchild);
    } finally {
      process.kill(grandchild, 'SIGKILL');
      await once(child, 'exit');
    }
  });
});

describe('bad arguments', () => {
  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '1'],
    ['NaN', NaN],
    ['undefined', undefined],
    ['beyond the pid range', 2 ** 32 + 1],
  ])('pid %s: ERR_INVALID_ARG_TYPE naming "pid"', async (_name, pid) => {
    const err = await failure(() => waitPid(pid as number));
    expect(err).toBeInstanceOf(HandoverError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect((err as Error).message).toContain('"pid"');
  });

  it('options.ref not a boolean: ERR_INVALID_ARG_TYPE naming "options.ref"', async () => {
    const pid = start('/bin/true', ['true']);
    const err = await failure(() => waitPid(pid, { ref: 'no' as unknown as boolean }));
    expect(err).toMatchObject({ name: 'HandoverError', code: 'ERR_INVALID_ARG_TYPE' });
    expect((err as Error).message).toContain('"options.ref"');
    expect(await reap(pid)).toEqual({ code: 0, signal: null });
  });
});

describe('ref', () => {
  // Both run in a Node process of their own (driver.js) under a subreaper
  // that adopts the child if the driver exits before it.

  it('by default, a pending waitPid keeps the process alive until the child exits', async () => {
    const tree = spawnUnderSubreaper(
      process.execPath,
      driverArgs({ spawns: [{ path: exitOnEof, argv: ['exit-on-eof', '4'], attr: { files: [0, null, null] } }], mode: 'wait' }),
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = new JsonLines(tree.stdout!);
    const { pids } = (await lines.next()) as { pids: [number] };
    // The driver does nothing else: only waitPid keeps it running until its
    // child sees EOF on the stdin they share.
    tree.stdin!.end();
    expect(await lines.next()).toEqual({ statuses: [{ code: 4, signal: null }] });
    expect(subreaperExit(await lines.next())).toEqual({ code: 0, signal: null });
    expect(await once(tree, 'exit')).toEqual([0, null]);
    expect(isRunning(pids[0])).toBe(false);
  });

  it('ref: false lets the process exit while its child is still alive', async () => {
    const tree = spawnUnderSubreaper(
      process.execPath,
      driverArgs({ spawns: [{ path: '/bin/sleep', argv: ['sleep', '600'], attr: { files: [] } }], mode: 'unref' }),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    tree.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const lines = new JsonLines(tree.stdout!);
    const { pids } = (await lines.next()) as { pids: [number] };
    let exited;
    let childAliveAfterExit;
    try {
      exited = subreaperExit(await within(15_000, lines.next(), 'the process did not exit while its child (sleep 600) lives'));
      childAliveAfterExit = isRunning(pids[0]);
    } finally {
      killStray(pids[0], 'sleep');
    }
    expect(await once(tree, 'exit')).toEqual([0, null]);
    expect(childAliveAfterExit, 'the child outlived the process that waited on it with ref: false').toBe(true);
    expect(exited, `the process exited cleanly (stderr: ${stderr})`).toEqual({ code: 0, signal: null });
  });
});
