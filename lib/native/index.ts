/**
 * native: the addon's TypeScript face. Validates every argument, calls the
 * C++ addon (native/*.cc), turns its raw errnos into Node-shaped errors:
 * fork/exec with an exact fd table, reaping one child, fd utilities. No
 * policy lives here.
 *
 * May import: core.
 * @module
 */
export { native, type NativeBinding, type NativeFdInfo, type NativeListenOptions, type NativeNotifySocket, type NativeSpawnOptions } from './binding';
export { forkExecWithFds, DEFAULT_FILES, MAX_FILES, type ForkExecAttributes } from './fork-exec';
export { waitPid, type ExitStatus, type WaitPidOptions } from './wait-pid';
export { inspectFd, setCloexec, dupCloexec, type FdInfo } from './fd';
