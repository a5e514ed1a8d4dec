/**
 * cli: the `handover` command (bin/handover.js) — the option tables, from
 * which both the parsers and `--help` come (options.ts), and one module per
 * command (commands/).
 *
 * May import: core, protocol, supervisor.
 * @module
 */
export { main, parseCommandLine, supervisorOptions, type Command } from './main';
export { parseRun } from './commands/run';
export { helpText } from './help';
export { formatDuration, maxPid, parseDuration, UsageError, USAGE_EXIT_CODE } from './usage';
