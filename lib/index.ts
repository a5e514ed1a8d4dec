/**
 * handover: zero-downtime restarts for Node.js servers.
 *
 * The public surface, from the layers below (each folder's index says what
 * it is for and what it may import): core, native, protocol, drain,
 * upgrade, http, supervisor. test/public-api.test.ts pins it.
 * @packageDocumentation
 */
export { forkExecWithFds, DEFAULT_FILES, MAX_FILES, type ForkExecAttributes } from './native';
export { waitPid, type ExitStatus, type WaitPidOptions } from './native';
export { inspectFd, setCloexec, dupCloexec, type FdInfo } from './native';
export { HandoverError, ERROR_CODES, systemError, type HandoverErrorCode, type SystemError } from './core';
export { signalName, signalNumber } from './core';
export { Upgrader, DEFAULT_UPGRADE_TIMEOUT, FAILED_CHILD_GRACE, listenOnFd, type UpgraderOptions } from './upgrade';
export { sdNotify, NotifyListener, formatNotify, parseNotify, type NotifyFields, type NotifyMessage } from './protocol';
export { takeInheritedFds, LISTEN_FDS_START, type InheritedFd, type Inheritance } from './protocol';
export { parseAddress, parseListenArgs, type ListenSpec, type PacketSpec } from './protocol';
export { writePidFile } from './protocol';
export { DrainCounter } from './drain';
export { ServerDrainer, DEFAULT_DRAIN_TIMEOUT, DEFAULT_DRAIN_IDLE_TIMEOUT, type DrainResult, type ServerDrainerOptions } from './drain';
export { GracefulServer, DEFAULT_UPGRADE_SIGNALS, DEFAULT_SHUTDOWN_SIGNALS, DEFAULT_DRAIN_RAMP, type GracefulServerOptions } from './http';
export { listenAndServe, type ListenAndServeOptions } from './http';
export { Supervisor, Generation, FAILED_GENERATION_GRACE, DEFAULT_READY_TIMEOUT, DEFAULT_SUPERVISOR_DRAIN_TIMEOUT, DEFAULT_PROBATION, DEFAULT_RESTART_BACKOFF, DEFAULT_RESTART_BACKOFF_MAX, DEFAULT_WORKERS, DEFAULT_RELOAD_PARALLEL, FORWARDED_SIGNALS, type SupervisorOptions, type SupervisorListener, type GenerationState, type RestartPolicy, type ReadyMode } from './supervisor';
export { ZombieReaper, REAP_GRACE_MS, becomeSubreaper, type ZombieReaperOptions } from './supervisor';
export { bindSocket, formatAddress, type BoundSocket, type BindSocketOptions } from './protocol';
