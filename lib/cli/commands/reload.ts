import type { Status } from '../../supervisor';
import { type OptionSpec, parseOptions } from '../options';
import { parseDuration, UsageError } from '../usage';
import { askControl } from './control-client';
import { checkTarget, signalProblem, type Target, TARGET_OPTIONS, targetControlPath, targetPid } from './target';

/** `handover reload`'s options. */
export interface ReloadCommand extends Target {
  timeout: number;
  wait: boolean;
}

/** How long `handover reload` waits for the outcome by default (0: as long as it takes). */
export const DEFAULT_RELOAD_WAIT = 0;

export const RELOAD_OPTIONS: readonly OptionSpec<ReloadCommand>[] = [
  ...(TARGET_OPTIONS as readonly OptionSpec<ReloadCommand>[]),
  {
    name: '--timeout',
    value: 'DUR',
    help: ['Give up waiting after DUR (exit code 1; the reload goes on).'],
    apply(r, value, name) {
      r.timeout = parseDuration(name, value);
    },
  },
  {
    name: '--no-wait',
    help: ['Ask for the reload and return at once (exit code 0).'],
    apply(r) {
      r.wait = false;
    },
  },
];

export function parseReload(argv: readonly string[]): ReloadCommand | 'help' {
  const command: ReloadCommand = { timeout: DEFAULT_RELOAD_WAIT, wait: true };
  const { rest, help } = parseOptions(argv, RELOAD_OPTIONS, command, 'reload');
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for reload`);
  checkTarget('reload', command);
  return command;
}

/**
 * What SIGHUP does, and its outcome: over the control socket it waits until
 * every worker serves the new release (exit 0) or the reload was rolled
 * back (exit 1, the reason on stderr). Without a control socket it sends
 * SIGHUP, says so, and cannot know the outcome.
 */
export async function reload(command: ReloadCommand, err: (text: string) => void): Promise<number> {
  const path = targetControlPath(command);
  const asked = path === null ? { absent: 'no control socket to ask' } : await askControl(path, { command: 'reload', wait: command.wait }, command.timeout);
  if ('timeout' in asked) {
    err(`handover: reload: no outcome within ${command.timeout} ms; it goes on (handover status shows it)\n`);
    return 1;
  }
  if ('reply' in asked) {
    const { reply } = asked;
    if (!reply.ok) {
      err(`handover: reload failed: ${reply.error?.message ?? 'no reason given'}\n`);
      return 1;
    }
    if (!command.wait) {
      err('handover: reload started\n');
      return 0;
    }
    const status = (reply.result as { status: Status }).status;
    const serving = status.workers.map((w) => (w.serving ? `generation ${w.serving.generation} (pid ${w.serving.pid})` : 'none'));
    err(`handover: reloaded: ${status.workers.length > 1 ? `workers serve ${serving.join(', ')}` : `${serving[0]} serves`}\n`);
    return 0;
  }
  let pid: number;
  try {
    pid = targetPid(command);
  } catch (e) {
    err(`handover: reload: ${asked.absent}; ${(e as Error).message}\n`);
    return 1;
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    err(`handover: reload: ${signalProblem(e, pid, command.pidFile)}\n`);
    return 1;
  }
  err(`handover: ${asked.absent}: sent SIGHUP to ${pid}; the outcome is in the supervisor's log\n`);
  return 0;
}
