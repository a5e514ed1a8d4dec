import { CHECK_STATE_FD_ENV, checkImage, readState, STATE_FD_ENV, Supervisor, type SupervisorOptions, type SupervisorState } from '../../supervisor';
import { USAGE_EXIT_CODE } from '../usage';

/** The fd named by environment variable `name` (then removed from the environment), if any. */
function takeFd(name: string): number | undefined {
  const text = process.env[name];
  delete process.env[name];
  return text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : undefined;
}

/**
 * `handover run`: runs the supervisor and resolves with its exit code once
 * it has stopped. Started by a supervisor's upgrade-self, it is that
 * supervisor's new image: with HANDOVER_STATE_FD it takes over (adopt())
 * instead of starting; with HANDOVER_CHECK_STATE_FD it is the pre-flight,
 * which only reads and checks the state (0: it can be adopted).
 */
export async function run(options: SupervisorOptions, err: (text: string) => void): Promise<number> {
  const check = takeFd(CHECK_STATE_FD_ENV);
  const stateFd = takeFd(STATE_FD_ENV);
  let supervisor: Supervisor;
  try {
    supervisor = new Supervisor(options);
  } catch (e) {
    err(`handover: ${(e as Error).message}\n`);
    return USAGE_EXIT_CODE;
  }
  if (check !== undefined) return preflight(check, err);
  let state: SupervisorState | undefined;
  if (stateFd !== undefined) {
    try {
      state = readState(stateFd);
    } catch (e) {
      // The pre-flight read the same: this should not happen. Starting afresh is all there is left.
      err(`handover: cannot take over from the previous image (${(e as Error).message}): starting afresh\n`);
    }
  }
  (state ? supervisor.adopt(state) : supervisor.start()).catch(() => {}); // logged by the supervisor
  return supervisor.exited;
}

// The new image proves that it loads (its JavaScript and its addon) and reads the state.
function preflight(fd: number, err: (text: string) => void): number {
  try {
    const state = checkImage(fd);
    err(`handover: pre-flight: the state of pid ${state.pid} (schema ${state.schema}, handover ${state.version}) can be taken over: ${state.resources.listeners.length} listener(s), ${state.generations.length} generation(s)\n`);
    return 0;
  } catch (e) {
    err(`handover: pre-flight: ${(e as Error).message}\n`);
    return 1;
  }
}
