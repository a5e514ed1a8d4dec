import { UsageError } from './usage';

/**
 * One command-line option: the parser reads it and `--help` describes it
 * from this entry alone, so the two cannot drift apart.
 */
export interface OptionSpec<T> {
  /** `--listen`, and its short form `-l` if any. */
  name: string;
  short?: string;
  /** The value's placeholder in --help (`ADDR`, `DUR`); none for a flag. */
  value?: string;
  /** --help's lines; `{default}` is replaced by {@link OptionSpec.default}'s text. */
  help: string[];
  /** The default, as --help shows it. */
  default?: () => string;
  /** Applies the option (with its value, for a value option) to what is being built. */
  apply(into: T, value: string, name: string): void;
}

/** What {@link parseOptions} found besides the options. */
export interface ParsedRest {
  /** The words after `--`, or from the first word that is not an option on; undefined when there were none. */
  rest: string[] | undefined;
  /** `--help` or `-h` was among them. */
  help: boolean;
}

/**
 * Reads `argv` against `table` into `into`: `--name value`, `--name=value`,
 * `-x value`; stops at `--` or at the first word that is not an option.
 * Throws {@link UsageError} for an unknown option, a missing value, or a
 * value given to a flag.
 */
export function parseOptions<T>(argv: readonly string[], table: readonly OptionSpec<T>[], into: T, command: string): ParsedRest {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return { rest: argv.slice(i + 1), help: false };
    if (!arg.startsWith('-') || arg === '-') return { rest: argv.slice(i), help: false };
    if (arg === '--help' || arg === '-h') return { rest: undefined, help: true };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = table.find((o) => o.name === name || o.short === name);
    if (spec === undefined) throw new UsageError(`unknown option ${name} for ${command}`);
    if (spec.value === undefined) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      spec.apply(into, '', name);
      continue;
    }
    let value = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
    }
    spec.apply(into, value, name);
  }
  return { rest: undefined, help: false };
}

const COLUMN = 27;

/** The options section of --help for `table`: flags in one column, the text beside or below them. */
export function formatOptions<T>(table: readonly OptionSpec<T>[]): string {
  const lines: string[] = [];
  for (const spec of table) {
    const flags = `${spec.short ? `${spec.short}, ` : '    '}${spec.name}${spec.value ? ` ${spec.value}` : ''}`;
    const text = spec.help.map((line) => line.replace('{default}', spec.default?.() ?? ''));
    const head = `  ${flags}`;
    if (head.length + 1 < COLUMN) {
      lines.push(`${head.padEnd(COLUMN)}${text[0]}`);
      for (const line of text.slice(1)) lines.push(`${' '.repeat(COLUMN)}${line}`);
    } else {
      lines.push(head);
      for (const line of text) lines.push(`${' '.repeat(COLUMN)}${line}`);
    }
  }
  return lines.join('\n');
}
