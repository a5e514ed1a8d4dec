import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ParsedRun, RUN_OPTIONS, type RunOptions } from './commands/run';
import { pm2App } from './pm2';
import { UsageError } from './usage';

/** Keys of a config file that are not options: what to run. */
const COMMAND_KEY = 'command';

/** What a config file module holds: options by their long name without "--", or a pm2 ecosystem. */
type ConfigObject = Record<string, unknown>;

async function load(file: string): Promise<unknown> {
  const path = isAbsolute(file) ? file : resolve(file);
  try {
    if (path.endsWith('.json')) return JSON.parse(readFileSync(path, 'utf8'));
    if (path.endsWith('.js') || path.endsWith('.cjs')) return createRequire(path)(path);
    if (path.endsWith('.mjs')) {
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      return mod.default ?? mod;
    }
  } catch (err) {
    throw new UsageError(`--config ${file}: cannot read it: ${(err as Error).message.split('\n')[0]}`);
  }
  throw new UsageError(`--config ${file}: not a .json, .js, .cjs or .mjs file`);
}

/**
 * The options a config file gives, as if they were flags: `{"listen":
 * ["8080"], "workers": 4, "ready-timeout": "60s", "no-inherit": true,
 * "command": ["node", "server.js"]}`. A key that is no option is an error
 * that names it.
 */
export function fromConfigObject(file: string, config: ConfigObject): ParsedRun {
  const options: RunOptions = { listen: [] };
  let command: string[] | undefined;
  for (const [key, value] of Object.entries(config)) {
    if (key === COMMAND_KEY) {
      const words = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(words) || words.length === 0 || words.some((w) => typeof w !== 'string')) throw new UsageError(`--config ${file}: "command" must be an array of strings, e.g. ["node", "server.js"]`);
      command = words as string[];
      continue;
    }
    const spec = RUN_OPTIONS.find((o) => o.name === `--${key}`);
    if (spec === undefined || key === 'config' || key === 'app') {
      const known = [...RUN_OPTIONS.map((o) => o.name.slice(2)).filter((k) => k !== 'config' && k !== 'app'), COMMAND_KEY];
      throw new UsageError(`--config ${file}: unknown key "${key}" (known: ${known.join(', ')})`);
    }
    const name = `${file}: "${key}"`;
    if (spec.value === undefined) {
      if (typeof value !== 'boolean') throw new UsageError(`--config ${name} must be true or false`);
      if (value) spec.apply(options, '', name);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length > 1 && key !== 'listen') throw new UsageError(`--config ${name} takes one value, not a list`);
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`--config ${name} must be a string or a number, not ${JSON.stringify(v)}`);
      spec.apply(options, String(v), name);
    }
  }
  return { options, command };
}

/**
 * `parsed` (the command line) over the config file it names: every flag
 * given wins; `--listen` given replaces the file's listeners; the command
 * line's COMMAND replaces the file's. `warn` hears what a pm2 file has that
 * handover does not do.
 */
export async function withConfig(parsed: ParsedRun, warn: (message: string) => void): Promise<ParsedRun> {
  const file = parsed.options.config;
  if (file === undefined) return parsed;
  const config = await load(file);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`--config ${file}: must hold an object of options`);
  const fromFile = Array.isArray((config as ConfigObject).apps) ? pm2App(file, config as { apps: unknown[] }, parsed.options.app, warn) : fromConfigObject(file, config as ConfigObject);
  if (parsed.options.app !== undefined && !Array.isArray((config as ConfigObject).apps)) throw new UsageError(`--app: ${file} is not a pm2 ecosystem file ({ apps: [...] })`);
  const cli = parsed.options;
  const merged: RunOptions = { ...fromFile.options };
  for (const [key, value] of Object.entries(cli)) if (value !== undefined && key !== 'listen') (merged as Record<string, unknown>)[key] = value;
  merged.listen = cli.listen.length > 0 ? cli.listen : fromFile.options.listen;
  return { options: merged, command: parsed.command ?? fromFile.command };
}
