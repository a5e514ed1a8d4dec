import type { Generation } from './generation';
import type { Log } from './log';
import { RELOAD_REQUEST_FIELD } from '../protocol';
import { FORWARDED_SIGNALS, STOP_SIGNALS } from './options';

const JOB_CONTROL_SIGNALS: readonly NodeJS.Signals[] = ['SIGTSTP', 'SIGCONT'];
/** gunicorn's and unicorn's convention: one worker more, one fewer. */
const SCALE_SIGNALS: readonly NodeJS.Signals[] = ['SIGTTIN', 'SIGTTOU'];

/** The supervisor, as its signal handlers see it. */
export interface Signalled {
  readonly phase: string;
  readonly generations: readonly Generation[];
  readonly workers: readonly unknown[];
  readonly options: { log: Log };
  reload(): Promise<unknown>;
  forward(signal: NodeJS.Signals): boolean;
  scale(size: number): void;
}

/**
 * Installs the supervisor's signal handlers (the contract of `handover
 * --help`); `stop` is its stop for SIGTERM, SIGINT and SIGQUIT. Returns the
 * function that removes them again.
 */
export function installSignals(supervisor: Signalled, stop: (signal: NodeJS.Signals) => void): () => void {
  const log = supervisor.options.log;
  const handlers = new Map<NodeJS.Signals, () => void>();
  const route = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') {
      if (supervisor.phase !== 'running') {
        log('SIGHUP: ignored while stopping');
        return;
      }
      log('SIGHUP: reload');
      supervisor.reload().catch(() => {}); // logged and emitted as 'reload-failed'
    } else if (STOP_SIGNALS.includes(signal)) {
      stop(signal);
    } else if (signal === 'SIGTSTP' || signal === 'SIGCONT') {
      jobControl(signal, supervisor.generations, log);
    } else if (signal === 'SIGTTIN' || signal === 'SIGTTOU') {
      const size = supervisor.workers.length + (signal === 'SIGTTIN' ? 1 : -1);
      if (supervisor.phase !== 'running') log(`${signal}: ignored while stopping`);
      else if (size < 1) log('SIGTTOU: ignored: one worker is the fewest');
      else supervisor.scale(size);
    } else {
      supervisor.forward(signal);
    }
  };
  for (const signal of ['SIGHUP', ...FORWARDED_SIGNALS, ...JOB_CONTROL_SIGNALS, ...SCALE_SIGNALS] as NodeJS.Signals[]) {
    const handler = () => route(signal);
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    handlers.clear();
  };
}

/**
 * A generation asked for a reload (`X_HANDOVER_RELOAD=1`: a GracefulServer
 * under the supervisor turns its own upgrade signals into this request). The
 * reload is the supervisor's, of every worker, as for SIGHUP; asked by a
 * generation that does not serve (draining, starting), it is ignored.
 */
export function reloadAskedBy(supervisor: Signalled, generation: Generation): void {
  const log = supervisor.options.log;
  if (supervisor.phase !== 'running' || generation.state !== 'serving') {
    log(`${generation} asks for a reload (${RELOAD_REQUEST_FIELD}=1) while ${supervisor.phase === 'running' ? generation.state : supervisor.phase}: ignored`);
    return;
  }
  log(`${generation} asks for a reload (${RELOAD_REQUEST_FIELD}=1: the app got an upgrade signal): reload`, { event: 'reload-request', generation: generation.number, worker: generation.slot, generationPid: generation.pid });
  supervisor.reload().catch(() => {}); // logged and emitted as 'reload-failed'
}

// Ctrl-Z: the generations run in process groups of their own, so the
// terminal stops only us. Stop them too, then ourselves; `fg` (SIGCONT)
// continues them.
function jobControl(signal: 'SIGTSTP' | 'SIGCONT', generations: Iterable<Generation>, log: Log): void {
  for (const generation of generations) generation.signalGroup(signal === 'SIGTSTP' ? 'SIGSTOP' : 'SIGCONT');
  if (signal === 'SIGTSTP') {
    log('SIGTSTP: stopping the generations and the supervisor (continue with fg or SIGCONT)');
    if (process.pid !== 1) process.kill(process.pid, 'SIGSTOP');
  } else {
    log('SIGCONT: continuing the generations');
  }
}
