import { type OptionSpec, parseOptions } from '../options';
import { UsageError } from '../usage';
import { askControl } from './control-client';
import { checkTarget, type Target, TARGET_OPTIONS, targetControlPath } from './target';

/** `handover scale`'s options. */
export interface ScaleCommand extends Target {
  workers?: number;
}

export const SCALE_OPTIONS: readonly OptionSpec<ScaleCommand>[] = [
  ...(TARGET_OPTIONS as readonly OptionSpec<ScaleCommand>[]),
  {
    name: '--workers',
    short: '-w',
    value: 'N',
    help: ['Run N workers from now on (new ones start; removed ones drain).'],
    apply(s, value, name) {
      if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 1024) throw new UsageError(`${name} must be a number of workers from 1 to 1024, not ${JSON.stringify(value)}`);
      s.workers = Number(value);
    },
  },
];

export function parseScale(argv: readonly string[]): ScaleCommand | 'help' {
  const command: ScaleCommand = {};
  const { rest, help } = parseOptions(argv, SCALE_OPTIONS, command, 'scale');
  if (help) return 'help';
  if (rest !== undefined) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' ') || '--')} for scale`);
  if (command.workers === undefined) throw new UsageError('scale needs --workers N');
  checkTarget('scale', command);
  return command;
}

/** Sets the number of workers, over the control socket (SIGTTIN and SIGTTOU add or remove one without it). */
export async function scale(command: ScaleCommand, err: (text: string) => void): Promise<number> {
  const path = targetControlPath(command);
  const asked = path === null ? { absent: 'no control socket to ask' } : await askControl(path, { command: 'scale', workers: command.workers }, 10_000);
  if ('absent' in asked) {
    err(`handover: scale: ${asked.absent} (without it: kill -TTIN or -TTOU the supervisor, one worker at a time)\n`);
    return 1;
  }
  if ('timeout' in asked || !asked.reply.ok) {
    err(`handover: scale: ${'timeout' in asked ? 'no answer within 10 s' : asked.reply.error?.message}\n`);
    return 1;
  }
  err(`handover: scaled to ${command.workers} worker(s)\n`);
  return 0;
}
