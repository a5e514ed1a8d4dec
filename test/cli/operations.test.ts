// The operations face (issue 18): the control socket and the commands that
// use it (reload that waits, status, stop), JSON logs, Prometheus metrics,
// health probes, config and pm2 ecosystem files, and what systemd is told
// around a reload. Real supervisors, real generations, real sockets.
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NotifyListener, type NotifyMessage } from '../../lib/protocol';
import { removeTempDirs, tempDir } from '../helpers/children';
import { freePort } from '../helpers/net';
import { APP, BIN, cleanupSupervisors, get, SupervisorRun } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

/** Runs `node bin/handover.js args` to completion. */
function handover(args: string[], env: NodeJS.ProcessEnv = process.env, command: string[] = [process.execPath, BIN]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(command[0], [...command.slice(1), ...args], { timeout: 60_000, env }, (err, stdout, stderr) => {
      resolveRun({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** A supervisor with a pid file (so its control socket is FILE.control/control.sock) and a mode file for its next generations. */
function supervised(args: string[] = [], mode = 'graceful', env: Record<string, string> = {}) {
  const dir = tempDir('handover-ops-');
  const pidFile = join(dir, 'app.pid');
  const modeFile = join(dir, 'mode');
  writeFileSync(modeFile, mode);
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--pid-file', pidFile, ...args, '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: modeFile, ...env } });
  return { run, pidFile, dir, setMode: (next: string) => writeFileSync(modeFile, next) };
}

async function status(pidFile: string): Promise<Record<string, any>> {
  const out = await handover(['status', '--pid-file', pidFile, '--json']);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout);
}

describe('handover reload waits for the outcome', () => {
  it('exit 0 once the new generation serves; exit 1 with the reason when it exits at start, is never ready, or dies in probation', async () => {
    const s = supervised(['--ready-timeout', '2s', '--probation', '1s']);
    await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    const ok = await handover(['reload', '--pid-file', s.pidFile]);
    expect(ok).toMatchObject({ code: 0, stderr: expect.stringMatching(/^handover: reloaded: generation 2 \(pid [0-9]+\) serves\n$/) });

    s.setMode('exit-before-ready');
    expect(await handover(['reload', '--pid-file', s.pidFile])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^handover: reload failed: generation 3 \(pid [0-9]+\) exited before it was ready: exit code 3\n$/),
    });
    s.setMode('never-ready');
    expect(await handover(['reload', '--pid-file', s.pidFile])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^handover: reload failed: generation 4 \(pid [0-9]+\) was not ready within 2000 ms; it was killed\n$/),
    });
    s.setMode('die-after-ready:200');
    expect(await handover(['reload', '--pid-file', s.pidFile])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^handover: reload failed: generation 5 \(pid [0-9]+\) exited during its probation: exit code 4; rolled back\n$/),
    });
    // The first successor serves throughout.
    const after = await status(s.pidFile);
    expect(after.workers[0].serving).toMatchObject({ generation: 2, state: 'serving' });
    expect(after.lastReload).toMatchObject({ result: 'failure', reason: expect.stringMatching(/exited during its probation/) });
  });

  it('--no-wait returns at once, while the reload goes on; --timeout gives up waiting with exit 1', async () => {
    const s = supervised(['--probation', '2s']);
    await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    expect(await handover(['reload', '--pid-file', s.pidFile, '--no-wait'])).toMatchObject({ code: 0, stderr: 'handover: reload started\n' });
    expect(s.run.logsMatching(/reloaded: generation 2/)).toEqual([]); // returned with the new generation still in its probation
    await expect.poll(async () => (await status(s.pidFile)).supervisor.state, { timeout: 10_000 }).toBe('reloading');
    await s.run.log(/reloaded: generation 2/);
    const timedOut = await handover(['reload', '--pid-file', s.pidFile, '--timeout', '300ms']);
    expect(timedOut).toMatchObject({ code: 1, stderr: 'handover: reload: no outcome within 300 ms; it goes on (handover status shows it)\n' });
    await s.run.log(/reloaded: generation 3/);
  });

  it('without a control socket: falls back to SIGHUP, and says so', async () => {
    const s = supervised(['--control', 'none']);
    await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    expect(await handover(['reload', '--pid-file', s.pidFile])).toEqual({
      code: 0,
      stdout: '',
      stderr: `handover: no control socket at ${s.pidFile}.control/control.sock: sent SIGHUP to ${s.run.pid}; the outcome is in the supervisor's log\n`,
    });
    await s.run.log(/reloaded: generation 2/);
  });
});

