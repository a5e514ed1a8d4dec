import { parseAddress, type ListenSpec, type PacketSpec } from '../../protocol';
import {
  DEFAULT_PROBATION,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_RELOAD_PARALLEL,
  DEFAULT_RESTART_BACKOFF,
  DEFAULT_RESTART_BACKOFF_MAX,
  DEFAULT_SUPERVISOR_DRAIN_TIMEOUT,
  DEFAULT_WORKERS,
  type ReadyMode,
  type RestartPolicy,
  STOPPING_KILL_FACTOR,
  type SupervisorOptions,
} from '../../supervisor';
import { type OptionSpec, parseOptions } from '../options';
import { argumentProblem, formatDuration, parseDuration, parseSize, UsageError } from '../usage';

/** What `handover run`'s options build; `config` and `app` name a config file to read under them. */
export type RunOptions = Omit<SupervisorOptions, 'command' | 'listen'> & { listen: (ListenSpec | PacketSpec)[]; config?: string; app?: string };

const duration =
  (key: 'readyTimeout' | 'drainTimeout' | 'probation' | 'restartBackoff' | 'restartBackoffMax' | 'shutdownDelay') =>
  (o: RunOptions, value: string, name: string): void => {
    o[key] = parseDuration(name, value);
  };

/** The options of `handover run`, in --help's order. */
export const RUN_OPTIONS: readonly OptionSpec<RunOptions>[] = [
  {
    name: '--listen',
    short: '-l',
    value: 'ADDR',
    help: [
      'Bind ADDR and pass it to every generation (repeat for',
      'more; fd order = option order). ADDR is one of',
      '  8080  127.0.0.1:8080  [::1]:8080  :8080',
      '  unix:/run/app.sock  unix:@abstract',
      '  udp:0.0.0.0:5353  udp:[::]:5353',
      'each optionally NAME=ADDR, NAME going to LISTEN_FDNAMES.',
      'unix:PATH may end with ,mode=0660 and ,owner=USER[:GROUP]',
      '(or owner=:GROUP): the socket file gets them before it',
      'listens (default: the umask and handover\'s user).',
      'Port 0 binds a free port; the log says which. Host',
      'names (and owner names) are resolved once, at start.',
    ],
    apply(o, value, name) {
      try {
        o.listen.push(parseAddress(value));
      } catch (err) {
        throw new UsageError(`${name} ${value}: ${argumentProblem(err)}`);
      }
    },
  },
  {
    name: '--pid-file',
    value: 'FILE',
    help: ["Write the supervisor's pid to FILE (removed on exit)."],
    apply(o, value) {
      if (value === '') throw new UsageError('--pid-file needs a file name');
      o.pidFile = value;
    },
  },
  {
    name: '--ready-timeout',
    value: 'DUR',
    help: ['How long a new generation has to send READY=1', '(default {default}); then it is killed.'],
    default: () => formatDuration(DEFAULT_READY_TIMEOUT),
    apply(o, value, name) {
      o.readyTimeout = parseDuration(name, value);
      if (o.readyTimeout === 0) throw new UsageError('--ready-timeout must be more than 0');
    },
  },
  {
    name: '--drain-timeout',
    value: 'DUR',
    help: [
      'How long a generation told to stop may take before its',
      'process group gets SIGKILL (default {default}). An app that',
      'sends STOPPING=1 (GracefulServer does) drains by its',
      `own rules, for up to ${STOPPING_KILL_FACTOR} times as long.`,
    ],
    default: () => formatDuration(DEFAULT_SUPERVISOR_DRAIN_TIMEOUT),
    apply: duration('drainTimeout'),
  },
  {
    name: '--probation',
    value: 'DUR',
    help: ['After a reload, old and new generation both serve this', 'long; if the new one dies meanwhile, the old one stays', '(default {default}).'],
    default: () => formatDuration(DEFAULT_PROBATION),
    apply: duration('probation'),
  },
  {
    name: '--restart-backoff',
    value: 'DUR',
    help: ['First delay before restarting a crashed app; doubles', 'with each crash in a row (default {default}).'],
    default: () => formatDuration(DEFAULT_RESTART_BACKOFF),
    apply: duration('restartBackoff'),
  },
  {
    name: '--restart-backoff-max',
    value: 'DUR',
    help: ['Largest delay (default {default}); an app that served this', 'long before crashing starts the series again.'],
    default: () => formatDuration(DEFAULT_RESTART_BACKOFF_MAX),
    apply: duration('restartBackoffMax'),
  },
  {
    name: '--restart',
    value: 'POLICY',
    help: ['on-failure (default): restart after a crash (non-zero', 'exit or a signal), stop after exit code 0.', 'always: restart in both cases. never: stop.'],
    apply(o, value) {
      if (!['on-failure', 'always', 'never'].includes(value)) throw new UsageError(`--restart must be on-failure, always or never, not ${JSON.stringify(value)}`);
      o.restart = value as RestartPolicy;
    },
  },
  {
    name: '--ready',
    value: 'MODE',
    help: ['notify (default): wait for READY=1. exec: ready as soon', 'as the command started (for apps that cannot notify;', 'a broken new version then replaces a working one).'],
    apply(o, value) {
      if (!['notify', 'exec'].includes(value)) throw new UsageError(`--ready must be notify or exec, not ${JSON.stringify(value)}`);
      o.ready = value as ReadyMode;
    },
  },
  {
    name: '--workers',
    short: '-w',
    value: 'N',
    help: [
      'Run N workers (default {default}), each a generation of COMMAND',
      'with the same listeners, HANDOVER_WORKER_ID and',
      'NODE_APP_INSTANCE = 0...N-1. auto: one per CPU. A reload',
      'replaces them one at a time; SIGTTIN / SIGTTOU add or',
      'remove one.',
    ],
    default: () => String(DEFAULT_WORKERS),
    apply(o, value, name) {
      if (value === 'auto') o.workers = 'auto';
      else if (/^[0-9]+$/.test(value) && Number(value) >= 1 && Number(value) <= 1024) o.workers = Number(value);
      else throw new UsageError(`${name} must be a number of workers from 1 to 1024, or auto, not ${JSON.stringify(value)}`);
    },
  },
  {
    name: '--reload-parallel',
    value: 'K',
    help: ['Replace K workers at a time in a reload (default {default}).'],
    default: () => String(DEFAULT_RELOAD_PARALLEL),
    apply(o, value, name) {
      if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 1024) throw new UsageError(`${name} must be a number from 1 to 1024, not ${JSON.stringify(value)}`);
      o.reloadParallel = Number(value);
    },
  },
  {
    name: '--max-memory',
    value: 'SIZE',
    help: [
      'Replace a worker whose RSS (with its children) passes',
      'SIZE (512M, 1G...), as a reload step does: its successor',
      'is ready first. Linux.',
    ],
    apply(o, value, name) {
      o.maxMemory = parseSize(name, value);
    },
  },
  {
    name: '--max-lifetime',
    value: 'DUR',
    help: ['Replace a worker that has served DUR, the same way. Both', 'limits move by up to 10% per worker, so that workers', 'do not recycle together.'],
    apply(o, value, name) {
      o.maxLifetime = parseDuration(name, value);
      if (o.maxLifetime === 0) throw new UsageError(`${name} must be more than 0`);
    },
  },
  {
    name: '--control',
    value: 'PATH',
    help: [
      'The control socket for handover reload/status/stop/scale',
      '(in a directory of its own, mode 0700). Default: beside',
      '--pid-file (FILE.control/), else in $RUNTIME_DIRECTORY,',
      '$XDG_RUNTIME_DIR or the temporary directory. none: no socket.',
    ],
    apply(o, value, name) {
      if (value === '') throw new UsageError(`${name} needs a socket path, or none`);
      o.control = value === 'none' ? false : value;
    },
  },
  {
    name: '--log-format',
    value: 'FORMAT',
    help: ['text (default): one line per event. json: pino-style JSON', 'lines (level, time, pid, hostname, msg, and the fields).'],
    apply(o, value, name) {
      if (value !== 'text' && value !== 'json') throw new UsageError(`${name} must be text or json, not ${JSON.stringify(value)}`);
      o.logFormat = value;
    },
  },
  {
    name: '--metrics',
    value: 'ADDR',
    help: ['Serve Prometheus metrics at http://ADDR/metrics (ADDR as', 'for --listen, TCP).'],
    apply(o, value, name) {
      o.metrics = tcpAddress(name, value);
    },
  },
  {
    name: '--health',
    value: 'ADDR',
    help: ['Serve /livez and /readyz on ADDR for probes. /readyz fails', 'from a stop signal on, and without a serving worker.'],
    apply(o, value, name) {
      o.health = tcpAddress(name, value);
    },
  },
  {
    name: '--shutdown-delay',
    value: 'DUR',
    help: ['On SIGTERM, fail /readyz at once and wait DUR before the', 'drain, for load balancers to stop sending (default 0).'],
    apply: duration('shutdownDelay'),
  },
  {
    name: '--fd-store',
    value: 'WHEN',
    help: [
      "auto (default), yes or no: put the listeners in systemd's fd",
      'store (FileDescriptorStoreMax=), so that they and their queued',
      "connections survive the supervisor's own crash or restart.",
      'auto: when systemd (254 and later) sets $FDSTORE; yes for older.',
    ],
    apply(o, value, name) {
      if (value !== 'auto' && value !== 'yes' && value !== 'no') throw new UsageError(`${name} must be auto, yes or no, not ${JSON.stringify(value)}`);
      o.fdStore = value;
    },
  },
  {
    name: '--config',
    value: 'FILE',
    help: [
      'Read options from FILE (.json, .js, .cjs, .mjs): the keys are',
      'the options above without "--", plus "command"; flags given',
      'here win. A pm2 ecosystem file ({ apps: [...] }) works too.',
    ],
    apply(o, value, name) {
      if (value === '') throw new UsageError(`${name} needs a file name`);
      o.config = value;
    },
  },
  {
    name: '--app',
    value: 'NAME',
    help: ['With a pm2 ecosystem file of several apps: the one to run.'],
    apply(o, value) {
      o.app = value;
    },
  },
  {
    name: '--compile-cache',
    value: 'DIR',
    help: [
      "The generations' module compile cache (Node >= 22.1):",
      'NODE_COMPILE_CACHE=DIR; off for none. By default a',
      "directory of the app's own in the temporary directory,",
      'unless NODE_COMPILE_CACHE is set already.',
    ],
    apply(o, value, name) {
      if (value === '') throw new UsageError(`${name} needs a directory, or off`);
      o.compileCache = value === 'off' ? false : value;
    },
  },
  {
    name: '--no-inherit',
    help: [
      'Ignore LISTEN_FDS passed to handover itself (by default',
      'sockets from systemd socket activation are adopted and',
      'passed on, with their names, before --listen ones).',
    ],
    apply(o) {
      o.inherit = false;
    },
  },
];

