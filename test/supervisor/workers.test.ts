// Workers (issue 17): `handover run --workers N` with real generations of
// test/fixtures/supervised-app.js under real load. Every step is awaited on
// a log line, an app event, a response or an exit; every process is gone
// after each test.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../helpers/children';
import { ERROR_KINDS, LoadClient, type LoadErrorKind } from '../helpers/load-client';
import { allProcesses, procStat } from '../helpers/proc';
import { APP, BIN, cleanupSupervisors, get, SupervisorRun, type AppEvent } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

const ZERO_ERRORS = Object.fromEntries(ERROR_KINDS.map((kind) => [kind, 0])) as Record<LoadErrorKind, number>;

/** `handover run --workers N` of the fixture, whose mode a test can change before a reload. */
function workers(n: number, args: string[] = [], mode = 'graceful', command: { command?: string; prefix?: string[] } = {}): SupervisorRun & { setMode(mode: string): void } {
  const file = join(tempDir('handover-workers-'), 'mode');
  writeFileSync(file, mode);
  const argv = ['run', '--workers', String(n), '--listen', '127.0.0.1:0', ...args, '--', process.execPath, APP];
  const run = new SupervisorRun(command.prefix ? [...command.prefix, process.execPath, BIN, ...argv] : argv, { command: command.command, env: { SUPERVISED_MODE_FILE: file } });
  return Object.assign(run, { setMode: (next: string) => writeFileSync(file, next) });
}

/** From the log, from line `from` on: each worker slot's latest serving generation, once `n` slots have one. */
async function servingWorkers(run: SupervisorRun, n: number, from = 0): Promise<Map<number, { generation: number; pid: number }>> {
  const re = /(?:generation ([0-9]+) \(worker ([0-9]+), pid ([0-9]+)\) is ready after|(?:reloaded|recycled): generation ([0-9]+) \(worker ([0-9]+), pid ([0-9]+)\) serves)/;
  const scan = () => {
    const serving = new Map<number, { generation: number; pid: number }>();
    for (const line of run.logs.slice(from)) {
      const m = re.exec(line);
      if (m) serving.set(Number(m[2] ?? m[5]), { generation: Number(m[1] ?? m[4]), pid: Number(m[3] ?? m[6]) });
    }
    return serving;
  };
  await expect.poll(() => scan().size, { timeout: 20_000 }).toBeGreaterThanOrEqual(n);
  return scan();
}

/** Waits for `reloaded all N workers` (or the single worker's line) from `mark` on. */
async function rolled(run: SupervisorRun, n: number, mark: number): Promise<void> {
  await run.log(new RegExp(`reloaded all ${n} workers in [0-9]+ ms`), mark);
}

