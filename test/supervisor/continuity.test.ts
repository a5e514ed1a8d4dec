// The supervisor and an app that upgrades itself (issue 19, point 3): under
// `handover run` a GracefulServer's own upgrade signals ask the supervisor
// for the reload; a successor the app started by itself stops when the
// supervisor dies (it would hold the port the next supervisor binds); and a
// reload that meets such a successor stops it with its generation. Real
// processes, real signals; every wait is on a log line, an event or an exit.
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../helpers/children';
import { cleanupSupervisors, get, procState, readyPid, supervise } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

/** True once nothing is (or can be) listening on 127.0.0.1:port: it binds. */
function bindable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

const gone = (pid: number) => {
  const state = procState(pid);
  return state === null || state === 'Z';
};

describe('an app that upgrades itself under the supervisor', () => {
  it("a GracefulServer's SIGHUP asks the supervisor for the reload: the new generation is the supervisor's child", async () => {
    const run = supervise([], 'graceful');
    const port = await run.port();
    const first = await readyPid(run, 1);
    process.kill(first, 'SIGHUP'); // e.g. `kill -HUP` of the app's pid, or `pkill -HUP node`
    await run.event({ event: 'reload-requested', pid: first, signal: 'SIGHUP' });
    await run.log(new RegExp(`generation 1 \\(pid ${first}\\) asks for a reload \\(X_HANDOVER_RELOAD=1`));
    const second = await readyPid(run, 2);
    const start = await run.event({ event: 'start', pid: second });
    expect(start.ppid).toBe(run.pid);
    expect(start.env.HANDOVER_PARENT_PID).toBeUndefined();
    await run.log(new RegExp(`generation 1 \\(pid ${first}\\) exited \\(exit code 0\\)`));
    expect((await get(port)).pid).toBe(second);
    // SIGUSR2 to the supervisor is forwarded to the app, which asks the same.
    run.signal('SIGUSR2');
    await run.event({ event: 'reload-requested', pid: second, signal: 'SIGUSR2' });
    const third = await readyPid(run, 3);
    await run.log(new RegExp(`generation 2 \\(pid ${second}\\) exited \\(exit code 0\\)`));
    expect((await get(port)).pid).toBe(third);
  });

  it('a successor the app started itself stops when the supervisor is SIGKILLed, and frees the port for the next supervisor', async () => {
    const run = supervise([], 'graceful');
    const port = await run.port();
    const first = await readyPid(run, 1);
    expect(await get(port, '/self-upgrade')).toMatchObject({ body: 'upgraded\n', pid: first });
    const m = await run.log(new RegExp(`named pid ([0-9]+) its successor \\(MAINPID\\): following it`));
    const successor = Number(m[1]);
    expect((await get(port)).pid).toBe(successor);
    run.child.kill('SIGKILL');
    await run.exit;
    // No PDEATHSIG reaches it (its parent was generation 1's first process):
    // its own watch on the supervisor does.
    await expect.poll(() => run.events.some((e) => e.event === 'draining' && e.pid === successor), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => gone(successor), { timeout: 15_000 }).toBe(true);
    expect(await bindable(port)).toBe(true);
    const next = supervise(['--listen', `127.0.0.1:${port}`], 'graceful');
    await readyPid(next, 1);
    expect(next.logs.join('\n')).not.toMatch(/EADDRINUSE/);
  });

  it('a reload that meets a successor the app started itself stops it too: no old release serves on beside the new one', async () => {
    // drainRamp 0: once its successor is ready, generation 1's first process accepts no more.
    const run = supervise(['--probation', '0', '--drain-timeout', '60s'], 'graceful', { SUPERVISED_DRAIN_RAMP: '0' });
    const port = await run.port();
    const first = await readyPid(run, 1);
    // A request that keeps generation 1's first process draining until we let go.
    const slow = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false });
    slow.on('error', () => {});
    await run.event({ event: 'slow', pid: first });
    expect(await get(port, '/self-upgrade')).toMatchObject({ body: 'upgraded\n', pid: first });
    const named = await run.log(new RegExp(`generation 1 \\(pid ${first}\\) names pid ([0-9]+) as its main process \\(MAINPID\\)`));
    const successor = Number(named[1]);
    await run.event({ event: 'draining', pid: first });
    // Now the supervisor's reload, while pid `first` still drains and its successor serves.
    run.mode.set('slow-ready:300');
    run.signal('SIGHUP');
    const second = await readyPid(run, 2);
    // The successor was told to stop with its generation, long before --drain-timeout.
    await run.event({ event: 'draining', pid: successor });
    await expect.poll(() => gone(successor), { timeout: 15_000 }).toBe(true);
    expect(gone(first)).toBe(false); // still draining the slow request: it was not its exit that stopped the successor
    expect(run.logsMatching(/did not exit within/)).toEqual([]);
    for (let i = 0; i < 5; i++) expect((await get(port)).pid).toBe(second);
    slow.destroy();
    await run.log(new RegExp(`generation 1 \\(pid ${first}\\) exited \\(exit code 0\\)|generation 1: pid ${first} exited`));
  });
});
