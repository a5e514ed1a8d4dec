import { version } from '../core';
import type { SupervisorOptions } from '../supervisor';
import { parseReload, reload, type ReloadCommand } from './commands/reload';
import { parseRunArgs, run, runOptions, type ParsedRun } from './commands/run';
import { parseScale, scale, type ScaleCommand } from './commands/scale';
import { parseStatus, status, type StatusCommand } from './commands/status';
import { parseStop, stop, type StopCommand } from './commands/stop';
import { withConfig } from './config';
import { helpText } from './help';
import { UsageError, USAGE_EXIT_CODE } from './usage';

/** What the command line asks for. */
export type Command =
  | { command: 'run'; parsed: ParsedRun }
  | ({ command: 'reload' } & ReloadCommand)
  | ({ command: 'stop' } & StopCommand)
  | ({ command: 'status' } & StatusCommand)
  | ({ command: 'scale' } & ScaleCommand)
  | { command: 'help'; topic?: string }
  | { command: 'version' };

const COMMANDS = 'run, reload, status, stop, scale';

/** Parses `handover ...` arguments (without node and the script). Throws {@link UsageError}. */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '--help' || first === '-h' || first === 'help') return { command: 'help', topic: rest[0] };
  if (first === '--version' || first === '-V' || first === 'version') return { command: 'version' };
  const help = { command: 'help', topic: first } as const;
  switch (first) {
    case 'run': {
      const parsed = parseRunArgs(rest);
      return parsed === 'help' ? help : { command: 'run', parsed };
    }
    case 'reload': {
      const parsed = parseReload(rest);
      return parsed === 'help' ? help : { command: 'reload', ...parsed };
    }
    case 'stop': {
      const parsed = parseStop(rest);
      return parsed === 'help' ? help : { command: 'stop', ...parsed };
    }
    case 'status': {
      const parsed = parseStatus(rest);
      return parsed === 'help' ? help : { command: 'status', ...parsed };
    }
    case 'scale': {
      const parsed = parseScale(rest);
      return parsed === 'help' ? help : { command: 'scale', ...parsed };
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: ${COMMANDS})`);
  }
}

/** `handover run ...`'s supervisor options, with its --config file read (async: a .mjs file is imported). */
export async function supervisorOptions(parsed: ParsedRun, warn: (message: string) => void): Promise<SupervisorOptions> {
  return runOptions(await withConfig(parsed, warn));
}

/**
 * `handover ...`: runs a command line and resolves with the process's exit
 * code. `run` resolves when the supervisor has stopped.
 */
export async function main(argv: readonly string[] = process.argv.slice(2), io: { out?: (text: string) => void; err?: (text: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  const err = io.err ?? ((text: string) => void process.stderr.write(text));
  let command: Command;
  let options: SupervisorOptions | undefined;
  try {
    command = parseCommandLine(argv);
    if (command.command === 'run') options = await supervisorOptions(command.parsed, (message) => err(`handover: config: ${message}\n`));
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
      return reload(command, err);
    case 'stop':
      return stop(command, err);
    case 'status':
      return status(command, out, err);
    case 'scale':
      return scale(command, err);
    case 'run':
      return run(options!, err);
  }
}
