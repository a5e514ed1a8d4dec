import { EventEmitter } from 'node:events';
import { unlinkSync } from 'node:fs';
import type * as net from 'node:net';
import { parseListenArgs } from '../protocol';
import { DEFAULT_DRAIN_RAMP, DEFAULT_DRAIN_TIMEOUT, ServerDrainer, type DrainResult } from '../drain';
import { HandoverError, invalidType, invalidValue, type Logger, resolveLogger } from '../core';
import { onProcessSignals, type SignalRoute } from './process-signals';
import { Upgrader, type UpgraderOptions } from '../upgrade';

/** Signals that start an upgrade (tableflip, endless and nginx use these). */
export const DEFAULT_UPGRADE_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGHUP', 'SIGUSR2']);
/** Signals that drain and exit without a successor. */
export const DEFAULT_SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT']);

/** Options of {@link GracefulServer} (and {@link listenAndServe}). */
export interface GracefulServerOptions {
  /** Written atomically by the generation that serves; relative to the initial cwd. */
  pidFile?: string;
  /** Signals that call upgrade(); `[]` or false for none. Default {@link DEFAULT_UPGRADE_SIGNALS}. */
  upgradeSignals?: NodeJS.Signals[] | false;
  /** Signals that call shutdown(); `[]` or false for none. Default {@link DEFAULT_SHUTDOWN_SIGNALS}. */
  shutdownSignals?: NodeJS.Signals[] | false;
  /** ms before remaining connections are destroyed. Default {@link DEFAULT_DRAIN_TIMEOUT}. */
  drainTimeout?: number;
  /**
   * After an upgrade, ms during which both generations serve: the old one
   * goes on accepting and releases its keep-alive connections in batches
   * (ServerDrainer's `ramp`), so the new generation takes the load over
   * while its code warms up. Default {@link DEFAULT_DRAIN_RAMP}; 0: the new
   * generation gets every new connection at once. shutdown() stops
   * accepting at once and only releases the keep-alive connections over
   * this time (under the supervisor, its next generation takes them).
   */
  drainRamp?: number;
  /**
   * ms a draining HTTP/1 connection may stay idle before it is closed
   * (ServerDrainer's `idleTimeout`). Default: when Node would close it by
   * itself (`keepAliveTimeout` plus Node's buffer), 5000 ms when
   * `keepAliveTimeout` is 0. Shorter risks closing under a client's request.
   */
  idleTimeout?: number;
  /** ms for the new generation to become ready. Default 60 000. */
  upgradeTimeout?: number;
  /** The next generation's module compile cache: a directory, or false for none ({@link UpgraderOptions.compileCache}). */
  compileCache?: string | false;
  /** On shutdown, keep serving this many ms first so load balancers notice (default 0). */
  shutdownDelay?: number;
  /** Say ready() once every GracefulServer of the process has listened (default true). */
  autoReady?: boolean;
  /** Exit the process once every GracefulServer has drained after an upgrade or shutdown (default true). */
  exit?: boolean;
  /** Called for each upgraded connection (WebSocket...) when draining starts: say goodbye, then end it. */
  onUpgradedConnection?: (socket: net.Socket) => void;
  /** Called for each connection of a plain net.Server when draining starts: end it when it is idle. */
  onConnectionDrain?: (socket: net.Socket) => void;
  /** Hears a failed upgrade, a drain that ended at its timeout, an inherited socket nothing claimed: `console`, pino, or false. Default: stderr. */
  logger?: Logger | false;
}

type Phase = 'idle' | 'listening' | 'draining' | 'closed';

const registry = new Set<GracefulServer>();
let pendingListens = 0;
let readyScheduled = false;
let exitScheduled = false;

function checkSignals(name: string, value: unknown, fallback: readonly NodeJS.Signals[]): NodeJS.Signals[] {
  if (value === undefined) return [...fallback];
  if (value === false) return [];
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || !/^SIG[A-Z0-9]+$/.test(s))) {
    invalidType(name, 'an array of signal names or false', value);
  }
  return value as NodeJS.Signals[];
}

function checkMs(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    invalidValue(name, `must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`, value);
  }
  return value;
}

/**
 * Zero-downtime restarts for one server (http, https, http2 or net): listen()
 * adopts the socket the previous generation handed over; SIGHUP/SIGUSR2 start
 * the next generation (upgrade()); once it is ready this one drains — goes
 * on accepting for `drainRamp`, answers every request already received
 * (`Connection: close` on the last), sends HTTP/2 GOAWAY, lets in-flight
 * requests finish, destroys what is left after `drainTimeout` — and exits.
 * SIGTERM/SIGINT drain the same way without a successor (shutdown()).
 * Under the `handover run` supervisor, SIGHUP/SIGUSR2 ask it for a reload
 * instead (it starts the next generation, of every worker).
 *
 * Events: `upgrading` { pid, newPid }, `upgraded` { pid, newPid, durationMs },
 * `upgrade-failed` (HandoverError), `upgrade-queued` { pid, parentPid, signal }
 * (an upgrade signal arrived while the previous generation still drains: the
 * upgrade starts once it has exited), `reload-requested` { pid, supervisorPid,
 * signal } (under the supervisor), `draining` { pid, connections, requests },
 * `drained` { pid, durationMs, hammered, ... }, `hammer` { pid, destroyed }, `error`.
 */
