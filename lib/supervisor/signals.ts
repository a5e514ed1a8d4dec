import type { Generation } from './generation';
import { FORWARDED_SIGNALS, STOP_SIGNALS } from './options';

const JOB_CONTROL_SIGNALS: readonly NodeJS.Signals[] = ['SIGTSTP', 'SIGCONT'];
/** gunicorn's and unicorn's convention: one worker more, one fewer. */
const SCALE_SIGNALS: readonly NodeJS.Signals[] = ['SIGTTIN', 'SIGTTOU'];

/** What the supervisor does on each signal it handles. */
export interface SignalActions {
  /** SIGHUP. */
  reload(): void;
  /** SIGTERM, SIGINT, SIGQUIT. */
  stop(signal: NodeJS.Signals): void;
  /** SIGUSR1, SIGUSR2: to the serving generation. */
  forward(signal: NodeJS.Signals): void;
  /** SIGTTIN (+1), SIGTTOU (-1): the number of workers. */
  scale(by: 1 | -1): void;
  /** Every generation, for job control. */
  generations(): Iterable<Generation>;
  log(line: string): void;
}

/**
 * Installs the supervisor's signal handlers (the contract of `handover
 * --help`); returns the function that removes them again.
 */
export function installSignals(actions: SignalActions): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  const route = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') actions.reload();
    else if (STOP_SIGNALS.includes(signal)) actions.stop(signal);
    else if (signal === 'SIGTSTP' || signal === 'SIGCONT') jobControl(signal, actions);
    else if (signal === 'SIGTTIN' || signal === 'SIGTTOU') actions.scale(signal === 'SIGTTIN' ? 1 : -1);
    else actions.forward(signal);
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

// Ctrl-Z: the generations run in process groups of their own, so the
// terminal stops only us. Stop them too, then ourselves; `fg` (SIGCONT)
// continues them.
function jobControl(signal: 'SIGTSTP' | 'SIGCONT', actions: SignalActions): void {
  for (const generation of actions.generations()) generation.signalGroup(signal === 'SIGTSTP' ? 'SIGSTOP' : 'SIGCONT');
  if (signal === 'SIGTSTP') {
    actions.log('SIGTSTP: stopping the generations and the supervisor (continue with fg or SIGCONT)');
    if (process.pid !== 1) process.kill(process.pid, 'SIGSTOP');
  } else {
    actions.log('SIGCONT: continuing the generations');
  }
}
