/**
 * handover: zero-downtime restarts for Node.js servers.
 * @packageDocumentation
 */
export { forkExecWithFds, DEFAULT_FILES, MAX_FILES, type ForkExecAttributes } from './fork-exec';
export { waitPid, type ExitStatus, type WaitPidOptions } from './wait-pid';
export { inspectFd, setCloexec, dupCloexec, type FdInfo } from './fd';
export { HandoverError, ERROR_CODES, systemError, type HandoverErrorCode, type SystemError } from './errors';
export { signalName, signalNumber } from './signals';
export { Upgrader, DEFAULT_UPGRADE_TIMEOUT, FAILED_CHILD_GRACE, listenOnFd, type UpgraderOptions } from './upgrader';
export { sdNotify, NotifyListener, formatNotify, parseNotify, type NotifyFields, type NotifyMessage } from './sd-notify';
export { takeInheritedFds, LISTEN_FDS_START, type InheritedFd, type Inheritance } from './listen-fds';
export { parseAddress, parseListenArgs, type ListenSpec, type PacketSpec } from './address';
export { writePidFile } from './pid-file';
export { DrainCounter } from './drain-counter';
export { ServerDrainer, DEFAULT_DRAIN_TIMEOUT, DEFAULT_DRAIN_IDLE_TIMEOUT, type DrainResult, type ServerDrainerOptions } from './drain';
export { GracefulServer, DEFAULT_UPGRADE_SIGNALS, DEFAULT_SHUTDOWN_SIGNALS, DEFAULT_DRAIN_RAMP, type GracefulServerOptions } from './graceful-server';
export { listenAndServe, type ListenAndServeOptions } from './listen-and-serve';
export { Supervisor, Generation, FAILED_GENERATION_GRACE, DEFAULT_READY_TIMEOUT, DEFAULT_SUPERVISOR_DRAIN_TIMEOUT, DEFAULT_PROBATION, DEFAULT_RESTART_BACKOFF, DEFAULT_RESTART_BACKOFF_MAX, FORWARDED_SIGNALS, type SupervisorOptions, type SupervisorListener, type GenerationState, type RestartPolicy, type ReadyMode } from './supervisor';
export { ZombieReaper, REAP_GRACE_MS, becomeSubreaper, type ZombieReaperOptions } from './supervisor-reaper';
export { bindSocket, formatAddress, type BoundSocket, type BindSocketOptions } from './sockets';
