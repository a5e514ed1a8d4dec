/**
 * drain: taking a server out of service without a client-visible error —
 * the WaitGroup-like DrainCounter, and ServerDrainer, which stops accepting,
 * answers every request already received (HTTP/1, HTTP/2, upgraded sockets),
 * closes idle connections only when no client can be mid-send, and destroys
 * what is left after a timeout. Knows nothing of processes or generations.
 *
 * May import: core.
 * @module
 */
export { DrainCounter } from './counter';
export {
  ServerDrainer,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_DRAIN_IDLE_TIMEOUT,
  DEFAULT_DRAIN_RAMP,
  type DrainOptions,
  type DrainResult,
  type DrainStats,
  type DrainingInfo,
  type ServerDrainerEvents,
  type ServerDrainerOptions,
} from './server-drainer';