describe('--workers N', () => {
  it('starts N workers on the same socket, each told its slot: HANDOVER_WORKER_ID, NODE_APP_INSTANCE, HANDOVER_WORKERS', async () => {
    const run = workers(3);
    const port = await run.port();
    const serving = await servingWorkers(run, 3);
    expect([...serving.keys()].sort()).toEqual([0, 1, 2]);
    for (const [slot, { pid }] of serving) {
      const start = await run.event({ event: 'start', pid });
      expect(start.env).toMatchObject({ HANDOVER_WORKER_ID: String(slot), NODE_APP_INSTANCE: String(slot), HANDOVER_WORKERS: '3', LISTEN_FDS: '1', LISTEN_PID: String(pid), UV_TCP_SINGLE_ACCEPT: '1' });
      expect(start.fd3).toMatchObject({ type: 'socket', listening: true, port });
    }
    // All of them serve: answers come from each worker's pid.
    const seen = new Set<number>();
    await expect.poll(async () => {
      seen.add((await get(port)).pid);
      return seen.size;
    }, { timeout: 15_000, interval: 0 }).toBe(3);
    expect([...seen].sort()).toEqual([...serving.values()].map((w) => w.pid).sort());
  });

  for (const [n, keepAlive] of [[2, true], [3, true], [2, false], [3, false]] as const) {
    it(`${n} workers reload one at a time under ${keepAlive ? 'keep-alive' : 'Connection: close'} load: 0 errors, every worker replaced, never fewer than ${n} serving`, async () => {
      const run = workers(n);
      const port = await run.port();
      const before = await servingWorkers(run, n);
      const load = new LoadClient({ port, connections: 8, keepAlive }).start();
      try {
        await expect.poll(() => load.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(100);
        for (let round = 0; round < 2; round++) {
          const mark = run.logs.length;
          run.signal('SIGHUP');
          await rolled(run, n, mark);
          const after = await servingWorkers(run, n, mark);
          expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
          for (const [slot, worker] of after) expect(worker.pid).not.toBe(before.get(slot)!.pid);
          // One slot at a time: each old worker is stopped only after its own successor serves.
          const lines = run.logs.slice(mark);
          const replaced = lines.filter((line) => /reloaded: generation [0-9]+ \(worker [0-9]+/.test(line)).map((line) => Number(/worker ([0-9]+)/.exec(line)![1]));
          expect(replaced).toEqual([...Array(n).keys()]);
          const starts = lines.map((line, i) => (/generation [0-9]+ \(worker [0-9]+\) started/.test(line) ? i : -1)).filter((i) => i >= 0);
          const reloads = lines.map((line, i) => (/^handover\[[0-9]+\]: reloaded: /.test(line) ? i : -1)).filter((i) => i >= 0);
          for (let k = 1; k < n; k++) expect(starts[k]).toBeGreaterThan(reloads[k - 1]); // the next successor starts after the previous step is done
          await expect.poll(() => [...before.values()].filter((w) => procStat(w.pid) !== null && procStat(w.pid)!.state !== 'Z').length, { timeout: 20_000 }).toBe(0);
          before.clear();
          for (const [slot, worker] of after) before.set(slot, worker);
        }
        await expect.poll(() => load.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(200);
      } finally {
        const stats = await load.stop();
        expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
      }
    });
  }

  it('a successor that fails at worker 2 of 3 stops the roll: workers 0 and 1 run the new release, worker 2 keeps its old worker', async () => {
    const run = workers(3);
    const port = await run.port();
    const before = await servingWorkers(run, 3);
    const load = new LoadClient({ port, connections: 6 }).start();
    try {
      await expect.poll(() => load.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
      run.setMode('fail-worker:2');
      const mark = run.logs.length;
      run.signal('SIGHUP');
      await run.log(/^handover\[[0-9]+\]: reload failed: generation [0-9]+ \(worker 2, pid [0-9]+\) exited before it was ready: exit code 3; generation [0-9]+ \(worker 2, pid ([0-9]+)\) goes on serving/, mark);
      const after = await servingWorkers(run, 3);
      expect(after.get(0)!.pid).not.toBe(before.get(0)!.pid);
      expect(after.get(1)!.pid).not.toBe(before.get(1)!.pid);
      expect(after.get(2)!.pid).toBe(before.get(2)!.pid);
      expect(procStat(before.get(2)!.pid)?.state).not.toBe('Z');
      expect(run.logsMatching(/reloaded all 3 workers/)).toEqual([]);
      // The next reload (the release fixed) replaces every worker.
      run.setMode('graceful');
      const again = run.logs.length;
      run.signal('SIGHUP');
      await rolled(run, 3, again);
    } finally {
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
    }
  });

  it('a reload asked for during a roll starts the roll again from the first worker, once the step running now is over', async () => {
    const run = workers(3, ['--probation', '300ms']);
    await servingWorkers(run, 3);
    const mark = run.logs.length;
    run.signal('SIGHUP');
    await run.log(/reloaded: generation [0-9]+ \(worker 0, /, mark);
    const started = run.logsMatching(/generation ([0-9]+) \(worker [0-9]+\) started/).map((line) => Number(/generation ([0-9]+)/.exec(line)![1]));
    const newestBefore = Math.max(...started);
    run.signal('SIGHUP');
    await run.log(/reload requested during a reload: one more reload will follow it, from the first worker, once the step running now is over/, mark);
    run.signal('SIGHUP'); // after the first was handled: two signals sent at once would be delivered as one
    await run.log(/reload requested again: a reload is already queued/, mark);
    await run.log(/rolling again from the first worker: a reload was asked for during the roll/, mark);
    await rolled(run, 3, mark);
    expect(run.logsMatching(/reloaded all 3 workers/)).toHaveLength(1);
    // Every worker now runs a generation started after the second SIGHUP: the newest release.
    for (const [, worker] of await servingWorkers(run, 3)) expect(worker.generation).toBeGreaterThan(newestBefore);
  });

  it('a worker in a crash loop does not stop the others: they serve on without an error', async () => {
    const run = workers(2, ['--restart-backoff', '100ms']);
    const port = await run.port();
    const before = await servingWorkers(run, 2);
    const load = new LoadClient({ port, connections: 4, keepAlive: false }).start();
    try {
      run.setMode('fail-worker:1');
      const mark = run.logs.length;
      process.kill(before.get(1)!.pid, 'SIGKILL');
      await run.log(/generation [0-9]+ \(worker 1, pid [0-9]+\) failed to start \(exit code 3\); restarting in 200 ms/, mark);
      await run.log(/generation [0-9]+ \(worker 1, pid [0-9]+\) failed to start \(exit code 3\); restarting in 400 ms/, mark);
      const ok = load.stats.ok;
      await expect.poll(() => load.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(ok + 100);
      expect(procStat(before.get(0)!.pid)?.state).not.toBe('Z');
    } finally {
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
    }
  });

  it('kill -9 of one worker: new connections see no error, the others serve meanwhile, the slot is refilled', async () => {
    const run = workers(2, ['--restart-backoff', '500ms']);
    const port = await run.port();
    const before = await servingWorkers(run, 2);
    // Requests in flight on a killed process die with it (RST): the load
    // stops first, so every request of the second one is on a connection
    // made after the kill.
    const warm = new LoadClient({ port, connections: 8, keepAlive: false }).start();
    await expect.poll(() => warm.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(100);
    expect((await warm.stop()).errors).toEqual(ZERO_ERRORS);
    const mark = run.logs.length;
    process.kill(before.get(1)!.pid, 'SIGKILL');
    const load = new LoadClient({ port, connections: 8, keepAlive: false }).start();
    try {
      await run.log(/generation [0-9]+ \(worker 1, pid [0-9]+\) crashed \(killed by SIGKILL\); restarting in 500 ms/, mark);
      const okAtCrash = load.stats.ok;
      const refilled = await run.log(/generation ([0-9]+) \(worker 1, pid ([0-9]+)\) is ready after/, mark);
      expect(load.stats.ok).toBeGreaterThan(okAtCrash); // worker 0 served while worker 1 was down
      const okAtRefill = load.stats.ok;
      await expect.poll(() => load.stats.ok, { timeout: 10_000, interval: 5 }).toBeGreaterThan(okAtRefill + 100);
      const seen = new Set<number>();
      await expect.poll(async () => {
        seen.add((await get(port)).pid);
        return seen.has(Number(refilled[2]));
      }, { timeout: 15_000, interval: 0 }).toBe(true);
    } finally {
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
    }
  });

  it('--max-memory recycles a worker that allocates: its successor is ready first, 0 errors', async () => {
    const run = workers(2, ['--max-memory', '200M'], 'grow:8');
    const port = await run.port();
    await servingWorkers(run, 2);
    const load = new LoadClient({ port, connections: 4 }).start();
    try {
      const recycled = await run.log(/recycling generation ([0-9]+) \(worker ([0-9]+), pid ([0-9]+)\): its RSS is [0-9.]+ MiB \(--max-memory 200 MiB\)/, 0, 30_000);
      const mark = run.logs.indexOf(recycled.input);
      run.setMode('graceful'); // the successors do not grow
      await run.log(new RegExp(`recycled: generation [0-9]+ \\(worker ${recycled[2]}, pid [0-9]+\\) serves \\(ready after [0-9]+ ms\\); stopping generation ${recycled[1]} \\(worker ${recycled[2]}, pid ${recycled[3]}\\)`), mark, 30_000);
      await run.log(new RegExp(`generation ${recycled[1]} \\(worker ${recycled[2]}, pid ${recycled[3]}\\) exited \\(exit code 0\\)`), mark, 30_000);
    } finally {
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
    }
  });

  it('--max-lifetime recycles each worker after its lifetime (plus up to 10%), one at a time, 0 errors', async () => {
    const run = workers(2, ['--max-lifetime', '2s']);
    const port = await run.port();
    const before = await servingWorkers(run, 2);
    const load = new LoadClient({ port, connections: 4 }).start();
    try {
      for (const slot of [0, 1]) {
        const line = await run.log(new RegExp(`recycling generation [0-9]+ \\(worker ${slot}, pid ${before.get(slot)!.pid}\\): it has served ([0-9]+) s \\(--max-lifetime 2 s\\)`), 0, 15_000);
        expect(Number(line[1])).toBeGreaterThanOrEqual(2);
        await run.log(new RegExp(`recycled: generation [0-9]+ \\(worker ${slot}, pid [0-9]+\\) serves \\(ready after [0-9]+ ms\\); stopping generation [0-9]+ \\(worker ${slot}, pid ${before.get(slot)!.pid}\\)`), 0, 15_000);
      }
    } finally {
      const stats = await load.stop();
      expect(stats.errors, stats.samples.join('\n')).toEqual(ZERO_ERRORS);
    }
  });

  it('SIGTTIN adds a worker and SIGTTOU removes the last one, which drains', async () => {
    const run = workers(2);
    const port = await run.port();
    await servingWorkers(run, 2);
    let mark = run.logs.length;
    run.signal('SIGTTIN');
    await run.log(/adding 1 worker\(s\): 2 -> 3/, mark);
    const added = await run.log(/generation [0-9]+ \(worker 2, pid ([0-9]+)\) is ready after/, mark);
    const start = await run.event({ event: 'start', pid: Number(added[1]) });
    expect(start.env).toMatchObject({ HANDOVER_WORKER_ID: '2', HANDOVER_WORKERS: '3' });
    mark = run.logs.length;
    run.signal('SIGTTOU');
    await run.log(/removing 1 worker\(s\): 3 -> 2/, mark);
    await run.event({ event: 'draining', pid: Number(added[1]) });
    await run.log(new RegExp(`generation [0-9]+ \\(worker 2, pid ${added[1]}\\) exited \\(exit code 0\\)`), mark);
    expect((await get(port)).status).toBe(200);
    mark = run.logs.length;
    run.signal('SIGTTOU');
    await run.log(/removing 1 worker\(s\): 2 -> 1/, mark);
    run.signal('SIGTTOU');
    await run.log(/SIGTTOU: ignored: one worker is the fewest/, mark);
    expect((await get(port)).status).toBe(200);
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM drains every worker at once and exits with their status', async () => {
    const run = workers(3);
    await servingWorkers(run, 3);
    const mark = run.logs.length;
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    const draining = run.events.filter((e: AppEvent) => e.event === 'draining');
    expect(draining).toHaveLength(3);
    expect(run.logs.slice(mark).filter((line) => /is stopping \(STOPPING=1\)/.test(line))).toHaveLength(3);
  });

  it('as PID 1 of a new pid namespace (a container), with workers: serves, reloads, exits on SIGTERM', async () => {
    const run = workers(2, [], 'graceful', { command: 'unshare', prefix: ['--pid', '--fork', '--mount-proc', '--kill-child'] });
    await run.log(/^handover\[1\]: generation [0-9]+ \(worker 1, pid [0-9]+\) is ready after/);
    await run.log(/^handover\[1\]: generation [0-9]+ \(worker 0, pid [0-9]+\) is ready after/);
    const port = await run.port();
    expect((await get(port)).status).toBe(200);
    await expect.poll(() => childPids(run.pid).length, { timeout: 10_000 }).toBe(1);
    const [pid1] = childPids(run.pid);
    const mark = run.logs.length;
    process.kill(pid1, 'SIGHUP');
    await run.log(/^handover\[1\]: reloaded all 2 workers in [0-9]+ ms/, mark);
    process.kill(pid1, 'SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });
});

function childPids(parent: number): number[] {
  return allProcesses()
    .filter((p) => p.ppid === parent)
    .map((p) => p.pid);
}
