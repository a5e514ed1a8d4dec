import { formatStatus, type Status } from '../../supervisor';
import { type OptionSpec, parseOptions } from '../options';
import { UsageError } from '../usage';
import { askControl } from './control-client';
import { checkTarget, type Target, TARGET_OPTIONS, targetControlPath } from './target';

/** `handover status`'s options. */
export interface StatusCommand extends Target {
  json: boolean;
}

export const STATUS_OPTIONS: readonly OptionSpec<StatusCommand>[] = [
  ...(TARGET_OPTIONS as readonly OptionSpec<StatusCommand>[]),
  {
    name: '--json',
    help: ['Print the status as JSON (docs/operations.md: its schema).'],
    apply(s) {
      s.json = true;
    },
  },
];

export function parseStatus(argv: readonly string[]): StatusCommand | 'help' {
  const command: StatusCommand = { json: false };
  const { rest, help } = parseOptions(argv, STATUS_OPTIONS, command, 'status');
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for status`);
  checkTarget('status', command);
  return command;
}

/** What runs, since when, and how the last reload went: a table, or JSON. */
export async function status(command: StatusCommand, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const path = targetControlPath(command);
  const asked = path === null ? { absent: 'no control socket to ask' } : await askControl(path, { command: 'status' }, 10_000);
  if ('absent' in asked) {
    err(`handover: status: ${asked.absent}: is the supervisor running? (it makes its control socket at start, unless run with a control socket elsewhere: then give --control PATH)\n`);
    return 1;
  }
  if ('timeout' in asked || !asked.reply.ok) {
    err(`handover: status: ${'timeout' in asked ? 'no answer within 10 s' : asked.reply.error?.message}\n`);
    return 1;
  }
  const result = asked.reply.result as Status;
  out(command.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
  return 0;
}
