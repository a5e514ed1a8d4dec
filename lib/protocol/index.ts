/**
 * protocol: the wire between generations and with systemd, as plain
 * functions — listen addresses (parse, bind, format), the socket-activation
 * variables (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), sd_notify datagrams
 * (send with patience, receive with the sender's pid, on a private socket;
 * what is ignored, counted), systemd's fd store, the PID file, what a
 * generation knows of its supervisor, and where a generation's module
 * compile cache lives (NODE_COMPILE_CACHE).
 *
 * May import: core, native.
 * @module
 */
export * from './address';
export * from './sockets';
export * from './listen-fds';
export * from './sd-notify';
export { PrivateNotifyListener, privateSocketPath, removePrivateSocket } from './private-socket';
export { IgnoredNotifications, IGNORED_NOTIFY_INTERVAL } from './ignored-notifications';
export { reclaimPidFile, removePidFile, writePidFile } from './pid-file';
export { RELOAD_REQUEST_FIELD, SUPERVISOR_PID_ENV } from './supervised';
export { fdStoreEnabled, type FdStoreSetting, removeStoredFds, storeFds } from './fd-store';
export { checkCompileCache, compileCacheFor, defaultCompileCacheDir, flushCompileCache, nodeHasCompileCache, type CompileCacheOption } from './compile-cache';
