/**
 * core: what every layer uses and that uses nothing of handover — the one
 * error class and Node-shaped system errors, signal names and numbers,
 * closing and unlinking without caring whether it is still there.
 *
 * May import: node builtins only.
 * @module
 */
export * from './errors';
export { signalName, signalNumber } from './signals';
export { closeQuietly, unlinkQuietly } from './quietly';
export { packageRoot } from './package-root';
