/**
 * handover: zero-downtime restarts for Node.js servers.
 * @packageDocumentation
 */
export { forkExecWithFds, DEFAULT_FILES, MAX_FILES, type ForkExecAttributes } from './fork-exec';
export { waitPid, type ExitStatus, type WaitPidOptions } from './wait-pid';
export { inspectFd, setCloexec, dupCloexec, type FdInfo } from './fd';
export { HandoverError, ERROR_CODES, systemError, type HandoverErrorCode, type SystemError } from './errors';
export { signalName, signalNumber } from './signals';