/** A control-socket client in one line of node: sends `status`, prints the reply, or the connect error's code. */
const PEER_CLIENT = [
  "const s = require('node:net').connect(process.argv[1]); let out = '';",
  "s.on('connect', () => s.write(JSON.stringify({ id: 1, command: 'status' }) + '\\n'));",
  "s.on('data', (d) => { out += d; }); s.on('close', () => process.stdout.write(out));",
  "s.on('error', (e) => { process.stderr.write(e.code + '\\n'); process.exitCode = 1; });",
].join(' ');

describe('handover status', () => {
  it('JSON and text for a running, a reloading and a rolled-back supervisor', async () => {
    const s = supervised(['--probation', '1500ms']);
    const port = await s.run.port();
    const ready = await s.run.log(/generation 1 \(pid ([0-9]+)\) is ready/);
    const running = await status(s.pidFile);
    expect(running).toMatchObject({
      schema: 1,
      supervisor: { pid: s.run.pid, version: JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).version, state: 'serving', control: `${s.pidFile}.control/control.sock` },
      release: { command: process.execPath, args: [APP], script: realpathSync(APP) },
      listeners: [{ address: `127.0.0.1:${port}`, name: 'unknown', kind: 'stream', inherited: false }],
      workers: [{ worker: 0, restarts: 0, lastExit: null, serving: { generation: 1, pid: Number(ready[1]), state: 'serving', readyMs: expect.any(Number), rssBytes: expect.any(Number) } }],
      lastReload: null,
    });
    const text = await handover(['status', '--pid-file', s.pidFile]);
    expect(text.stdout).toMatch(new RegExp(`^handover [0-9.]+, pid ${s.run.pid}, up [0-9]+s, serving\\n`));
    expect(text.stdout).toMatch(/\nWORKER +GENERATION +PID +STATE +SINCE +READY +RSS +RESTARTS +LAST EXIT\n0 +1 +[0-9]+ +serving /);

    s.run.signal('SIGHUP');
    await s.run.log(/generation 2 \(pid [0-9]+\) is ready; probation for 1500 ms/);
    const reloading = await status(s.pidFile);
    expect(reloading.supervisor.state).toBe('reloading');
    expect(reloading.generations.map((g: { generation: number; state: string }) => [g.generation, g.state])).toEqual([
      [1, 'serving'],
      [2, 'probation'],
    ]);
    await s.run.log(/reloaded: generation 2/);

    s.setMode('exit-before-ready');
    s.run.signal('SIGHUP');
    await s.run.log(/reload failed: generation 3/);
    const rolledBack = await status(s.pidFile);
    expect(rolledBack.lastReload).toMatchObject({ result: 'failure', durationMs: expect.any(Number), reason: expect.stringMatching(/^generation 3 \(pid [0-9]+\) exited before it was ready: exit code 3/) });
    expect(rolledBack.workers[0]).toMatchObject({ serving: { generation: 2 }, lastExit: { generation: 3, code: 3, reason: 'failed' } });
    expect((await handover(['status', '--pid-file', s.pidFile])).stdout).toMatch(/\nlast reload: .*, failure in [0-9]+ ms: generation 3/);
  });

  it('refuses a peer of another uid on the control socket, even when the directory lets it in', async () => {
    const s = supervised();
    await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    const control = `${s.pidFile}.control/control.sock`;
    // The peer, as uid 65534: a client of its own (node -e), which needs no
    // read access to this checkout (its directory may be closed to others).
    const nobody = (): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((done) => {
        execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', PEER_CLIENT, control], { timeout: 30_000 }, (err, stdout, stderr) =>
          done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    chmodSync(dirname(s.pidFile), 0o755);
    // The 0700 directory stops it first...
    expect(await nobody()).toMatchObject({ code: 1, stderr: 'EACCES\n' });
    // ...and with the directory opened up, the kernel's credentials do.
    chmodSync(dirname(control), 0o711);
    chmodSync(control, 0o777); // connect() needs write permission on the socket file too
    const refused = await nobody();
    expect(refused.stderr).toBe('');
    expect(refused.stdout).toMatch(/only uid 0 and root may control this supervisor/);
    expect(refused.stdout).not.toMatch(/"supervisor"/);
    await s.run.log(/control: refused a connection: pid [0-9]+ runs as uid 65534/);
    chmodSync(dirname(control), 0o700);
    expect((await handover(['status', '--control', control])).code).toBe(0);
  });
});

describe('logs, metrics, probes', () => {
  it('--log-format json: every line of handover is JSON with pino\'s fields, and the events carry theirs', async () => {
    const s = supervised(['--log-format', 'json']);
    await s.run.event({ event: 'ready' });
    s.run.signal('SIGHUP');
    await s.run.log(/"event":"exit"|reloaded: generation 2/);
    await s.run.log(/reloaded: generation 2/);
    s.run.signal('SIGTERM');
    await s.run.exit;
    const records = s.run.logs.map((line) => JSON.parse(line));
    for (const r of records) expect(r).toMatchObject({ level: expect.any(Number), time: expect.any(Number), pid: s.run.pid, hostname: expect.any(String), msg: expect.any(String) });
    expect(records.find((r) => r.event === 'spawn')).toMatchObject({ level: 30, generation: 1, worker: 0, generationPid: expect.any(Number) });
    expect(records.find((r) => r.event === 'exit')).toMatchObject({ code: 0, msg: 'exiting with code 0' });
  });

  it('--metrics: Prometheus text, parsed; counts a reload', async () => {
    const port = await freePort();
    const s = supervised(['--metrics', `127.0.0.1:${port}`]);
    await s.run.log(new RegExp(`serving /metrics on 127\\.0\\.0\\.1:${port}`));
    await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
    expect((await handover(['reload', '--pid-file', s.pidFile])).code).toBe(0);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(await res.text());
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const family = (name: string): any => families.find((f) => f.name === name);
    expect(family('handover_reloads_total')).toMatchObject({ type: 'COUNTER', metrics: [{ labels: { result: 'success' }, value: '1' }, { labels: { result: 'failure' }, value: '0' }] });
    expect(family('handover_reload_duration_seconds')).toMatchObject({ type: 'HISTOGRAM', metrics: [{ count: '1' }] });
    expect(family('handover_generations').metrics.find((m: { labels: { state: string } }) => m.labels.state === 'serving').value).toBe('1');
    expect(family('handover_workers').metrics[0].value).toBe('1');
    expect(Number(family('handover_worker_rss_bytes').metrics[0].value)).toBeGreaterThan(10 * 2 ** 20);
    expect(Number(family('handover_supervisor_start_time_seconds').metrics[0].value)).toBeCloseTo(Date.now() / 1000, -2);
    expect(family('handover_restarts_total').metrics.map((m: { labels: { reason: string } }) => m.labels.reason)).toEqual(['crash', 'failed-start', 'recycle-memory', 'recycle-lifetime']);
  });

  it('--health: /readyz fails from SIGTERM on, before the drain (--shutdown-delay); /livez answers throughout', async () => {
    const port = await freePort();
    const s = supervised(['--health', `127.0.0.1:${port}`, '--shutdown-delay', '1s']);
    await s.run.log(/generation 1 \(pid ([0-9]+)\) is ready/);
    const probe = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    expect([await probe('/livez'), await probe('/readyz')]).toEqual([200, 200]);
    s.run.signal('SIGTERM');
    await s.run.log(/SIGTERM: \/readyz fails from now on; stopping in 1000 ms/);
    expect(await probe('/readyz')).toBe(503);
    expect(await probe('/livez')).toBe(200);
    expect(s.run.events.filter((e) => e.event === 'draining')).toEqual([]); // not yet: the app still serves
    expect((await get(await s.run.port())).status).toBe(200);
    await s.run.event({ event: 'draining' });
    expect(await s.run.exit).toEqual({ code: 0, signal: null });
  });
});

describe('config files', () => {
  it('--config FILE.json: the keys of the flags, flags win; an unknown key is an error that names it', async () => {
    const dir = tempDir('handover-config-');
    const modeFile = join(dir, 'mode');
    writeFileSync(modeFile, 'graceful');
    const config = join(dir, 'handover.json');
    writeFileSync(config, JSON.stringify({ listen: ['127.0.0.1:0'], workers: 2, 'ready-timeout': '30s', command: [process.execPath, APP] }));
    const run = new SupervisorRun(['run', '--config', config, '--workers', '3'], { env: { SUPERVISED_MODE_FILE: modeFile } });
    await run.log(/generation [0-9]+ \(worker 2, pid [0-9]+\) is ready/); // --workers 3 won over the file's 2
    run.signal('SIGTERM');
    await run.exit;
    writeFileSync(config, JSON.stringify({ listen: '127.0.0.1:0', wrokers: 2, command: ['x'] }));
    const bad = await handover(['run', '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`^handover: --config ${config}: unknown key "wrokers" \\(known: listen, pid-file, .*, workers, .*, command\\)\\n`));
  });

  it('a pm2 ecosystem file: script, instances in cluster mode, env, max_memory_restart; a warning for each field it ignores; --app picks one', async () => {
    const dir = tempDir('handover-pm2-');
    const modeFile = join(dir, 'mode');
    writeFileSync(modeFile, 'graceful');
    const ecosystem = join(dir, 'ecosystem.config.js');
    writeFileSync(
      ecosystem,
      `module.exports = { apps: [
        { name: 'web', script: ${JSON.stringify(APP)}, exec_mode: 'cluster', instances: 2, max_memory_restart: '300M', kill_timeout: 5000, watch: true, env: { SUPERVISED_MODE_FILE: ${JSON.stringify(modeFile)} } },
        { name: 'worker', script: 'worker.js' },
      ] };\n`,
    );
    const several = await handover(['run', '--config', ecosystem]);
    expect(several).toMatchObject({ code: 2, stderr: expect.stringMatching(/has 2 apps \(web, worker\): pick one with --app NAME/) });
    const run = new SupervisorRun(['run', '--config', ecosystem, '--app', 'web', '--listen', '127.0.0.1:0']);
    await run.log(/generation [0-9]+ \(worker 1, pid [0-9]+\) is ready/);
    expect(run.logs).toContainEqual('handover: config: ignoring pm2 field "watch": handover reloads on SIGHUP or handover reload, not on file changes');
    const start = run.events.find((e) => e.event === 'start')!;
    expect(start.env).toMatchObject({ HANDOVER_WORKERS: '2', NODE_APP_INSTANCE: expect.stringMatching(/^[01]$/) });
    run.signal('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  });
});

describe('systemd around a reload', () => {
  /** A fake systemd: the supervisor's NOTIFY_SOCKET, every message kept. */
  function systemd(dir: string): { path: string; fields(): Record<string, string>[]; close(): void } {
    const path = join(dir, 'notify.sock');
    const listener = new NotifyListener(path);
    const messages: NotifyMessage[] = [];
    listener.on('message', (m: NotifyMessage) => messages.push(m));
    return { path, fields: () => messages.map((m) => Object.fromEntries(m.fields)), close: () => listener.close() };
  }
  const kinds = (fields: Record<string, string>[]) => fields.map((f) => (f.RELOADING ? 'RELOADING' : f.STOPPING ? 'STOPPING' : f.READY ? 'READY' : 'STATUS'));

  it('every RELOADING=1 ends with READY=1: after a success, a rollback, and a reload cut short by SIGTERM', async () => {
    const dir = tempDir('handover-systemd-');
    const fake = systemd(dir);
    try {
      const s = supervised(['--probation', '2s'], 'graceful', { NOTIFY_SOCKET: fake.path });
      await s.run.log(/generation 1 \(pid [0-9]+\) is ready/);
      expect((await handover(['reload', '--pid-file', s.pidFile])).code).toBe(0);
      s.setMode('exit-before-ready');
      expect((await handover(['reload', '--pid-file', s.pidFile])).code).toBe(1);
      s.setMode('graceful');
      const mark = s.run.logs.length;
      s.run.signal('SIGHUP');
      await s.run.log(/probation for 2000 ms/, mark);
      s.run.signal('SIGTERM');
      await s.run.exit;
      await expect.poll(() => kinds(fake.fields()).length, { timeout: 5000 }).toBeGreaterThanOrEqual(8);
      expect(kinds(fake.fields())).toEqual(['READY', 'RELOADING', 'READY', 'RELOADING', 'READY', 'RELOADING', 'STOPPING', 'READY']);
      const f = fake.fields();
      expect(f[4].STATUS).toMatch(/^reload failed: generation 3/);
      expect(f[7].STATUS).toMatch(/^reload failed: stopped/);
    } finally {
      fake.close();
    }
  });
});
