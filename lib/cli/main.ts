import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../core';
import type { SupervisorOptions } from '../supervisor';
import { parseRun, run } from './commands/run';
import { parseSignalCommand, signalCommand, type SignalTarget } from './commands/signal';
import { helpText } from './help';
import { UsageError, USAGE_EXIT_CODE } from './usage';

/** What the command line asks for. */
export type Command =
  | { command: 'run'; options: SupervisorOptions }
  | ({ command: 'reload' | 'stop' } & SignalTarget)
  | { command: 'help'; topic?: string }
  | { command: 'version' };

/** Parses `handover ...` arguments (without node and the script). Throws {@link UsageError}. */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '--help' || first === '-h' || first === 'help') return { command: 'help', topic: rest[0] };
  if (first === '--version' || first === '-V' || first === 'version') return { command: 'version' };
  if (first === 'run') {
    const options = parseRun(rest);
    return options === 'help' ? { command: 'help', topic: 'run' } : { command: 'run', options };
  }
  if (first === 'reload' || first === 'stop') {
    const target = parseSignalCommand(first, rest);
    return target === 'help' ? { command: 'help', topic: first } : { command: first, ...target };
  }
  throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: run, reload, stop)`);
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(__dirname, 'cli'), 'package.json'), 'utf8')) as { version: string }).version;
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
    case 'stop':
      return signalCommand(command.command, command, err);
    case 'run':
      return run(command.options, err);
  }
}