export class GracefulServer extends EventEmitter {
  readonly server: net.Server;
  readonly upgrader: Upgrader;
  readonly drainTimeout: number;
  readonly drainRamp: number;
  readonly shutdownDelay: number;
  #drainer: ServerDrainer;
  #phase: Phase = 'idle';
  #autoReady: boolean;
  #exit: boolean;
  #drained: Promise<DrainResult> | undefined;
  #unixPaths: string[] = [];
  #unsubscribeSignals: () => void;
  #upgradeQueued = false;
  #skipShutdownDelay: (() => void) | undefined;
  #logger: Logger;

  constructor(server: net.Server, options: GracefulServerOptions = {}) {
    super();
    if (server === null || typeof server !== 'object' || typeof (server as net.Server).listen !== 'function') {
      invalidType('server', 'a net.Server (http, https, http2 or net)', server);
    }
    if (options === null || typeof options !== 'object') invalidType('options', 'an object', options);
    const upgradeSignals = checkSignals('options.upgradeSignals', options.upgradeSignals, DEFAULT_UPGRADE_SIGNALS);
    const shutdownSignals = checkSignals('options.shutdownSignals', options.shutdownSignals, DEFAULT_SHUTDOWN_SIGNALS);
    this.drainTimeout = checkMs('options.drainTimeout', options.drainTimeout, DEFAULT_DRAIN_TIMEOUT);
    this.shutdownDelay = checkMs('options.shutdownDelay', options.shutdownDelay, 0, true);
    this.drainRamp = checkMs('options.drainRamp', options.drainRamp, DEFAULT_DRAIN_RAMP, true);
    this.#autoReady = options.autoReady ?? true;
    this.#exit = options.exit ?? true;
    this.server = server;
    const logger = resolveLogger('options.logger', options.logger);
    this.#logger = logger;
    this.upgrader = Upgrader.shared({ upgradeTimeout: options.upgradeTimeout, pidFile: options.pidFile, logger: options.logger, compileCache: options.compileCache });
    this.#drainer = new ServerDrainer(server, {
      idleTimeout: options.idleTimeout,
      onUpgraded: options.onUpgradedConnection,
      onConnectionDrain: options.onConnectionDrain,
    });
    this.#drainer.on('draining', (stats) => this.emit('draining', { pid: process.pid, ...stats }));
    this.#drainer.on('hammer', (info) => {
      logger.warn(`drain: ${info.destroyed} connection(s) still open after the drain timeout (${this.drainTimeout} ms) or a second stop signal: destroyed`);
      this.emit('hammer', { pid: process.pid, ...info });
    });
    this.#drainer.on('draining', (stats) => this.upgrader.notifyDraining(stats.connections));
    let spawnedAt = 0;
    this.upgrader.on('spawned', ({ pid }: { pid: number }) => {
      spawnedAt = Date.now();
      this.emit('upgrading', { pid: process.pid, newPid: pid });
    });
    this.upgrader.on('upgraded', ({ pid }: { pid: number }) => {
      this.emit('upgraded', { pid: process.pid, newPid: pid, durationMs: Date.now() - spawnedAt });
      this.#retire();
    });
    this.upgrader.on('upgrade-failed', (err: HandoverError) => this.emit('upgrade-failed', err));
    const route: SignalRoute = {
      upgrade: upgradeSignals,
      shutdown: shutdownSignals,
      onUpgrade: (signal) => this.#upgradeFromSignal(signal),
      onShutdown: (signal, repeated) => this.#shutdownFromSignal(signal, repeated),
    };
    this.#unsubscribeSignals = onProcessSignals(route);
    registry.add(this);
  }

  /**
   * Same forms as net.Server#listen (port, host, backlog, path, options).
   * Adopts the inherited socket with the same real address, else binds one.
   * Once every GracefulServer of the process has listened, the process says
   * it is ready (unless `autoReady: false`; then call `upgrader.ready()`).
   */
  async listen(...args: unknown[]): Promise<void> {
    if (this.#phase !== 'idle') throw new HandoverError('ERR_INVALID_ARG_VALUE', `listen() called twice (the server is ${this.#phase})`);
    pendingListens++;
    try {
      const listenArgs = args.filter((a) => typeof a !== 'function');
      await this.upgrader.listen(this.server, ...listenArgs);
      // From the request, not from server.address(): a server listening on a
      // Unix socket by fd has no address (Node never learns the path).
      const spec = parseListenArgs(listenArgs);
      if (spec.kind === 'unix' && !spec.path.startsWith('@')) this.#unixPaths.push(spec.path);
      this.#phase = 'listening';
    } finally {
      pendingListens--;
    }
    const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
    if (this.#autoReady) {
      scheduleReady(this.upgrader, (err) => {
        // A shutdown signal between listen() and ready(): nothing to report.
        if ((err as HandoverError).code !== 'ERR_STOPPED') this.emit('error', err);
      });
    }
    callback?.();
  }

  /**
   * What SIGHUP does: start the next generation; resolves once it serves
   * (this one then drains and exits). Rejects with a HandoverError when the
   * new generation fails; this one goes on serving as before.
   */
  upgrade(): Promise<void> {
    return this.upgrader.upgrade();
  }

  /**
   * What SIGTERM does: drain without a successor (after `shutdownDelay`), then
   * exit. From the call on no upgrade starts (one running is aborted), also
   * during the delay, in which the server goes on accepting.
   */
  async shutdown(): Promise<DrainResult> {
    if (this.#drained) return this.#drained;
    const phase = this.#phase;
    this.upgrader.notifyStopping();
    this.upgrader.stop();
    this.#drained = (async () => {
      if (this.shutdownDelay > 0 && phase === 'listening') await this.#shutdownDelay();
      const result = await this.#drain(this.drainRamp, false);
      // No successor serves the path any more: remove it, as Node's close() would.
      for (const path of this.#unixPaths) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
      return result;
    })();
    return this.#drained;
  }

  /** Open connections and in-flight requests, for logs. */
  get stats(): { connections: number; requests: number; upgraded: number } {
    return this.#drainer.stats;
  }

  #shutdownDelay(): Promise<void> {
    return new Promise((resolveDelay) => {
      const timer = setTimeout(resolveDelay, this.shutdownDelay);
      this.#skipShutdownDelay = () => {
        clearTimeout(timer);
        resolveDelay();
      };
    });
  }

  #upgradeFromSignal(signal: NodeJS.Signals): void {
    // Under `handover run` the reload is the supervisor's: it replaces every
    // worker and keeps each new generation its own child.
    if (this.upgrader.supervisorPid !== null) {
      if (this.upgrader.requestReload()) this.emit('reload-requested', { pid: process.pid, supervisorPid: this.upgrader.supervisorPid, signal });
      else this.#logger.warn(`${signal}: cannot ask the supervisor (pid ${this.upgrader.supervisorPid}) for a reload: it has no notify socket and is not this process's parent; use handover reload`);
      return;
    }
    // Failures are reported through 'upgrade-failed'; this generation goes on serving.
    this.upgrade().catch((err: unknown) => {
      if (!(err instanceof HandoverError) || err.code !== 'ERR_PARENT_DRAINING' || this.#upgradeQueued) return;
      // At most two generations run at once, but the signal (a deploy) must not
      // be lost: upgrade as soon as the previous generation has exited.
      this.#upgradeQueued = true;
      this.emit('upgrade-queued', { pid: process.pid, parentPid: this.upgrader.parentPid, signal });
      this.upgrader.waitForParent().then(() => {
        this.#upgradeQueued = false;
        if (this.#phase === 'listening') this.upgrade().catch(() => {});
      });
    });
  }

  #retire(): void {
    if (this.#drained) return;
    // A successor serves: overlap with it for drainRamp.
    this.#drained = this.#drain(this.drainRamp);
  }

  async #drain(ramp = 0, acceptDuringRamp = true): Promise<DrainResult> {
    this.#phase = 'draining';
    const result = await this.#drainer.drain({ timeout: this.drainTimeout, ramp, acceptDuringRamp });
    this.#phase = 'closed';
    this.#unsubscribeSignals();
    registry.delete(this);
    this.emit('drained', { pid: process.pid, ...result });
    if (this.#exit) scheduleExit();
    return result;
  }

  #shutdownFromSignal(_signal: NodeJS.Signals, repeated: boolean): void {
    // The supervisor's death can bring PDEATHSIG (SIGTERM) once per thread of
    // it: that is one request to stop, not a second.
    if (repeated && this.upgrader.supervisorGone) return;
    if (repeated) {
      // A second Ctrl-C while draining (or waiting out shutdownDelay): stop at once.
      this.#skipShutdownDelay?.();
      this.#drainer.hammer();
      return;
    }
    this.shutdown().catch((err) => this.emit('error', err));
  }
}

function scheduleReady(upgrader: Upgrader, onError: (err: unknown) => void): void {
  if (readyScheduled) return;
  readyScheduled = true;
  const attempt = () => {
    if (pendingListens > 0) {
      setImmediate(attempt);
      return;
    }
    upgrader.ready().catch(onError);
  };
  setImmediate(attempt);
}

// Every GracefulServer of the process has drained: nothing is left to serve.
function scheduleExit(): void {
  if (exitScheduled || registry.size > 0) return;
  exitScheduled = true;
  setImmediate(() => process.exit(0));
}
