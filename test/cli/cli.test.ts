// The `handover` command (issue 5): argument parsing, --help, and the reload
// and stop commands against a real supervisor.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatDuration, helpText, parseCommandLine, parseDuration, parseRun, UsageError } from '../../lib/cli';
import { pm2Instances } from '../../lib/cli/pm2';

/** `handover run ARGV` as the supervisor's options, with the command line's shape around them. */
const runLine = (argv: string[]) => ({ command: 'run', options: parseRun(argv.slice(1)) });
import { DEFAULT_READY_TIMEOUT, DEFAULT_RESTART_BACKOFF_MAX, DEFAULT_SUPERVISOR_DRAIN_TIMEOUT } from '../../lib/supervisor/supervisor';
import { removeTempDirs, tempDir } from '../helpers/children';
import { freePort } from '../helpers/net';
import { APP, BIN, cleanupSupervisors, get, SupervisorRun } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
});

afterAll(() => removeTempDirs());

/** The pid of a process that has exited and been reaped (not reused this soon: pids are handed out in increasing order). */
async function exitedPid(): Promise<number> {
  const child = execFile(process.execPath, ['-e', '']);
  await new Promise((done) => child.once('exit', done));
  return child.pid!;
}

/** Runs `node bin/handover.js args` to completion. */
function handover(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolveRun({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('parseCommandLine', () => {
  it('reads every option of run, in both --name value and --name=value forms', () => {
    const parsed = runLine([
      'run', '--listen', '8080', '-l', 'admin=127.0.0.1:9000', '--listen=[::1]:8443', '--listen', 'unix:/run/app.sock', '--listen', 'udp:0.0.0.0:5353',
      '--pid-file', 'app.pid', '--ready-timeout', '90s', '--drain-timeout=2m', '--probation', '1.5', '--restart-backoff', '250ms',
      '--restart-backoff-max', '1m', '--restart', 'always', '--ready', 'exec', '--no-inherit', '--', 'node', 'server.js', '--port', '1',
    ]);
    expect(parsed).toEqual({
      command: 'run',
      options: {
        command: 'node',
        args: ['server.js', '--port', '1'],
        listen: [
          { kind: 'tcp', port: 8080, host: undefined, name: undefined },
          { kind: 'tcp', port: 9000, host: '127.0.0.1', name: 'admin' },
          { kind: 'tcp', port: 8443, host: '::1', name: undefined },
          { kind: 'unix', path: '/run/app.sock', name: undefined },
          { kind: 'udp', type: 'udp4', port: 5353, host: '0.0.0.0', name: undefined },
        ],
        pidFile: 'app.pid',
        readyTimeout: 90_000,
        drainTimeout: 120_000,
        probation: 1500,
        restartBackoff: 250,
        restartBackoffMax: 60_000,
        restart: 'always',
        ready: 'exec',
        inherit: false,
      },
    });
  });

  it('reads the workers options: a count or auto, sizes with units, durations', () => {
    expect(runLine(['run', '-w', '4', '--reload-parallel', '2', '--max-memory', '512M', '--max-lifetime', '6h', '--', 'node', 'app.js'])).toMatchObject({
      options: { workers: 4, reloadParallel: 2, maxMemory: 512 * 2 ** 20, maxLifetime: 6 * 3_600_000 },
    });
    expect(runLine(['run', '--workers', 'auto', '--max-memory', '1.5GiB', '--', 'x'])).toMatchObject({ options: { workers: 'auto', maxMemory: 1.5 * 2 ** 30 } });
    expect(runLine(['run', '--max-memory', '1048576', '--', 'x'])).toMatchObject({ options: { maxMemory: 2 ** 20 } });
  });

  it("counts a pm2 ecosystem file's instances as pm2 does: max or 0 one per CPU, -N N fewer (at least 1), numeric strings", () => {
    expect(['max', 0, '0', 4, '4', -1, '-1', -3, -8].map((n) => pm2Instances(n, 4))).toEqual(['auto', 'auto', 'auto', 4, 4, 3, 3, 1, 1]);
    for (const bad of [1.5, 'many', '', null, true, NaN]) expect(pm2Instances(bad, 4)).toBeUndefined();
  });

  it('takes the command without "--" too, and leaves its options alone', () => {
    expect(runLine(['run', '-l', '80', 'python3', '-u', 'app.py'])).toMatchObject({ options: { command: 'python3', args: ['-u', 'app.py'] } });
  });

  it('parses durations: units, and bare numbers as seconds', () => {
    expect([parseDuration('x', '0'), parseDuration('x', '2'), parseDuration('x', '500ms'), parseDuration('x', '1.5s'), parseDuration('x', '3m'), parseDuration('x', '1h')]).toEqual([
      0, 2000, 500, 1500, 180_000, 3_600_000,
    ]);
  });

  it.each([
    [[], /no command given/],
    [['start'], /unknown command "start"/],
    [['run', '--', ], /run needs a command/],
    [['run', '--listen'], /--listen needs a value/],
    [['run', '--listen', 'nowhere', '--', 'x'], /--listen nowhere: the address must end with a port number \(8080, 127\.0\.0\.1:8080/],
    [['run', '--listen', '70000', '--', 'x'], /--listen 70000: the address has port 70000, but a port is a number from 0 to 65535/],
    [['run', '--listen', '99999', '--', 'x'], /^--listen 99999: the address has port 99999, but a port is a number from 0 to 65535$/],
    [['run', '--listen', 'unix:', '--', 'x'], /^--listen unix:: the address needs a path after "unix:" \(unix:\/run\/app.sock, or unix:@name/],
    [['run', '--listen', '::1:8080', '--', 'x'], /^--listen ::1:8080: the address is ambiguous: write an IPv6 address in brackets, as in \[::1\]:8080$/],
    [['run', '--listen', 'a:b=8080', '--', 'x'], /^--listen a:b=8080: the address must end with a port number/],
    [['run', '--listen', 'web server=8080', '--', 'x'], /^--listen web server=8080: the name must be 1 to 255 printable ASCII characters/],
    [['reload', '--pid', '99999999999999999999'], /^--pid 99999999999999999999 is not a process id: pids on this system go up to [0-9]+$/],
    [['run', '--ready-timeout', 'soon', '--', 'x'], /--ready-timeout: not a duration: "soon"/],
    [['run', '--ready-timeout', '0', '--', 'x'], /--ready-timeout must be more than 0/],
    [['run', '--restart', 'sometimes', '--', 'x'], /--restart must be on-failure, always or never/],
    [['run', '--restart-backoff', '10s', '--restart-backoff-max', '1s', '--', 'x'], /--restart-backoff-max must not be below --restart-backoff/],
    [['run', '--frobnicate', '--', 'x'], /unknown option --frobnicate for run/],
    [['run', '--no-inherit=yes', '--', 'x'], /--no-inherit takes no value/],
    [['run', '--workers', '0', '--', 'x'], /^--workers must be a number of workers from 1 to 1024, or auto, not "0"$/],
    [['run', '--workers', 'many', '--', 'x'], /--workers must be a number of workers/],
    [['run', '--reload-parallel', '0', '--', 'x'], /^--reload-parallel must be a number from 1 to 1024, not "0"$/],
    [['run', '--max-memory', 'lots', '--', 'x'], /^--max-memory: not a size: "lots" \(use e\.g\. 512M, 1G or a number of bytes\)$/],
    [['run', '--max-lifetime', '0', '--', 'x'], /^--max-lifetime must be more than 0$/],
    [['reload'], /reload needs --pid-file FILE, --pid PID or --control PATH/],
    [['status', '--pid', '1', '--pid-file', 'x'], /status takes --pid-file FILE or --pid PID, not both/],
    [['scale', '--pid', '1'], /scale needs --workers N/],
    [['run', '--log-format', 'xml', '--', 'x'], /--log-format must be text or json, not "xml"/],
    [['run', '--metrics', 'unix:/x', '--', 'x'], /--metrics unix:\/x: must be a TCP address/],
    [['run', '--app', 'web', '--', 'x'], /--app names an app of a --config file/],
    [['stop', '--pid', 'abc'], /--pid must be a process id/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv as string[])).toThrow(UsageError);
    expect(() => parseCommandLine(argv as string[])).toThrow(message);
  });
});

describe('handover --help', () => {
  it('documents every option, with the defaults and examples', async () => {
    const { code, stdout } = await handover(['--help']);
    expect(code).toBe(0);
    expect(stdout).toBe(helpText());
    for (const option of ['--listen', '--pid-file', '--ready-timeout', '--drain-timeout', '--probation', '--restart-backoff', '--restart-backoff-max', '--restart', '--ready', '--no-inherit']) {
      expect(stdout).toContain(`${option} `);
    }
    for (const form of ['8080', '127.0.0.1:8080', '[::1]:8080', 'unix:/', 'udp:', 'NAME=ADDR']) expect(stdout).toContain(form);
    expect(stdout).toContain(`(default ${formatDuration(DEFAULT_READY_TIMEOUT)})`);
    expect(stdout).toContain(`(default ${formatDuration(DEFAULT_SUPERVISOR_DRAIN_TIMEOUT)})`);
    expect(stdout).toContain(`(default ${formatDuration(DEFAULT_RESTART_BACKOFF_MAX)})`);
    expect(formatDuration(DEFAULT_READY_TIMEOUT)).toBe('1m');
    expect(stdout).toMatch(/Examples:\n {2}handover run --listen 8080 -- node server.js\n/);
  });

  it('exits 2 with a pointer to --help on a mistake', async () => {
    const { code, stderr } = await handover(['run', '--listen', 'nowhere', '--', 'node']);
    expect(code).toBe(2);
    expect(stderr).toBe("handover: --listen nowhere: the address must end with a port number (8080, 127.0.0.1:8080, [::1]:8080, unix:/path)\nTry 'handover --help'.\n");
  });

  it('prints the version of the package', async () => {
    const { code, stdout } = await handover(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).version);
  });
});

describe('handover reload / stop', () => {
  it('signal the supervisor named by the pid file, which removes it on exit', async () => {
    const dir = tempDir('handover-cli-');
    const pidFile = join(dir, 'app.pid');
    const mode = join(dir, 'mode');
    writeFileSync(mode, 'graceful');
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--pid-file', pidFile, '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: mode } });
    const port = await run.port();
    await run.log(/generation 1 \(pid [0-9]+\) is ready/);
    expect(readFileSync(pidFile, 'utf8')).toBe(`${run.pid}\n`);

    // Over the control socket beside the pid file: it returns once the new generation serves.
    const reloaded = await handover(['reload', '--pid-file', pidFile]);
    const m = /^handover: reloaded: generation 2 \(pid ([0-9]+)\) serves\n$/.exec(reloaded.stderr);
    expect(reloaded.code, reloaded.stderr).toBe(0);
    expect(m).not.toBeNull();
    expect((await get(port)).pid).toBe(Number(m![1]));
    await run.log(/generation 1 \(pid [0-9]+\) exited/);

    expect(await handover(['stop', '--pid-file', pidFile])).toEqual({ code: 0, stdout: '', stderr: 'handover: stopped: the supervisor exited with code 0\n' });
    expect(await run.exit).toEqual({ code: 0, signal: null });
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(`${pidFile}.control`)).toBe(false);
  });

  it('fails with exit code 1 when the pid file is missing, and says what it is for', async () => {
    const pidFile = join(tempDir('handover-cli-'), 'none.pid');
    const { code, stderr } = await handover(['reload', '--pid-file', pidFile]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `handover: reload: no control socket at ${pidFile}.control/control.sock; cannot read the pid file: ENOENT: no such file or directory, open '${pidFile}' (is the supervisor running, started with --pid-file ${pidFile}? It removes the file when it exits)\n`,
    );
  });

  it('say that no process has the pid (exit code 1), given --pid or a stale pid file', async () => {
    const pid = await exitedPid();
    expect(await handover(['reload', '--pid', String(pid)])).toEqual({
      code: 1,
      stdout: '',
      stderr: `handover: reload: no process has pid ${pid}: is the supervisor running? (its pid is in the file given to handover run --pid-file)\n`,
    });
    const pidFile = join(tempDir('handover-cli-'), 'stale.pid');
    writeFileSync(pidFile, `${pid}\n`);
    expect(await handover(['stop', '--pid-file', pidFile])).toEqual({
      code: 1,
      stdout: '',
      stderr: `handover: stop: no process has pid ${pid}, which ${pidFile} names: the supervisor is not running and the file is stale (it was killed, or the file is not its)\n`,
    });
  });
});

