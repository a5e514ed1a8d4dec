// `handover upgrade-self` (issue 19, point 2): the supervisor re-executes
// itself in place — a new handover installed where the old one was —
// keeping its pid, its listeners and its workers, which serve throughout.
// The install is a copy of this package in a temporary directory, so that
// the test can "upgrade" it (a new version in its package.json) or break it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkState, STATE_SCHEMA } from '../../lib/supervisor/image-state';
import { removeTempDirs, tempDir } from '../helpers/children';
import { LoadClient } from '../helpers/load-client';
import { APP, BIN, cleanupSupervisors, modeFile, SupervisorRun } from '../helpers/supervisor';
import { procStat } from '../helpers/proc';

const ROOT = resolve(__dirname, '..', '..');

afterEach(async () => {
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

/** A copy of this package (bin, dist, the built addon, package.json) with its dependencies linked. */
function install(): string {
  const dir = join(tempDir('handover-install-'), 'handover');
  mkdirSync(join(dir, 'build'), { recursive: true });
  for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  cpSync(join(ROOT, 'build', 'Release'), join(dir, 'build', 'Release'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function setVersion(dir: string, version: string): void {
  const path = join(dir, 'package.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), version }, null, 2));
}

function handover(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

async function status(pidFile: string): Promise<{ supervisor: { pid: number; version: string; execs: number }; workers: { serving: { pid: number; generation: number } | null }[] }> {
  const answer = await handover(['status', '--json', '--pid-file', pidFile]);
  expect(answer.code, answer.stderr).toBe(0);
  return JSON.parse(answer.stdout);
}

function supervised(dir: string): { run: SupervisorRun; pidFile: string; mode: { set(mode: string): void } } {
  const pidFile = join(tempDir('handover-upgrade-self-'), 'handover.pid');
  const mode = modeFile('graceful');
  const run = new SupervisorRun([join(dir, 'bin', 'handover.js'), 'run', '--workers', '2', '--listen', '127.0.0.1:0', '--pid-file', pidFile, '--', process.execPath, APP], {
    command: process.execPath,
    env: { SUPERVISED_MODE_FILE: mode.path },
  });
  return { run, pidFile, mode };
}

describe('handover upgrade-self', () => {
  it('re-executes the supervisor with the new install under keep-alive load: same pid, same workers, no error, the new version in status', async () => {
    const dir = install();
    const { run, pidFile } = supervised(dir);
    const port = await run.port();
    await run.log(/generation 2 \(worker 1, pid [0-9]+\) is ready/);
    await run.log(/generation 1 \(worker 0, pid [0-9]+\) is ready/);
    const before = await status(pidFile);
    const workers = before.workers.map((w) => w.serving!.pid).sort();
    expect(before.supervisor).toMatchObject({ pid: run.pid, execs: 0 });

    const load = new LoadClient({ port, connections: 16 }).start();
    await expect.poll(() => load.stats.ok, { timeout: 10_000 }).toBeGreaterThan(200);
    setVersion(dir, '9.9.9-upgraded'); // `npm install handover@next`, in effect
    const upgraded = await handover(['upgrade-self', '--pid-file', pidFile]);
    expect(upgraded, upgraded.stderr).toMatchObject({ code: 0, stderr: `handover: upgraded in place: handover ${before.supervisor.version} -> 9.9.9-upgraded (pid ${run.pid}, exec 1)\n` });
    await run.log(new RegExp(`^handover\\[${run.pid}\\]: re-executed in place: handover ${before.supervisor.version.replace(/\./g, '\\.')} -> 9\\.9\\.9-upgraded \\(exec 1\\); took over 1 listener\\(s\\) and generation 1`));
    const served = load.stats.ok;
    await expect.poll(() => load.stats.ok, { timeout: 10_000 }).toBeGreaterThan(served + 200);
    const stats = await load.stop();
    expect(stats.errors, JSON.stringify(stats)).toEqual({ connect: 0, read: 0, reset: 0, status: 0, timeout: 0, parse: 0 });
    // Both workers answered all along, and they are the same processes, still the supervisor's children.
    expect(Object.keys(stats.byBody).map((b) => Number(b)).sort()).toEqual(workers);
    const after = await status(pidFile);
    expect(after.supervisor).toMatchObject({ pid: run.pid, version: '9.9.9-upgraded', execs: 1 });
    expect(after.workers.map((w) => w.serving!.pid).sort()).toEqual(workers);
    for (const pid of workers) expect(procStat(pid)?.ppid).toBe(run.pid);

    // The new image supervises: a reload replaces both workers, a stop ends it all.
    const reload = await handover(['reload', '--pid-file', pidFile]);
    expect(reload, reload.stderr).toMatchObject({ code: 0 });
    const reloaded = await status(pidFile);
    expect(reloaded.workers.map((w) => w.serving!.generation).sort()).toEqual([3, 4]);
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(run.logsMatching(/exited \(exit code 0\)/)).toHaveLength(4);
  });

  it('a new install that cannot read the state fails its pre-flight: exit 1 with the reason, the running supervisor unchanged', async () => {
    const dir = install();
    const { run, pidFile } = supervised(dir);
    const port = await run.port();
    await run.log(/generation 2 \(worker 1, pid [0-9]+\) is ready/);
    await run.log(/generation 1 \(worker 0, pid [0-9]+\) is ready/);
    const before = await status(pidFile);
    // The supervisor layer as Node finds it (its bundle, dist/supervisor.js, else dist/supervisor/index.js).
    const layer = existsSync(join(dir, 'dist', 'supervisor.js')) ? join(dir, 'dist', 'supervisor.js') : join(dir, 'dist', 'supervisor', 'index.js');
    writeFileSync(layer, 'throw new Error("a broken install");\n');
    const failed = await handover(['upgrade-self', '--pid-file', pidFile]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^handover: upgrade-self failed: the new image failed its pre-flight \(.*\): exit code 1: .*a broken install.*; this supervisor goes on unchanged\n$/s);
    const after = await status(pidFile);
    expect(after.supervisor).toMatchObject({ pid: run.pid, version: before.supervisor.version, execs: 0 });
    expect(after.workers.map((w) => w.serving)).toEqual(before.workers.map((w) => expect.objectContaining({ pid: w.serving!.pid, generation: w.serving!.generation })));
    expect(run.logsMatching(/re-execut/)).toEqual([]);
    const load = new LoadClient({ port, connections: 4 }).start();
    await expect.poll(() => load.stats.ok, { timeout: 10_000 }).toBeGreaterThan(50);
    expect((await load.stop()).errors).toEqual({ connect: 0, read: 0, reset: 0, status: 0, timeout: 0, parse: 0 });
  });

  it('is refused while a reload runs, and a state of a newer schema is refused by name', async () => {
    const dir = install();
    const { run, pidFile, mode } = supervised(dir);
    await run.log(/generation 1 \(worker 0, pid [0-9]+\) is ready/);
    await run.log(/generation 2 \(worker 1, pid [0-9]+\) is ready/);
    mode.set('slow-ready:2000');
    run.signal('SIGHUP');
    await run.log(/generation 3 \(worker 0\) started/);
    const refused = await handover(['upgrade-self', '--pid-file', pidFile]);
    expect(refused).toMatchObject({ code: 1, stderr: 'handover: upgrade-self failed: a reload, restart or scale step runs: try again once it is over\n' });
    expect(() => checkState({ schema: STATE_SCHEMA + 1, version: '99.0.0' })).toThrow(`has schema ${STATE_SCHEMA + 1}, written by handover 99.0.0: this release reads schema ${STATE_SCHEMA} and older`);
  });
});
