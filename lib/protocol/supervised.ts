// What a generation knows of the supervisor that started it (`handover run`),
// beyond systemd's protocol.

/**
 * The supervisor's pid, in every generation's environment: a generation
 * that outlives it (a successor the app started itself, which no
 * PDEATHSIG covers, or any generation on macOS) stops as the others do.
 */
export const SUPERVISOR_PID_ENV = 'HANDOVER_SUPERVISOR_PID';

/**
 * The notification field by which a generation asks its supervisor for a
 * reload (`X_HANDOVER_RELOAD=1`): what a GracefulServer does with its own
 * upgrade signals under a supervisor, whose reload then replaces every
 * worker as usual. systemd ignores fields it does not know.
 */
export const RELOAD_REQUEST_FIELD = 'X_HANDOVER_RELOAD';
