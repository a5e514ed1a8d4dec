import { readFileSync } from 'node:fs';
import { HandoverError } from '../../core';
import { type OptionSpec, parseOptions } from '../options';
import { maxPid, UsageError } from '../usage';

/** Whom `handover reload` and `handover stop` signal. */
export interface SignalTarget {
  pidFile?: string;
  pid?: number;
}

/** The options of `handover reload` and `handover stop`. */
export const SIGNAL_OPTIONS: readonly OptionSpec<SignalTarget>[] = [
  {
    name: '--pid-file',
    value: 'FILE',
    help: ['The pid file of handover run --pid-file FILE.'],
    apply(t, value) {
      t.pidFile = value;
    },
  },
  {
    name: '--pid',
    value: 'PID',
    help: ["The supervisor's pid."],
    apply(t, value) {
      if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new UsageError(`--pid must be a process id, not ${JSON.stringify(value)}`);
      if (Number(value) > maxPid()) throw new UsageError(`--pid ${value} is not a process id: pids on this system go up to ${maxPid()}`);
      t.pid = Number(value);
    },
  },
];

/** `handover reload|stop --pid-file FILE | --pid PID`, or the help topic asked for. */
export function parseSignalCommand(which: 'reload' | 'stop', argv: readonly string[]): SignalTarget | 'help' {
  const target: SignalTarget = {};
  const { rest, help } = parseOptions(argv, SIGNAL_OPTIONS, target, which);
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for ${which}`);
  if ((target.pidFile === undefined) === (target.pid === undefined)) throw new UsageError(`${which} needs --pid-file FILE or --pid PID`);
  return target;
}

/** What SIGHUP (reload) or SIGTERM (stop) does, sent to the supervisor; resolves with the exit code. */
export async function signalCommand(which: 'reload' | 'stop', target: SignalTarget, err: (text: string) => void): Promise<number> {
  const signal = which === 'reload' ? 'SIGHUP' : 'SIGTERM';
  let pid: number;
  try {
    pid = target.pid ?? readPid(target.pidFile!);
  } catch (e) {
    err(`handover: ${which}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    process.kill(pid, signal);
  } catch (e) {
    err(`handover: ${which}: ${signalProblem(e, pid, target.pidFile)}\n`);
    return 1;
  }
  err(`handover: sent ${signal} to ${pid}\n`);
  return 0;
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
