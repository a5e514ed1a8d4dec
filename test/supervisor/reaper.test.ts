// Reaping (issue 5): the supervisor reaps every orphan reparented to it — as
// a child subreaper, and as PID 1 of a new pid namespace, as in a container —
// and never a child that other code in the process waits for.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ZombieReaper } from '../../lib/supervisor/reaper';
import { cleanup, removeTempDirs, spawnTracked, start, reap, tempDir } from '../helpers/children';
import { zombieChildren, allProcesses } from '../helpers/proc';
import { BIN, cleanupSupervisors, procState, SH_APP, SupervisorRun } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
  await cleanup();
});

afterAll(() => removeTempDirs());

const ORPHANS = 3;

/** Live children of `pid` other than `except`, from the host's /proc. */
function childrenOf(pid: number, except: number[] = []): number[] {
  return allProcesses()
    .filter((p) => p.ppid === pid && p.state !== 'Z' && !except.includes(p.pid))
    .map((p) => p.pid);
}

describe('ZombieReaper', () => {
  it('reaps an unknown zombie child but never one that libuv or waitPid waits for', async () => {
    const reaped: number[] = [];
    const reaper = new ZombieReaper({ isTracked: () => false });
    reaper.on('reaped', ({ pid }: { pid: number }) => reaped.push(pid));
    reaper.start();
    try {
      // Nobody waits for this one: it is what an orphan looks like to its new parent.
      const stray = start('/bin/sh', ['sh', '-c', 'exit 5']);
      // These are waited for, by child_process (libuv) and by waitPid.
      const children = Array.from({ length: 10 }, () => spawnTracked('/bin/sh', ['-c', 'exit 0']));
      const waited = Array.from({ length: 10 }, () => reap(start('/bin/sh', ['sh', '-c', 'exit 0'])));
      const exits = await Promise.all(children.map((child) => once(child, 'exit')));
      expect(exits.map(([code]) => code)).toEqual(Array(10).fill(0));
      expect(await Promise.all(waited)).toEqual(Array(10).fill({ code: 0, signal: null }));
      await expect.poll(() => reaped).toEqual([stray]);
      expect(zombieChildren()).toEqual([]);
    } finally {
      reaper.stop();
    }
  });
});

describe('orphans of the app', () => {
  it('are reaped by the supervisor as a child subreaper', async () => {
    const go = join(tempDir('handover-reaper-'), 'go');
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--', SH_APP, String(ORPHANS)], { env: { ORPHANS_GO: go } });
    const ready = await run.event({ event: 'ready' });
    // The orphans were reparented to the supervisor, not to PID 1.
    await expect.poll(() => childrenOf(run.pid, [ready.pid]).length).toBe(ORPHANS);
    writeFileSync(go, '');
    await expect.poll(() => run.logsMatching(/reaped orphan [0-9]+ \(exit code 0\)/).length).toBe(ORPHANS);
    expect(zombieChildren(run.pid)).toEqual([]);
    expect(procState(ready.pid)).toBe('S'); // the generation itself is untouched
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 7, signal: null });
  });

  it('are reaped by the supervisor as PID 1 of a new pid namespace (a container)', async () => {
    const go = join(tempDir('handover-reaper-'), 'go');
    const run = new SupervisorRun(
      ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, BIN, 'run', '--listen', '127.0.0.1:0', '--', SH_APP, String(ORPHANS)],
      { command: 'unshare', env: { ORPHANS_GO: go } },
    );
    await run.log(/^handover\[1\]: generation 1 \(pid [0-9]+\) is ready/);
    // The supervisor's pid as the host sees it: unshare's only child.
    const [supervisor] = childrenOf(run.pid);
    expect(readFileSync(`/proc/${supervisor}/status`, 'utf8')).toMatch(/^NSpid:\s+[0-9]+\s+1$/m);
    await expect.poll(() => childrenOf(supervisor).length).toBe(ORPHANS + 1);
    writeFileSync(go, '');
    await expect.poll(() => run.logsMatching(/^handover\[1\]: reaped orphan [0-9]+ \(exit code 0\)/).length).toBe(ORPHANS);
    expect(zombieChildren(supervisor)).toEqual([]);
    // Signals from outside reach PID 1 (it handles them) and are forwarded.
    process.kill(supervisor, 'SIGTERM');
    expect(await run.exit).toEqual({ code: 7, signal: null });
  });
});
