/**
 * http: zero-downtime servers — GracefulServer (an Upgrader and a
 * ServerDrainer around an http, https, http2 or net server, driven by
 * signals) and listenAndServe, its one-line form.
 *
 * May import: core, protocol, drain, upgrade.
 * @module
 */
export { GracefulServer, DEFAULT_UPGRADE_SIGNALS, DEFAULT_SHUTDOWN_SIGNALS, type GracefulServerOptions } from './graceful-server';
export { DEFAULT_DRAIN_RAMP } from '../drain';
export { listenAndServe, type ListenAndServeOptions } from './listen-and-serve';
