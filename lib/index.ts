/**
 * handover: zero-downtime restarts for Node.js servers.
 *
 * The public surface, from the layers below (each folder's index says what
 * it is for and what it may import): core, native, protocol, drain,
 * upgrade, http, supervisor. test/public-api.test.ts pins it.
 * @packageDocumentation
 */
import type * as Supervision from './supervisor';
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
export { bindSocket, formatAddress, type BoundSocket, type BindSocketOptions } from './protocol';

// The supervisor layer (`handover run`'s process model) loads on the first
// use of one of its exports: an app that only serves — GracefulServer,
// listenAndServe, Upgrader — never pays for it at each start of each
// generation. The getters are written in the one form cjs-module-lexer
// reads (`get: function () { return a.b; }`), so that `import { Supervisor }
// from 'handover'` finds them (an ES module import reads every export, and
// so loads the layer).
export type { SupervisorOptions, SupervisorListener, GenerationState, RestartPolicy, ReadyMode, ZombieReaperOptions } from './supervisor';
/** The supervisor of `handover run`: one process, one PID for life, that runs the app as a series of generations. */
export declare const Supervisor: typeof Supervision.Supervisor;
export type Supervisor = Supervision.Supervisor;
/** One process started by a {@link Supervisor}, from start to exit. */
export declare const Generation: typeof Supervision.Generation;
export type Generation = Supervision.Generation;
/** Reaps the zombies of processes reparented to this one (PID 1, a subreaper) without waitpid(-1). */
export declare const ZombieReaper: typeof Supervision.ZombieReaper;
export type ZombieReaper = Supervision.ZombieReaper;
/** ms a generation that failed to become ready has to answer what it accepted, after SIGTERM. */
export declare const FAILED_GENERATION_GRACE: typeof Supervision.FAILED_GENERATION_GRACE;
/** How long a generation has to say READY=1, ms (as GracefulServer's upgradeTimeout). */
export declare const DEFAULT_READY_TIMEOUT: typeof Supervision.DEFAULT_READY_TIMEOUT;
/** ms a retired generation has to drain after SIGTERM before SIGKILL (GracefulServer's own drain timeout). */
export declare const DEFAULT_SUPERVISOR_DRAIN_TIMEOUT: typeof Supervision.DEFAULT_SUPERVISOR_DRAIN_TIMEOUT;
/** How long old and new generation serve side by side after a reload, ms: {@link DEFAULT_DRAIN_RAMP}. */
export declare const DEFAULT_PROBATION: typeof Supervision.DEFAULT_PROBATION;
/** First delay before restarting a crashed generation, ms; doubles with each crash in a row. */
export declare const DEFAULT_RESTART_BACKOFF: typeof Supervision.DEFAULT_RESTART_BACKOFF;
/** Cap of the restart delay, ms; a generation that served this long resets the delay. */
export declare const DEFAULT_RESTART_BACKOFF_MAX: typeof Supervision.DEFAULT_RESTART_BACKOFF_MAX;
/** Worker slots: one process serving, as without workers. */
export declare const DEFAULT_WORKERS: typeof Supervision.DEFAULT_WORKERS;
/** Slots replaced at once in a rolling reload. */
export declare const DEFAULT_RELOAD_PARALLEL: typeof Supervision.DEFAULT_RELOAD_PARALLEL;
/** Signals forwarded to the serving generation (SIGHUP reloads instead). */
export declare const FORWARDED_SIGNALS: typeof Supervision.FORWARDED_SIGNALS;
/** ms a zombie that belongs to nobody in this process waits before the {@link ZombieReaper} reaps it. */
export declare const REAP_GRACE_MS: typeof Supervision.REAP_GRACE_MS;
/** Makes this process a child subreaper (Linux): the orphans of its descendants are reparented to it; false where that does not exist (macOS) or is refused. */
export declare const becomeSubreaper: typeof Supervision.becomeSubreaper;

let supervision: typeof Supervision | undefined;
const lazy = new Proxy({} as typeof Supervision, {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  get: (_target, name) => (supervision ??= require('./supervisor') as typeof Supervision)[name as keyof typeof Supervision],
});
Object.defineProperty(exports, 'Supervisor', { enumerable: true, get: function () { return lazy.Supervisor; } });
Object.defineProperty(exports, 'Generation', { enumerable: true, get: function () { return lazy.Generation; } });
Object.defineProperty(exports, 'ZombieReaper', { enumerable: true, get: function () { return lazy.ZombieReaper; } });
Object.defineProperty(exports, 'FAILED_GENERATION_GRACE', { enumerable: true, get: function () { return lazy.FAILED_GENERATION_GRACE; } });
Object.defineProperty(exports, 'DEFAULT_READY_TIMEOUT', { enumerable: true, get: function () { return lazy.DEFAULT_READY_TIMEOUT; } });
Object.defineProperty(exports, 'DEFAULT_SUPERVISOR_DRAIN_TIMEOUT', { enumerable: true, get: function () { return lazy.DEFAULT_SUPERVISOR_DRAIN_TIMEOUT; } });
Object.defineProperty(exports, 'DEFAULT_PROBATION', { enumerable: true, get: function () { return lazy.DEFAULT_PROBATION; } });
Object.defineProperty(exports, 'DEFAULT_RESTART_BACKOFF', { enumerable: true, get: function () { return lazy.DEFAULT_RESTART_BACKOFF; } });
Object.defineProperty(exports, 'DEFAULT_RESTART_BACKOFF_MAX', { enumerable: true, get: function () { return lazy.DEFAULT_RESTART_BACKOFF_MAX; } });
Object.defineProperty(exports, 'DEFAULT_WORKERS', { enumerable: true, get: function () { return lazy.DEFAULT_WORKERS; } });
Object.defineProperty(exports, 'DEFAULT_RELOAD_PARALLEL', { enumerable: true, get: function () { return lazy.DEFAULT_RELOAD_PARALLEL; } });
Object.defineProperty(exports, 'FORWARDED_SIGNALS', { enumerable: true, get: function () { return lazy.FORWARDED_SIGNALS; } });
Object.defineProperty(exports, 'REAP_GRACE_MS', { enumerable: true, get: function () { return lazy.REAP_GRACE_MS; } });
Object.defineProperty(exports, 'becomeSubreaper', { enumerable: true, get: function () { return lazy.becomeSubreaper; } });
