/**
 * protocol: the wire between generations and with systemd, as plain
 * functions — listen addresses (parse, bind, format), the socket-activation
 * variables (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), sd_notify datagrams
 * (send, receive with the sender's pid), and the PID file.
 *
 * May import: core, native.
 * @module
 */
export * from './address';
export * from './sockets';
export * from './listen-fds';
export * from './sd-notify';
export { reclaimPidFile, removePidFile, writePidFile } from './pid-file';
