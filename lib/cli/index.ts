/**
 * cli: the `handover` command (bin/handover.js) — its option table, from
 * which both the parser and `--help` come, and one module per command.
 *
 * May import: core, protocol, supervisor.
 * @module
 */
export * from './cli';
