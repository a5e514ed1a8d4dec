/**
 * core: what every layer uses and that uses nothing of handover — the one
 * error class and Node-shaped system errors, signal names and numbers,
 * closing and unlinking without caring whether it is still there, the
 * process tree (Linux's /proc), and making text from other processes safe
 * to log.
 *
 * May import: node builtins only.
 * @module
 */
export * from './errors';
export { signalName, signalNumber } from './signals';
export { closeQuietly, unlinkQuietly } from './quietly';
export { version } from './version';
export { resolveLogger, stderrLogger, type Logger } from './logger';
export { isSelfOrDescendant, procInfo, processExists, type ProcInfo } from './process-tree';
export { printable, PRINTABLE_MAX } from './printable';
export { packageRoot } from './package-root';
export { randomHex } from './random';
