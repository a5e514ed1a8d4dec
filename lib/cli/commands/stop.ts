import { processExists } from '../../core';
import { type OptionSpec, parseOptions } from '../options';
import { parseDuration, UsageError } from '../usage';
import { askControl } from './control-client';
import { checkTarget, processStartMs, signalProblem, type Target, TARGET_OPTIONS, targetControlPath, targetPid } from './target';

/** `handover stop`'s options. */
export interface StopCommand extends Target {
  timeout: number;
  final: boolean;
}

export const STOP_OPTIONS: readonly OptionSpec<StopCommand>[] = [
  ...(TARGET_OPTIONS as readonly OptionSpec<StopCommand>[]),
  {
    name: '--timeout',
    value: 'DUR',
    help: ['Give up waiting for the exit after DUR (exit code 1).'],
    apply(s, value, name) {
      s.timeout = parseDuration(name, value);
    },
  },
  {
    name: '--final',
    help: [
      "Also remove the listeners from systemd's fd store, so that the",
      'ports close (a stop that systemd does not follow with a start,',
      'under FileDescriptorStorePreserve=yes).',
    ],
    apply(s) {
      s.final = true;
    },
  },
];

export function parseStop(argv: readonly string[]): StopCommand | 'help' {
  const command: StopCommand = { timeout: 0, final: false };
  const { rest, help } = parseOptions(argv, STOP_OPTIONS, command, 'stop');
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for stop`);
  checkTarget('stop', command);
  return command;
}

/**
 * What SIGTERM does, waiting for the end: over the control socket the
 * supervisor answers with its exit status, which becomes ours. Without one,
 * SIGTERM, then wait until the process is gone (its status cannot be known).
 */
export async function stop(command: StopCommand, err: (text: string) => void): Promise<number> {
  const path = targetControlPath(command);
  const asked = path === null ? { absent: 'no control socket to ask' } : await askControl(path, { command: 'stop', ...(command.final ? { final: true } : {}) }, command.timeout);
  if ('timeout' in asked) {
    err(`handover: stop: the supervisor did not exit within ${command.timeout} ms\n`);
    return 1;
  }
  if ('reply' in asked) {
    if (!asked.reply.ok) {
      err(`handover: stop: ${asked.reply.error?.message ?? 'refused'}\n`);
      return 1;
    }
    const code = (asked.reply.result as { exitCode: number }).exitCode;
    err(`handover: stopped: the supervisor exited with code ${code}\n`);
    return code;
  }
  if (command.final) {
    err(`handover: stop --final: ${asked.absent}; only the control socket can ask the supervisor to empty systemd's fd store (nothing was stopped)\n`);
    return 1;
  }
  let pid: number;
  try {
    pid = targetPid(command);
  } catch (e) {
    err(`handover: stop: ${asked.absent}; ${(e as Error).message}\n`);
    return 1;
  }
  const started = processStartMs(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    err(`handover: stop: ${signalProblem(e, pid, command.pidFile)}\n`);
    return 1;
  }
  err(`handover: ${asked.absent}: sent SIGTERM to ${pid}; waiting for it to exit (its exit status cannot be known this way)\n`);
  const deadline = command.timeout > 0 ? Date.now() + command.timeout : Infinity;
  // The same process (not one that took its pid since) is still there.
  while (processStartMs(pid) === started && started !== null && processExists(pid)) {
    if (Date.now() > deadline) {
      err(`handover: stop: pid ${pid} did not exit within ${command.timeout} ms\n`);
      return 1;
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  return 0;
}
