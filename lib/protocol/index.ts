/**
 * protocol: the wire between generations and with systemd, as plain
 * functions — listen addresses (parse, bind, format), the socket-activation
 * variables (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), sd_notify datagrams
 * (send, receive with the sender's pid), systemd's fd store, the PID file,
 * and what a generation knows of its supervisor.
 *
 * May import: core, native.
 * @module
 */
export * from './address';
export * from './sockets';
export * from './listen-fds';
export * from './sd-notify';
export { reclaimPidFile, removePidFile, writePidFile } from './pid-file';
export { RELOAD_REQUEST_FIELD, SUPERVISOR_PID_ENV } from './supervised';
export { fdStoreEnabled, type FdStoreSetting, removeStoredFds, storeFds } from './fd-store';
