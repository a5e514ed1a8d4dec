import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress, type ListenSpec, type PacketSpec } from '../protocol';
import { HandoverError } from '../core';
import { DEFAULT_PROBATION, DEFAULT_READY_TIMEOUT, DEFAULT_RESTART_BACKOFF, DEFAULT_RESTART_BACKOFF_MAX, DEFAULT_SUPERVISOR_DRAIN_TIMEOUT, type ReadyMode, type RestartPolicy, Supervisor, type SupervisorOptions } from '../supervisor';

/** Exit code of a command-line mistake (as getopt-based tools use). */
export const USAGE_EXIT_CODE = 2;

/** A mistake on the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the command line asks for. */
export type Command =
  | { command: 'run'; options: SupervisorOptions }
  | { command: 'reload' | 'stop'; pidFile?: string; pid?: number }
  | { command: 'help'; topic?: string }
  | { command: 'version' };

/** A duration as --help writes it: `1m`, `30s`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The text of `handover --help`. */
export function helpText(): string {
  return `handover: zero-downtime restarts for any server, under one PID for life.

Usage:
  handover run [options] -- COMMAND [ARGS...]
  handover reload --pid-file FILE      (or --pid PID): what SIGHUP does
  handover stop --pid-file FILE        (or --pid PID): what SIGTERM does
  handover --help | --version

handover run binds the listeners once and keeps them for its whole life. It
starts COMMAND with them as fds 3, 4, ... and systemd's socket-activation
protocol (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID = the app's own pid), plus a
NOTIFY_SOCKET of its own, and waits for the app to send READY=1 there (from
its own pid or a descendant's). Any program that adopts LISTEN_FDS and speaks
sd_notify works: Node (GracefulServer, listenAndServe), Go, Python, a shell
script with systemd-notify.

Options of run:
  -l, --listen ADDR        Bind ADDR and pass it to every generation (repeat for
                           more; fd order = option order). ADDR is one of
                             8080  127.0.0.1:8080  [::1]:8080  :8080
                             unix:/run/app.sock  unix:@abstract
                             udp:0.0.0.0:5353  udp:[::]:5353
                           each optionally NAME=ADDR, NAME going to LISTEN_FDNAMES.
                           Port 0 binds a free port; the log says which.
      --pid-file FILE      Write the supervisor's pid to FILE (removed on exit).
      --ready-timeout DUR  How long a new generation has to send READY=1
                           (default ${formatDuration(DEFAULT_READY_TIMEOUT)}); then it is killed.
      --drain-timeout DUR  How long a generation told to stop may take before its
                           process group gets SIGKILL (default ${formatDuration(DEFAULT_SUPERVISOR_DRAIN_TIMEOUT)}). An app that
                           sends STOPPING=1 (GracefulServer does) drains by its
                           own rules and is not killed.
      --probation DUR      After a reload, old and new generation both serve this
                           long; if the new one dies meanwhile, the old one stays
                           (default ${formatDuration(DEFAULT_PROBATION)}).
      --restart-backoff DUR
                           First delay before restarting a crashed app; doubles
                           with each crash in a row (default ${formatDuration(DEFAULT_RESTART_BACKOFF)}).
      --restart-backoff-max DUR
                           Largest delay (default ${formatDuration(DEFAULT_RESTART_BACKOFF_MAX)}); an app that served this
                           long before crashing starts the series again.
      --restart POLICY     on-failure (default): restart after a crash (non-zero
                           exit or a signal), stop after exit code 0.
                           always: restart in both cases. never: stop.
      --ready MODE         notify (default): wait for READY=1. exec: ready as soon
                           as the command started (for apps that cannot notify;
                           a broken new version then replaces a working one).
      --no-inherit         Ignore LISTEN_FDS passed to handover itself (by default
                           sockets from systemd socket activation are adopted and
                           passed on, with their names, before --listen ones).
DUR is a number of seconds or a number with a unit: 500ms, 30s, 2m, 1h.

What it does:
  SIGHUP, handover reload   Start the next generation and wait for READY=1; keep
                            both for --probation; then SIGTERM the old one. If the
                            new one exits, times out, cannot be executed or dies
                            in probation, it is killed and the old one goes on
                            serving (logged). A reload asked for during a reload
                            runs once that one is over.
  SIGTERM, SIGINT, SIGQUIT  Forwarded to the app; handover exits when it has, with
                            its exit status (128+N for signal N). Ctrl-C in a
                            terminal reaches only handover (the app runs in its own
                            process group) and is forwarded once; again forwards
                            again; a third time kills.
  SIGUSR1, SIGUSR2          Forwarded to the serving generation.
  SIGTSTP, SIGCONT          Ctrl-Z stops the app and handover; fg continues both.
  A crash                   Restarted with exponential back-off; the listeners stay
                            open, so connections wait in the backlog meanwhile.
  Zombies                   Every orphan reparented to handover is reaped (it is
                            a child subreaper, and correct as PID 1 in a container).
  systemd                   With NOTIFY_SOCKET set (Type=notify or notify-reload),
                            handover sends READY=1 when the first generation is
                            ready, RELOADING=1 and READY=1 around each reload and
                            STOPPING=1; its PID stays the unit's MAINPID.
Every step is logged in one line to stderr.

Exit codes: the app's status; 127 or 126 when COMMAND cannot be found or executed;
1 when handover cannot start (e.g. the address is in use) or the first
generation never became ready; 2 for a mistake on the command line.

Examples:
  handover run --listen 8080 -- node server.js
  handover run --listen 127.0.0.1:8080 --listen unix:/run/app/admin.sock \\
      --pid-file /run/app.pid --probation 10s -- node dist/server.js
  handover run --listen web=[::]:443 --drain-timeout 2m -- ./my-go-server
  handover run --listen 8000 -- python3 app.py
  kill -HUP "$(cat /run/app.pid)"      # or: handover reload --pid-file /run/app.pid
`;
}

