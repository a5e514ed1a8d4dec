/**
 * protocol: the wire between generations and with systemd, as plain
 * functions — listen addresses (parse, bind, format), the socket-activation
 * variables (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), sd_notify datagrams
 * (send, receive with the sender's pid), the PID file, and where a
 * generation's module compile cache lives (NODE_COMPILE_CACHE).
 *
 * May import: core, native.
 * @module
 */
export * from './address';
export * from './sockets';
export * from './listen-fds';
export * from './sd-notify';
export { reclaimPidFile, removePidFile, writePidFile } from './pid-file';
export { checkCompileCache, compileCacheFor, defaultCompileCacheDir, flushCompileCache, nodeHasCompileCache, type CompileCacheOption } from './compile-cache';
