/**
 * supervisor: the process model of `handover run` — one process, one PID for
 * life, that binds the listeners once and runs the app as a series of
 * generations with the socket-activation protocol: spawning, readiness,
 * probation, retiring, crash back-off, signals, reaping, systemd relay, and
 * its re-execution in place (upgrade-self) with its state on an fd.
 *
 * May import: core, native, protocol, drain.
 * @module
 */
export {
  Supervisor,
  Generation,
  FAILED_GENERATION_GRACE,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_SUPERVISOR_DRAIN_TIMEOUT,
  DEFAULT_PROBATION,
  DEFAULT_RESTART_BACKOFF,
  DEFAULT_RESTART_BACKOFF_MAX,
  DEFAULT_WORKERS,
  DEFAULT_RELOAD_PARALLEL,
  FORWARDED_SIGNALS,
  exitCode,
  resolveCommand,
  type SupervisorOptions,
  type SupervisorListener,
  type GenerationState,
  type RestartPolicy,
  type ReadyMode,
} from './supervisor';
export { STOPPING_KILL_FACTOR } from './options';
export { ZombieReaper, REAP_GRACE_MS, becomeSubreaper, type ZombieReaperOptions } from './reaper';
export { controlPath, CONTROL_SOCKET, type ControlPlace } from './control-path';
export { formatStatus, STATUS_SCHEMA, type Status, type StatusGeneration, type StatusReload, type StatusState, type StatusWorker } from './status';
export { type LogFormat } from './log';
export { CHECK_STATE_FD_ENV, checkImage, readState, STATE_FD_ENV, STATE_SCHEMA, type SupervisorState } from './image-state';
