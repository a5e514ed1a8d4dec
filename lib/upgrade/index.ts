/**
 * upgrade: the self-replacing process model, per process — the Upgrader
 * (tableflip's lifecycle): adopt what the previous generation passed, hand
 * every listener and named fd to the next generation, wait for its READY=1
 * on a private channel, and report to systemd.
 *
 * May import: core, native, protocol.
 * @module
 */
export { Upgrader, DEFAULT_UPGRADE_TIMEOUT, FAILED_CHILD_GRACE, listenOnFd, type UpgraderOptions } from './upgrader';
