/** Which signals a GracefulServer reacts to, and how. */
export interface SignalRoute {
  upgrade: readonly NodeJS.Signals[];
  shutdown: readonly NodeJS.Signals[];
  onUpgrade(signal: NodeJS.Signals): void;
  /** `repeated`: a shutdown signal had already arrived (a second Ctrl-C). */
  onShutdown(signal: NodeJS.Signals, repeated: boolean): void;
}

const routes = new Set<SignalRoute>();
const listeners = new Map<NodeJS.Signals, () => void>();
let shutdownSeen = false;

function dispatch(signal: NodeJS.Signals): void {
  const all = [...routes];
  // One upgrade per process, whatever the number of servers: they all drain
  // when the shared Upgrader reports the new generation ready.
  const upgrader = all.find((r) => r.upgrade.includes(signal));
  upgrader?.onUpgrade(signal);
  const stopping = all.filter((r) => r.shutdown.includes(signal));
  if (stopping.length > 0) {
    const repeated = shutdownSeen;
    shutdownSeen = true;
    for (const route of stopping) route.onShutdown(signal, repeated);
  }
}

function sync(): void {
  const wanted = new Set<NodeJS.Signals>();
  for (const r of routes) for (const s of [...r.upgrade, ...r.shutdown]) wanted.add(s);
  for (const signal of wanted) {
    if (listeners.has(signal)) continue;
    const listener = () => dispatch(signal);
    listeners.set(signal, listener);
    // Added next to the app's own handlers, never instead of them.
    process.on(signal, listener);
  }
  for (const [signal, listener] of listeners) {
    if (wanted.has(signal)) continue;
    process.off(signal, listener);
    listeners.delete(signal);
  }
}

/**
 * Routes process signals to `route` until the returned function is called.
 * One process-level listener per signal, shared by every GracefulServer;
 * once no route wants a signal its listener is removed, so its default
 * action (or the app's own handler) applies again.
 */
export function onProcessSignals(route: SignalRoute): () => void {
  routes.add(route);
  sync();
  return () => {
    routes.delete(route);
    sync();
  };
}