function tcpAddress(name: string, value: string): string {
  let spec;
  try {
    spec = parseAddress(value);
  } catch (err) {
    throw new UsageError(`${name} ${value}: ${argumentProblem(err)}`);
  }
  if (spec.kind !== 'tcp') throw new UsageError(`${name} ${value}: must be a TCP address (8080, 127.0.0.1:9090, [::]:9090)`);
  return value;
}

/** The parsed command line of `handover run`: its options, and COMMAND (undefined when a config file is to give it). */
export interface ParsedRun {
  options: RunOptions;
  command: string[] | undefined;
}

/** `handover run [options] -- COMMAND [ARGS...]`, or the help topic asked for. */
export function parseRunArgs(argv: readonly string[]): ParsedRun | 'help' {
  const o: RunOptions = { listen: [] };
  const { rest: command, help } = parseOptions(argv, RUN_OPTIONS, o, 'run');
  if (help) return 'help';
  if ((command === undefined || command.length === 0) && o.config === undefined) throw new UsageError('run needs a command: handover run [options] -- COMMAND [ARGS...]');
  if (o.app !== undefined && o.config === undefined) throw new UsageError('--app names an app of a --config file');
  checkBackoff(o);
  return { options: o, command: command?.length ? command : undefined };
}

// A first delay above the default maximum raises the maximum with it; a maximum below the first delay is a mistake.
function checkBackoff(o: RunOptions): void {
  if (o.restartBackoff !== undefined && o.restartBackoffMax === undefined && o.restartBackoff > DEFAULT_RESTART_BACKOFF_MAX) {
    o.restartBackoffMax = o.restartBackoff;
  }
  if (o.restartBackoffMax !== undefined && o.restartBackoffMax < (o.restartBackoff ?? DEFAULT_RESTART_BACKOFF)) {
    throw new UsageError('--restart-backoff-max must not be below --restart-backoff');
  }
}

/** The supervisor's options from what was parsed (and a config file merged under it). */
export function runOptions(parsed: ParsedRun): SupervisorOptions {
  const { command } = parsed;
  const o: RunOptions = { ...parsed.options };
  delete o.config;
  delete o.app;
  if (command === undefined || command.length === 0) throw new UsageError('run needs a command: give it after --, or as "command" in the config file');
  checkBackoff(o);
  const [file, ...args] = command;
  if (file === '') throw new UsageError('the command is empty');
  return { ...o, command: file, args };
}

/** `handover run ...` as the supervisor's options, without a config file (or throwing when one is named: use main). */
export function parseRun(argv: readonly string[]): SupervisorOptions | 'help' {
  const parsed = parseRunArgs(argv);
  if (parsed === 'help') return 'help';
  if (parsed.options.config !== undefined) throw new UsageError('--config is read by handover run itself (parseRunArgs, then the config module)');
  return runOptions(parsed);
}
