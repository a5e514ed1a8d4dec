// systemd's fd store (issue 19, point 1): the supervisor stores the
// listeners it binds (FDSTORE=1, the fd as SCM_RIGHTS), so that they — and
// the connections queued on them — survive its own SIGKILL: the restarted
// supervisor gets them back as LISTEN_FDS and adopts them. systemd is
// test/fixtures/fake-systemd.py: a real notify socket that receives the fds
// and restarts the service with them, as systemd does.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../helpers/children';
import { LoadClient } from '../helpers/load-client';
import { freePort } from '../helpers/net';
import { APP, BIN, cleanupSupervisors, modeFile, SupervisorRun } from '../helpers/supervisor';

const FAKE_SYSTEMD = join(__dirname, '..', 'fixtures', 'fake-systemd.py');

afterEach(async () => {
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

/** fake systemd, starting `handover run` up to `starts` times; the run's events hold both its lines and the app's. */
async function underFakeSystemd(starts: number, args: string[] = []): Promise<{ run: SupervisorRun; port: number; dir: string }> {
  const dir = tempDir('handover-fdstore-');
  const port = await freePort();
  const mode = modeFile('graceful');
  const handover = [process.execPath, BIN, 'run', '--listen', `127.0.0.1:${port}`, '--pid-file', join(dir, 'handover.pid'), ...args, '--', process.execPath, APP];
  const run = new SupervisorRun([FAKE_SYSTEMD, join(dir, 'notify.sock'), String(starts), '--', ...handover], { command: 'python3', env: { SUPERVISED_MODE_FILE: mode.path } });
  return { run, port, dir };
}

describe("systemd's fd store", () => {
  it('the listening socket and its queued connections survive a SIGKILL of the supervisor: no refused connection under load', async () => {
    const { run, port } = await underFakeSystemd(2);
    const first = await run.event({ event: 'started', listenFds: 0 });
    const stored = await run.event({ event: 'message', pid: first.pid, fields: { FDSTORE: '1', FDNAME: 'unknown', FDPOLL: '0' } });
    expect(stored).toMatchObject({ fds: 1, stored: 1 });
    await run.log(new RegExp(`^handover\\[${first.pid}\\]: stored 127\\.0\\.0\\.1:${port} \\(unknown\\) in systemd's fd store`));
    const m = await run.log(new RegExp(`^handover\\[${first.pid}\\]: generation 1 \\(pid ([0-9]+)\\) is ready`));
    const oldApp = Number(m[1]);

    const load = new LoadClient({ port, connections: 16 }).start();
    await expect.poll(() => load.served(`${oldApp}\n`), { timeout: 10_000 }).toBeGreaterThan(100);
    process.kill(first.pid, 'SIGKILL');
    await run.event({ event: 'exited', pid: first.pid, signal: 9 });
    // systemd's restart: the stored socket comes back as fd 3.
    const second = await run.event({ event: 'started', listenFds: 1, names: ['unknown'] });
    await run.log(new RegExp(`^handover\\[${second.pid}\\]: adopted 127\\.0\\.0\\.1:${port} \\(fd 3, unknown\\)|^handover\\[${second.pid}\\]: 127\\.0\\.0\\.1:${port} was passed with LISTEN_FDS`));
    const n = await run.log(new RegExp(`^handover\\[${second.pid}\\]: generation 1 \\(pid ([0-9]+)\\) is ready`));
    const newApp = Number(n[1]);
    await expect.poll(() => load.served(`${newApp}\n`), { timeout: 10_000 }).toBeGreaterThan(100);
    const stats = await load.stop();
    expect(stats.errors, `${JSON.stringify(stats)}\n${run.transcript()}`).toEqual({ connect: 0, read: 0, reset: 0, status: 0, timeout: 0, parse: 0 });
    // Not stored twice: what systemd passed back is already in its store.
    expect(run.events.filter((e) => e.event === 'message' && e.fields.FDSTORE === '1')).toHaveLength(1);

    process.kill(second.pid, 'SIGTERM');
    await run.event({ event: 'done' });
    // A plain stop leaves the store to systemd (kept for a restart, flushed at a real stop).
    expect(run.events.filter((e) => e.event === 'message' && e.fields.FDSTOREREMOVE === '1')).toEqual([]);
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });

  it('handover stop --final empties the store (FDSTOREREMOVE=1) before the supervisor exits; --fd-store no stores nothing', async () => {
    const { run, dir } = await underFakeSystemd(1);
    const started = await run.event({ event: 'started' });
    await run.event({ event: 'message', pid: started.pid, fields: { FDSTORE: '1' } });
    await run.log(/generation 1 \(pid [0-9]+\) is ready/);
    const stop = new SupervisorRun(['stop', '--final', '--pid-file', join(dir, 'handover.pid')]);
    expect(await stop.exit).toEqual({ code: 0, signal: null });
    expect(await run.event({ event: 'message', pid: started.pid, fields: { FDSTOREREMOVE: '1', FDNAME: 'unknown' } })).toMatchObject({ stored: 0 });
    expect(await run.event({ event: 'done' })).toMatchObject({ stored: 0 });

    const off = await underFakeSystemd(1, ['--fd-store', 'no']);
    const offStarted = await off.run.event({ event: 'started' });
    await off.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    await off.run.event({ event: 'message', pid: offStarted.pid, fields: { READY: '1' } });
    expect(off.run.events.filter((e) => e.event === 'message' && e.fields.FDSTORE !== undefined)).toEqual([]);
  });
});
