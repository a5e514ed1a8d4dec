import { readFileSync, statSync } from 'node:fs';
import { HandoverError } from '../../core';
import { controlPath } from '../../supervisor';
import type { OptionSpec } from '../options';
import { maxPid, UsageError } from '../usage';

/** Which supervisor `handover reload|status|stop|scale` talks to. */
export interface Target {
  pidFile?: string;
  pid?: number;
  control?: string;
}

/** The options every command that talks to a supervisor takes. */
export const TARGET_OPTIONS: readonly OptionSpec<Target>[] = [
  {
    name: '--pid-file',
    value: 'FILE',
    help: ['The pid file of handover run --pid-file FILE (its control', 'socket is FILE.control/control.sock).'],
    apply(t, value) {
      if (value === '') throw new UsageError('--pid-file needs a file name');
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
  {
    name: '--control',
    value: 'PATH',
    help: ['The control socket, when handover run was given --control PATH.'],
    apply(t, value) {
      if (value === '') throw new UsageError('--control needs a socket path');
      t.control = value;
    },
  },
];

/** Checks that `target` names one supervisor. */
export function checkTarget(which: string, target: Target): void {
  if (target.pidFile === undefined && target.pid === undefined && target.control === undefined) throw new UsageError(`${which} needs --pid-file FILE, --pid PID or --control PATH`);
  if (target.pidFile !== undefined && target.pid !== undefined) throw new UsageError(`${which} takes --pid-file FILE or --pid PID, not both`);
}

/** The supervisor's control socket, as it derives it too (see controlPath). Null without a pid to derive from. */
export function targetControlPath(target: Target): string | null {
  if (target.control !== undefined || target.pidFile !== undefined) return controlPath({ control: target.control, pidFile: target.pidFile, pid: 0 });
  return target.pid === undefined ? null : controlPath({ pid: target.pid });
}

/**
 * The pid to signal when there is no control socket: --pid, or the pid file's
 * — which must not be stale: a process that started after the file was
 * written cannot be the supervisor that wrote it (the supervisor was
 * killed, and its pid reused since).
 */
export function targetPid(target: Target): number {
  if (target.pid !== undefined) return target.pid;
  if (target.pidFile === undefined) throw new HandoverError('ERR_INVALID_ARG_VALUE', 'no control socket answers, and there is no pid to signal: give --pid-file or --pid');
  const pidFile = target.pidFile;
  let text: string;
  let written: number;
  try {
    text = readFileSync(pidFile, 'utf8');
    written = statSync(pidFile).mtimeMs;
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is the supervisor running, started with --pid-file ${pidFile}? It removes the file when it exits)` : '';
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `cannot read the pid file: ${(err as Error).message}${hint}`, { cause: err });
  }
  const pid = Number(text.trim());
  if (!/^[0-9]+$/.test(text.trim()) || pid < 1 || pid > maxPid()) {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `${pidFile} holds no pid: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const started = processStartMs(pid);
  // 1 s of slack: the file's mtime and /proc's start time are rounded differently.
  if (started !== null && started > written + 1000) {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `${pidFile} is stale: pid ${pid} belongs to a process that started after the file was written, not to the supervisor that wrote it`);
  }
  return pid;
}

let boot: number | undefined;

/** When process `pid` started, in epoch ms (Linux /proc); null where it cannot be told (or no such process). */
export function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    boot ??= Number(/^btime ([0-9]+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]) * 1000;
    // USER_HZ is 100 on every Linux Node runs on.
    return boot + (ticks * 1000) / 100;
  } catch {
    return null;
  }
}

// What `reload` and `stop` say when the signal cannot be sent.
export function signalProblem(err: unknown, pid: number, pidFile: string | undefined): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ESRCH') {
    return pidFile === undefined
      ? `no process has pid ${pid}: is the supervisor running? (its pid is in the file given to handover run --pid-file)`
      : `no process has pid ${pid}, which ${pidFile} names: the supervisor is not running and the file is stale (it was killed, or the file is not its)`;
  }
  if (code === 'EPERM') return `not allowed to signal pid ${pid}: it runs as another user; run this as that user or as root`;
  return (err as Error).message;
}