describe('an app that does not speak the protocol', () => {
  const hint =
    "The app must send READY=1 to $NOTIFY_SOCKET once it serves: a Node app does with handover's listenAndServe or GracefulServer, other programs with sd_notify or systemd-notify --ready; an app that cannot notify can run with --ready exec";
  /** A server that binds 127.0.0.1:PORT itself and never notifies, as a newcomer's first app would. */
  const ownServer = (port: number) => ['-e', `require('node:http').createServer((q, s) => s.end('x')).listen(${port}, '127.0.0.1')`];

  it('never saying READY=1: a notice after 10 s, then killed at --ready-timeout with the same hint; exit code 1', async () => {
    const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--ready-timeout', '25s', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    const notice = await run.log(/generation 1 \(pid [0-9]+\) has not said READY=1 after 10 s \(killed after 25 s\)\. (.*)$/, 0, 15_000);
    expect(notice[1]).toBe(hint);
    run.signal('SIGTERM');
    await run.exit;
    const timeout = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--ready-timeout', '1s', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    const killed = await timeout.log(/^handover\[[0-9]+\]: start failed: generation 1 \(pid [0-9]+\) was not ready within 1000 ms; it was killed\. (.*)$/);
    expect(killed[1]).toBe(hint);
    expect(await timeout.exit).toEqual({ code: 1, signal: null });
  });

  it('binding the port itself: EADDRINUSE, and the log says why and what to do; exit code 1', async () => {
    const port = await freePort();
    const run = new SupervisorRun(['run', '--listen', `127.0.0.1:${port}`, '--', process.execPath, ...ownServer(port)]);
    expect(await run.exit).toEqual({ code: 1, signal: null });
    expect(run.logs.some((line) => line.includes('EADDRINUSE'))).toBe(true); // the app's own error, on the same stderr
    expect(run.logsMatching(/start failed: generation 1 \(pid [0-9]+\) exited before it was ready: exit code 1\. If it failed with EADDRINUSE, /)).toEqual([
      expect.stringContaining(
        `If it failed with EADDRINUSE, it bound 127.0.0.1:${port} itself, which handover holds: the app must adopt the socket passed as fd 3 (LISTEN_FDS), as handover's listenAndServe and GracefulServer do`,
      ),
    ]);
  });
});