/** Parses a duration: `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Returns ms. */
export function parseDuration(option: string, text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${option}: not a duration: ${JSON.stringify(text)} (use e.g. 500ms, 30s, 2m or a number of seconds)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  const ms = Math.round(Number(match[1]) * factor);
  if (ms > 2 ** 31 - 1) throw new UsageError(`${option}: ${text} is too long (at most about 24 days)`);
  return ms;
}

const RUN_VALUE_OPTIONS = new Set([
  '--listen', '-l', '--pid-file', '--ready-timeout', '--drain-timeout', '--probation', '--restart-backoff', '--restart-backoff-max', '--restart', '--ready',
]);

/** Parses `handover ...` arguments (without node and the script). Throws {@link UsageError}. */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '--help' || first === '-h' || first === 'help') return { command: 'help', topic: rest[0] };
  if (first === '--version' || first === '-V' || first === 'version') return { command: 'version' };
  if (first === 'run') return parseRun(rest);
  if (first === 'reload' || first === 'stop') return parseSignalCommand(first, rest);
  throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: run, reload, stop)`);
}

// Splits `--name=value` and takes the value of `--name value`.
function* options(argv: readonly string[], valueOptions: Set<string>): Generator<{ name: string; value?: string; index: number; rest?: string[] }> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      yield { name: '--', index: i, rest: argv.slice(i + 1) };
      return;
    }
    if (!arg.startsWith('-') || arg === '-') {
      yield { name: '', index: i, rest: argv.slice(i) };
      return;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!valueOptions.has(name)) {
      if (eq > 0 && arg.startsWith('--')) throw new UsageError(`${name} takes no value`);
      yield { name, index: i };
      continue;
    }
    let value: string | undefined = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
    }
    yield { name, value, index: i };
  }
}

function parseRun(argv: readonly string[]): Command {
  const listen: (ListenSpec | PacketSpec)[] = [];
  const o: Omit<SupervisorOptions, 'command'> = {};
  let command: string[] | undefined;
  for (const { name, value, rest } of options(argv, RUN_VALUE_OPTIONS)) {
    const v = value ?? '';
    switch (name) {
      case '--':
      case '':
        command = rest;
        break;
      case '--help':
      case '-h':
        return { command: 'help', topic: 'run' };
      case '--listen':
      case '-l':
        try {
          listen.push(parseAddress(v));
        } catch (err) {
          throw new UsageError(`${name} ${v}: ${argumentProblem(err)}`);
        }
        break;
      case '--pid-file':
        if (v === '') throw new UsageError('--pid-file needs a file name');
        o.pidFile = v;
        break;
      case '--ready-timeout':
        o.readyTimeout = parseDuration(name, v);
        if (o.readyTimeout === 0) throw new UsageError('--ready-timeout must be more than 0');
        break;
      case '--drain-timeout':
        o.drainTimeout = parseDuration(name, v);
        break;
      case '--probation':
        o.probation = parseDuration(name, v);
        break;
      case '--restart-backoff':
        o.restartBackoff = parseDuration(name, v);
        break;
      case '--restart-backoff-max':
        o.restartBackoffMax = parseDuration(name, v);
        break;
      case '--restart':
        if (!['on-failure', 'always', 'never'].includes(v)) throw new UsageError(`--restart must be on-failure, always or never, not ${JSON.stringify(v)}`);
        o.restart = v as RestartPolicy;
        break;
      case '--ready':
        if (!['notify', 'exec'].includes(v)) throw new UsageError(`--ready must be notify or exec, not ${JSON.stringify(v)}`);
        o.ready = v as ReadyMode;
        break;
      case '--no-inherit':
        o.inherit = false;
        break;
      default:
        throw new UsageError(`unknown option ${name} for run`);
    }
    if (command !== undefined) break;
  }
  if (command === undefined || command.length === 0) throw new UsageError('run needs a command: handover run [options] -- COMMAND [ARGS...]');
  if (o.restartBackoff !== undefined && o.restartBackoffMax === undefined && o.restartBackoff > DEFAULT_RESTART_BACKOFF_MAX) {
    o.restartBackoffMax = o.restartBackoff;
  }
  if (o.restartBackoffMax !== undefined && o.restartBackoffMax < (o.restartBackoff ?? DEFAULT_RESTART_BACKOFF)) {
    throw new UsageError('--restart-backoff-max must not be below --restart-backoff');
  }
  const [file, ...args] = command;
  if (file === '') throw new UsageError('the command is empty');
  return { command: 'run', options: { ...o, command: file, args, listen } };
}

// "the address has port 99999, but a port is a number from 0 to 65535":
// what a validation error says, without the API's "The "x" argument" frame.
function argumentProblem(err: unknown): string {
  const e = err as { message: string; reason?: string };
  const subject = /^The "(?:options\.)?([^"]+)" argument /.exec(e.message)?.[1];
  if (e.reason !== undefined && subject !== undefined) return `the ${subject} ${e.reason}`;
  return e.message;
}

/** The largest pid the kernel hands out (Linux: /proc/sys/kernel/pid_max; macOS: 99998). */
export function maxPid(): number {
  try {
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    if (Number.isInteger(max) && max > 0) return max;
  } catch {
    // not Linux
  }
  return process.platform === 'darwin' ? 99_998 : 4_194_304;
}

function parseSignalCommand(which: 'reload' | 'stop', argv: readonly string[]): Command {
  let pidFile: string | undefined;
  let pid: number | undefined;
  for (const { name, value } of options(argv, new Set(['--pid-file', '--pid']))) {
    if (name === '--pid-file') pidFile = value;
    else if (name === '--pid') {
      if (!/^[0-9]+$/.test(value ?? '') || Number(value) < 1) throw new UsageError(`--pid must be a process id, not ${JSON.stringify(value)}`);
      if (Number(value) > maxPid()) throw new UsageError(`--pid ${value} is not a process id: pids on this system go up to ${maxPid()}`);
      pid = Number(value);
    } else if (name === '--help' || name === '-h') return { command: 'help', topic: which };
    else throw new UsageError(`unexpected ${JSON.stringify(name || argv.join(' '))} for ${which}`);
  }
  if ((pidFile === undefined) === (pid === undefined)) throw new UsageError(`${which} needs --pid-file FILE or --pid PID`);
  return { command: which, pidFile, pid };
}

function readPid(pidFile: string): number {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is the supervisor running, started with --pid-file ${pidFile}? It removes the file when it exits)` : '';
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `cannot read the pid file: ${(err as Error).message}${hint}`, { cause: err });
  }
  const pid = Number(text.trim());
  if (!/^[0-9]+$/.test(text.trim()) || pid < 1 || pid > maxPid()) {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `${pidFile} holds no pid: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return pid;
}

// What `reload` and `stop` say when the signal cannot be sent.
function signalProblem(err: unknown, pid: number, pidFile: string | undefined): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ESRCH') {
    return pidFile === undefined
      ? `no process has pid ${pid}: is the supervisor running? (its pid is in the file given to handover run --pid-file)`
      : `no process has pid ${pid}, which ${pidFile} names: the supervisor is not running and the file is stale (it was killed, or the file is not its)`;
  }
  if (code === 'EPERM') return `not allowed to signal pid ${pid}: it runs as another user; run this as that user or as root`;
  return (err as Error).message;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * `handover ...`: runs a command line and resolves with the process's exit
 * code. `run` resolves when the supervisor has stopped.
 */
export async function main(argv: readonly string[] = process.argv.slice(2), io: { out?: (text: string) => void; err?: (text: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  const err = io.err ?? ((text: string) => void process.stderr.write(text));
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`handover: ${e.message}\nTry 'handover --help'.\n`);
    return USAGE_EXIT_CODE;
  }
  switch (command.command) {
    case 'help':
      out(helpText());
      return 0;
    case 'version':
      out(`${version()}\n`);
      return 0;
    case 'reload':
    case 'stop': {
      const signal = command.command === 'reload' ? 'SIGHUP' : 'SIGTERM';
      let pid: number;
      try {
        pid = command.pid ?? readPid(command.pidFile!);
      } catch (e) {
        err(`handover: ${command.command}: ${(e as Error).message}\n`);
        return 1;
      }
      try {
        process.kill(pid, signal);
      } catch (e) {
        err(`handover: ${command.command}: ${signalProblem(e, pid, command.pidFile)}\n`);
        return 1;
      }
      err(`handover: sent ${signal} to ${pid}\n`);
      return 0;
    }
    case 'run': {
      let supervisor: Supervisor;
      try {
        supervisor = new Supervisor(command.options);
      } catch (e) {
        err(`handover: ${(e as Error).message}\n`);
        return USAGE_EXIT_CODE;
      }
      supervisor.start().catch(() => {}); // logged by the supervisor
      return supervisor.exited;
    }
  }
}
