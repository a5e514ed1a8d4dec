// waitPid where a pollable fd is missing or not enough: the wait threads of
// native/child_waiters.cc. pidfd_open is made to fail with an LD_PRELOAD shim
// (test/fixtures/no-pidfd.c), as on kernels before 5.3 or under seccomp; a
// Worker ends while its child lives; thread creation fails; a ptrace tracer
// holds a child's exit. Each scenario that could crash runs in a process of
// its own, under a subreaper that adopts what a crash would orphan. And the
// parent watch, whose pid must still be our parent's once the watch is open.
import { once } from 'node:events';
import { closeSync, readSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { native } from '../../lib/native/binding';
import { waitPid } from '../../lib/index';
import { cleanup, DIST, finished, jsonLines, JsonLines, killStray, reap, removeTempDirs, spawnTracked, spawnUnderSubreaper, start, subreaperExit, tempDir, within } from '../helpers/children';
import { fixtureBinary, fixtureLibrary } from '../helpers/compile';
import { makePipe } from '../helpers/fds';
import { procStat, zombieChildren } from '../helpers/proc';

const WORKER_WAIT = resolve(__dirname, '../fixtures/worker-wait.js');

afterEach(async () => {
  await cleanup();
  expect(zombieChildren()).toEqual([]);
});

afterAll(() => removeTempDirs());

/** Runs test/fixtures/worker-wait.js in `mode` under a subreaper, with `preload` shims. */
function workerWait(mode: 'orphan' | 'claim' | 'no-threads', preload: string[]) {
  const env = { ...process.env, LD_PRELOAD: preload.map(fixtureLibrary).join(' ') };
  const tree = spawnUnderSubreaper(process.execPath, [WORKER_WAIT, DIST, mode], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  tree.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { tree, lines: new JsonLines(tree.stdout!), stderr: () => stderr };
}

const paths = [
  { path: 'a wait thread (pidfd_open fails)', preload: ['no-pidfd'], pidfds: 0 },
  { path: 'a pidfd', preload: [], pidfds: 1 },
] as const;

describe('a Worker that ends while its child lives', () => {
  for (const { path, preload, pidfds } of paths) {
    it(`${path}: the process does not crash, and the child is reaped once it exits`, async () => {
      // The main thread never loads the addon: when the Worker ends, Node
      // unloads it, and a thread blocked in waitpid wakes in unmapped code
      // (SIGSEGV) unless the module stays mapped.
      const run = workerWait('orphan', [...preload]);
      const started = await run.lines.next();
      const pid = started.pid as number;
      expect(started).toEqual({ pid, pidfds });
      expect(await run.lines.next()).toEqual({ killed: true });
      // Nobody waits for the child any more: the addon reaps it (before, it
      // stayed a zombie of the fixture's process for as long as that lived).
      await expect.poll(() => procStat(pid), { timeout: 10_000 }).toBeNull();
      run.tree.stdin!.end();
      const exited = subreaperExit(await within(10_000, run.lines.next(), 'the fixture did not exit', run.stderr));
      await once(run.tree, 'exit');
      killStray(pid, 'sleep');
      expect(exited, run.stderr()).toEqual({ code: 0, signal: null });
    });

    it(`${path}: another thread that waits for the child before it exits gets its status`, async () => {
      const run = workerWait('claim', [...preload]);
      const started = await run.lines.next();
      expect(started.pidfds).toBe(pidfds);
      expect(await run.lines.next()).toEqual({ status: { code: null, signal: 'SIGKILL' } });
      const exited = subreaperExit(await run.lines.next());
      await once(run.tree, 'exit');
      killStray(started.pid as number, 'sleep');
      expect(exited, run.stderr()).toEqual({ code: 0, signal: null });
    });
  }
});

describe('thread creation fails (pthread_create: EAGAIN)', () => {
  it('waitPid rejects with a Node-shaped EAGAIN instead of aborting the process; the child can be waited for afterwards', async () => {
    // Before, std::thread threw std::system_error through the binding, and
    // the process aborted ("terminate called after throwing...").
    const run = workerWait('no-threads', ['no-pidfd', 'no-threads']);
    const { pid } = (await run.lines.next()) as { pid: number };
    expect(await run.lines.next()).toEqual({ error: { code: 'EAGAIN', errno: -11, syscall: 'pthread_create', pid } });
    expect(await run.lines.next()).toEqual({ status: { code: null, signal: 'SIGKILL' } });
    const exited = subreaperExit(await run.lines.next());
    await once(run.tree, 'exit');
    killStray(pid, 'sleep');
    expect(exited, run.stderr()).toEqual({ code: 0, signal: null });
  });
});

describe('a child whose exit a ptrace tracer holds', () => {
  it('its readable pidfd does not spin the event loop; waitPid resolves once the tracer lets go', async () => {
    const hold = fixtureBinary('ptrace-hold');
    const pipe = makePipe(tempDir());
    const pid = start(hold, ['ptrace-hold', 'tracee'], { files: [0, pipe.write, 2] });
    closeSync(pipe.write);
    await expect.poll(() => readReady(pipe.read)).toBe('ready\n');
    closeSync(pipe.read);
    const tracer = spawnTracked(hold, ['tracer', String(pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [attached] = (await once(tracer.stdout!, 'data')) as [Buffer];
    expect(String(attached)).toBe('attached\n');

    let settled: unknown;
    const status = waitPid(pid).then(
      (s) => (settled = s),
      (err: unknown) => (settled = err),
    );
    process.kill(pid, 'SIGKILL');
    // Exited (its pidfd is readable), but ours to collect only once the
    // tracer has waited for it or gone.
    await expect.poll(() => procStat(pid)?.state).toBe('Z');

    // Not a synchronisation: the window over which the loop must stay idle.
    // A loop that polls the readable pidfd again and again is never idle
    // (utilization ~1, whatever the machine's load); one that waits is (~0).
    const before = performance.eventLoopUtilization();
    await new Promise((done) => setTimeout(done, 500));
    const { utilization } = performance.eventLoopUtilization(before);
    expect(utilization).toBeLessThan(0.5);
    expect(settled).toBeUndefined();
    expect(procStat(pid)?.state).toBe('Z');

    tracer.stdin!.end();
    await status;
    expect(settled).toEqual({ code: null, signal: 'SIGKILL' });
    expect(procStat(pid)).toBeNull();
  });
});

describe('the parent watch (watchExit)', () => {
  // lib/upgrader.ts reads process.ppid and then opens the watch; the parent
  // may die in between and its pid be reused. Only a watch opened while the
  // pid still is our parent's is one on our parent.
  it('a pidfd: refuses a live process that is not our parent with ESRCH, as for one that is gone', async () => {
    const pid = start('/bin/sleep', ['sleep', '60'], { files: [] });
    const calls: unknown[] = [];
    let error: unknown;
    try {
      native('test').watchExit(pid, false, (err) => calls.push(err));
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ errno: -osConstants.errno.ESRCH, syscall: 'kill', native: true });
    process.kill(pid, 'SIGKILL');
    expect(await reap(pid)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(calls).toEqual([]);
  });

  it('a wait thread (pidfd_open fails): the same ESRCH for a process that is not our parent; our live parent is watched', async () => {
    const script = `
      const { forkExecWithFds, waitPid } = require(${JSON.stringify(DIST)});
      const { native } = require(${JSON.stringify(resolve(DIST, '../native/binding.js'))});
      const pid = forkExecWithFds('/bin/sleep', ['sleep', '60'], { files: [] });
      let error = null;
      try { native('test').watchExit(pid, false, () => console.log('{"called":true}')); } catch (err) { error = { errno: err.errno, syscall: err.syscall }; }
      native('test').watchExit(process.ppid, false, () => console.log('{"parentExited":true}'));
      console.log(JSON.stringify({ error }));
      process.kill(pid, 'SIGKILL');
      waitPid(pid).then((status) => console.log(JSON.stringify({ status })));
    `;
    const env = { ...process.env, LD_PRELOAD: fixtureLibrary('no-pidfd') };
    const { code, stdout, stderr } = await finished(spawnTracked(process.execPath, ['-e', script], { env }));
    expect(code, stderr).toBe(0);
    expect(jsonLines(stdout)).toEqual([{ error: { errno: -osConstants.errno.ESRCH, syscall: 'kill' } }, { status: { code: null, signal: 'SIGKILL' } }]);
  });
});

/** What the non-blocking read end holds so far ('' while nothing was written). */
function readReady(fd: number): string {
  const buffer = Buffer.alloc(64);
  try {
    return buffer.subarray(0, readSync(fd, buffer)).toString();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return '';
    throw err;
  }
}

