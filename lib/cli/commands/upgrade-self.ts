import { type OptionSpec, parseOptions } from '../options';
import { parseDuration, UsageError } from '../usage';
import { askControl } from './control-client';
import { checkTarget, type Target, TARGET_OPTIONS, targetControlPath } from './target';

/** `handover upgrade-self`'s options. */
export interface UpgradeSelfCommand extends Target {
  timeout: number;
}

/** How long to wait, by default, for the pre-flight and for the new image to answer. */
const DEFAULT_TIMEOUT = 60_000;

export const UPGRADE_SELF_OPTIONS: readonly OptionSpec<UpgradeSelfCommand>[] = [
  ...(TARGET_OPTIONS as readonly OptionSpec<UpgradeSelfCommand>[]),
  {
    name: '--timeout',
    value: 'DUR',
    help: ['Give up waiting after DUR (default 60s; exit code 1).'],
    apply(s, value, name) {
      s.timeout = parseDuration(name, value);
    },
  },
];

export function parseUpgradeSelf(argv: readonly string[]): UpgradeSelfCommand | 'help' {
  const command: UpgradeSelfCommand = { timeout: DEFAULT_TIMEOUT };
  const { rest, help } = parseOptions(argv, UPGRADE_SELF_OPTIONS, command, 'upgrade-self');
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for upgrade-self`);
  checkTarget('upgrade-self', command);
  return command;
}

interface Running {
  pid: number;
  version: string;
  execs: number;
}

/**
 * Re-executes the supervisor in place with the handover (and node) installed
 * now: the supervisor runs a pre-flight of the new image, answers, and
 * execve()s; then this waits until the new image answers `status` — same
 * pid, one exec more — and says which version runs. Exit 0 then; 1 when
 * the pre-flight failed (the old supervisor runs on, unchanged) or nothing
 * answered in time.
 */
export async function upgradeSelf(command: UpgradeSelfCommand, err: (text: string) => void): Promise<number> {
  const path = targetControlPath(command);
  if (path === null) {
    err('handover: upgrade-self: no control socket to ask (it needs one: there is no signal for it)\n');
    return 1;
  }
  const deadline = Date.now() + command.timeout;
  const before = await running(path, command.timeout);
  if (typeof before === 'string') {
    err(`handover: upgrade-self: ${before}\n`);
    return 1;
  }
  const asked = await askControl(path, { command: 'upgrade-self' }, Math.max(1, deadline - Date.now()));
  if ('absent' in asked || 'timeout' in asked) {
    err(`handover: upgrade-self: ${'absent' in asked ? asked.absent : `no answer within ${command.timeout} ms`}\n`);
    return 1;
  }
  if (!asked.reply.ok) {
    err(`handover: upgrade-self failed: ${asked.reply.error?.message ?? 'no reason given'}\n`);
    return 1;
  }
  // The old image has answered and is being replaced: ask the new one.
  for (;;) {
    const now = await running(path, Math.max(1, deadline - Date.now()));
    if (typeof now !== 'string' && now.execs > before.execs) {
      if (now.pid !== before.pid) {
        err(`handover: upgrade-self: another supervisor (pid ${now.pid}) answers at ${path}\n`);
        return 1;
      }
      err(`handover: upgraded in place: handover ${before.version} -> ${now.version} (pid ${now.pid}, exec ${now.execs})\n`);
      return 0;
    }
    if (Date.now() >= deadline) {
      err(`handover: upgrade-self: the new image did not answer within ${command.timeout} ms (last: ${typeof now === 'string' ? now : `exec ${now.execs}`})\n`);
      return 1;
    }
    await new Promise((wake) => setTimeout(wake, 50)); // the socket is bound again once the new image has started: nothing to wait on
  }
}

async function running(path: string, timeoutMs: number): Promise<Running | string> {
  const asked = await askControl(path, { command: 'status' }, Math.min(timeoutMs, 5_000));
  if ('absent' in asked) return asked.absent;
  if ('timeout' in asked) return 'no answer';
  if (!asked.reply.ok) return asked.reply.error?.message ?? 'refused';
  const supervisor = (asked.reply.result as { supervisor: Running }).supervisor;
  return { pid: supervisor.pid, version: supervisor.version, execs: supervisor.execs ?? 0 };
}
