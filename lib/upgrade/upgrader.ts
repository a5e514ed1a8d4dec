import type * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { HandoverError, invalidType, invalidValue, type Logger, resolveLogger } from '../core';
import { native } from '../native';
import { checkCompileCache, checkFdName, type CompileCacheOption, flushCompileCache, NOTIFY_RETRY_DEADLINE, parseListenArgs, takeInheritedFds, Upstream, writePidFile } from '../protocol';
import { bindOnFd, listenOnFd } from './adopt';
import { captureEntryPoint, entryPointWarning, type EntryPoint } from './entry-point';
import type { NextGeneration } from './next-generation';
import { announceReady, PARENT_PID_ENV, takeParentage } from './readiness';
import { FdRegistry } from './registry';
import { ParentLink, SupervisorLink } from './lineage';
import { upgradeStep } from './upgrade-step';

export { FAILED_CHILD_GRACE } from './next-generation';
export { listenOnFd } from './adopt';

/** How long the next generation has to call ready() (tableflip's default too). */
export const DEFAULT_UPGRADE_TIMEOUT = 60_000;

/** Options of {@link Upgrader}. */
export interface UpgraderOptions {
  /** ms the next generation has to call ready(); then it is killed (default {@link DEFAULT_UPGRADE_TIMEOUT}). */
  upgradeTimeout?: number;
  /** Written atomically by the generation that becomes ready; relative to the initial cwd. */
  pidFile?: string;
  /** Receives one line per step; default: none (listen to the events instead). */
  log?: (line: string) => void;
  /**
   * Hears what an operator must know although nothing threw: a failed
   * upgrade, an inherited fd that nothing claimed (closed at ready()).
   * `console`, a pino logger, or false; default: a line on stderr.
   */
  logger?: Logger | false;
  /**
   * The next generation's module compile cache (Node >= 22.1, NODE_COMPILE_CACHE):
   * a directory, or false for none. Default: a directory of this app's own
   * under the temporary directory, unless the environment already sets
   * NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE (docs/upgrader.md).
   */
  compileCache?: string | false;
}

type State = 'starting' | 'ready' | 'upgrading' | 'upgraded' | 'stopped';

let current: Upgrader | null = null;

/**
 * The process-level lifecycle of one generation, in the spirit of
 * cloudflare/tableflip with systemd's protocol between generations:
 *
 * 1. at start-up it adopts what the previous generation, systemd,
 *    systemd-socket-activate or the handover supervisor passed (LISTEN_FDS);
 * 2. {@link listen}, {@link listenPacket} and {@link file} return an inherited
 *    socket with the same real address (or fd with the same name), else a new one;
 * 3. {@link ready} says this generation serves (to the previous generation,
 *    or to systemd) and writes the PID file;
 * 4. {@link upgrade} starts the next generation with every fd and resolves
 *    once it is ready; {@link exited} then resolves: drain and exit.
 *
 * A failed upgrade (exec error, crash, timeout, stop) rejects with a
 * HandoverError and changes nothing: this generation goes on serving.
 * There is one Upgrader per process ({@link Upgrader.shared}). The fds are
 * an {@link FdRegistry}'s; a start of the next generation is a
 * {@link NextGeneration}; the readiness channel is in readiness.ts.
 */
export class Upgrader extends EventEmitter {
  /** The process-wide upgrader, created on first use with `options`. */
  static shared(options?: UpgraderOptions): Upgrader {
    return current ?? new Upgrader(options);
  }

  readonly upgradeTimeout: number;
  readonly pidFile: string | undefined;
  readonly #compileCache: CompileCacheOption;
  /** The previous generation's pid when this process was started by one (alive or not), else null. */
  readonly parentPid: number | null;
  /** The pid of the `handover run` supervisor this generation runs under (HANDOVER_SUPERVISOR_PID), else null. */
  readonly supervisorPid: number | null;

  #state: State = 'starting';
  #inheritanceError: HandoverError | undefined;
  #entry: EntryPoint;
  #log: (line: string) => void;
  #logger: Logger;
  #fds: FdRegistry;
  #notifySocket: string | undefined;
  #upstream: Upstream;
  #readyPromise: Promise<void> | undefined;
  #parent: ParentLink | null = null;
  #exited: Promise<void>;
  #resolveExited!: () => void;
  #next: NextGeneration | undefined;
  #supervisor: SupervisorLink | null = null;

  constructor(options: UpgraderOptions = {}) {
    super();
    if (current !== null) {
      throw new HandoverError('ERR_INVALID_ARG_VALUE', 'only one Upgrader may exist per process: use Upgrader.shared()');
    }
    checkOptions(options);
    native('Upgrader');
    this.upgradeTimeout = options.upgradeTimeout ?? DEFAULT_UPGRADE_TIMEOUT;
    this.#compileCache = options.compileCache;
    this.#log = options.log ?? (() => {});
    this.#logger = resolveLogger('options.logger', options.logger);
    this.#entry = captureEntryPoint();
    this.pidFile = options.pidFile === undefined ? undefined : isAbsolute(options.pidFile) ? options.pidFile : resolve(this.#entry.cwd, options.pidFile);

    // Protocol variables are consumed here, once, and never reach the app's children.
    const parentage = takeParentage(process.env);
    this.parentPid = parentage.parentPid;
    this.supervisorPid = parentage.supervisorPid;
    this.#notifySocket = parentage.notifySocket;
    const full = (socket: string) => this.#log(`${socket} is full: retrying for up to ${NOTIFY_RETRY_DEADLINE / 1000} s`);
    this.#upstream = new Upstream(parentage.upstream, (err, socket) => this.#warn(`could not notify systemd at ${socket}: ${err.message}`), full);
    if (parentage.ignored !== undefined) {
      process.nextTick(() => this.#warn(`ignoring ${PARENT_PID_ENV}=${parentage.ignored}: it did not come with that generation's NOTIFY_SOCKET`));
    }
    const inheritance = takeInheritedFds(process.env);
    this.#inheritanceError = inheritance.error;
    this.#fds = new FdRegistry(inheritance.fds, this.#log, (err) => {
      this.#inheritanceError ??= err;
      this.#warn(err.message);
    });
    // Deferred a tick, so that a 'warning' listener added right after construction hears it.
    if (inheritance.error) process.nextTick(() => this.#warn(`ignoring inherited fds: ${inheritance.error?.message}`));
    else if (inheritance.fds.length > 0) this.#log(`inherited ${inheritance.fds.length} fd(s): ${inheritance.fds.map((f) => `${f.fd}=${f.name}`).join(' ')}`);

    if (this.parentPid !== null) this.#parent = new ParentLink(this.parentPid, this.#log, () => this.emit('parent-exited', { pid: this.parentPid }));
    if (this.supervisorPid !== null) {
      this.#supervisor = new SupervisorLink(this.supervisorPid, this.#upstream);
      this.#supervisor.watch(this.parentPid !== null, this.#logger, () => this.emit('supervisor-exited', { pid: this.supervisorPid }));
    }

    const warning = entryPointWarning(this.#entry);
    if (warning) process.nextTick(() => this.#warn(warning));

    this.#exited = new Promise((resolveExited) => {
      this.#resolveExited = resolveExited;
    });
    current = this;
  }

  /**
   * Set when LISTEN_FDS & co. were present but unusable (nothing was adopted),
   * or when a named inherited fd turned out not to be what its name asked for
   * (a fresh one was used instead). Logged; never thrown.
   */
  get inheritanceError(): HandoverError | undefined {
    return this.#inheritanceError;
  }

  /** 'starting' until ready(), then 'ready', 'upgrading', 'upgraded' (retiring) or 'stopped'. */
  get state(): State {
    return this.#state;
  }

  /** True when this process was started by a previous generation. */
  get hasParent(): boolean {
    return this.parentPid !== null;
  }

  /** Inherited fds not claimed yet (closed at ready()). */
  get unclaimed(): readonly { fd: number; name: string }[] {
    return this.#fds.unclaimed;
  }

  /** Fds this generation would hand over, with their names (for logs and tests). */
  get handedOver(): readonly { fd: number; name: string }[] {
    return this.#fds.passed.map(({ fd, name }) => ({ fd, name }));
  }

  /** Resolves once this generation has been replaced: drain, then exit. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /**
   * A listening stream socket's fd for one of net.Server#listen's forms — the
   * inherited one with the same real address when there is one, else a new
   * one. The fd stays the Upgrader's (it is passed on at upgrade); give a
   * server its own duplicate (see {@link listen}).
   * Port 0 adopts an inherited listener on the same host with any port, in
   * order, so a generation keeps its predecessor's real port.
   */
  async listenFd(...args: unknown[]): Promise<number> {
    const spec = parseListenArgs(args);
    this.#checkOpen('listen');
    return this.#fds.streamFd(spec);
  }

  /**
   * Like net.Server#listen, on an inherited socket when one matches: returns
   * `server` (default: a new net.Server) listening on its own duplicate of the
   * Upgrader's fd, so closing the server never closes what is handed over, and
   * never unlinks a Unix socket path.
   */
  async listen(...args: unknown[]): Promise<net.Server> {
    let server: net.Server | undefined;
    if (args[0] instanceof net.Server) server = args.shift() as net.Server;
    const fd = await this.listenFd(...args);
    const target = server ?? net.createServer();
    await listenOnFd(target, fd);
    return target;
  }

  /** A bound UDP socket (inherited when one has the same address), as a dgram.Socket. */
  async listenPacket(type: 'udp4' | 'udp6', port: number, host?: string, name?: string): Promise<dgram.Socket> {
    if (type !== 'udp4' && type !== 'udp6') invalidValue('type', 'must be "udp4" or "udp6"', type);
    if (!Number.isInteger(port) || port < 0 || port > 65535) invalidValue('port', 'must be a port number from 0 to 65535', port);
    if (name !== undefined) checkFdName(name);
    this.#checkOpen('listenPacket');
    return bindOnFd(type, await this.#fds.packetFd(type, port, host, name));
  }

  /**
   * A named fd that is not a listener (a log file, say): the inherited one
   * called `name`, else the one `open()` returns (the Upgrader keeps it and
   * hands it over from now on), else null. Do not close the returned fd.
   */
  file(name: string, open?: () => number): number | null {
    checkFdName(name);
    this.#checkOpen('file');
    return this.#fds.file(name, open);
  }

  /**
   * Says this generation serves: closes inherited fds nobody claimed, writes
   * the PID file, and sends READY=1 to NOTIFY_SOCKET (the previous generation,
   * the supervisor or systemd). Run-once: later calls return the same promise.
   */
  ready(): Promise<void> {
    this.#readyPromise ??= this.#ready();
    return this.#readyPromise;
  }

  async #ready(): Promise<void> {
    if (this.#state === 'stopped') throw new HandoverError('ERR_STOPPED', 'ready() after stop()');
    this.#fds.closeUnclaimed((line) => {
      this.#log(line);
      this.#logger.warn(`${line}: no listen() or file() of this generation asked for it`);
    });
    if (this.pidFile) writePidFile(this.pidFile);
    this.#state = 'ready';
    await announceReady({ parentPid: this.parentPid, notifySocket: this.#notifySocket }, this.#parent?.alive ?? false, this.#upstream, this.#log);
    this.emit('ready');
    // Off the path to ready: for the next generation, which starts while this one serves.
    setImmediate(flushCompileCache).unref();
  }

  /**
   * Resolves when the previous generation has exited (at once when there is
   * none). Works when it was SIGKILLed: the exit is watched with a pidfd (Linux)
   * or kqueue (macOS), opened at start-up while the parent was surely alive.
   */
  waitForParent(): Promise<void> {
    return this.#parent?.exited ?? Promise.resolve();
  }

  /**
   * Starts the next generation with every listener and named fd and resolves
   * once it has called ready(). Rejects with HandoverError — ERR_NOT_READY,
   * ERR_UPGRADE_IN_PROGRESS, ERR_ALREADY_UPGRADED, ERR_PARENT_DRAINING,
   * ERR_STOPPED, ERR_EXEC, ERR_CHILD_EXITED, ERR_UPGRADE_TIMEOUT — and then this
   * generation goes on serving as before.
   */
  upgrade(): Promise<void> {
    const refused = refusal(this.#state, this.#parent?.alive ? this.parentPid : null);
    if (refused) return Promise.reject(refused);
    this.#state = 'upgrading';
    return this.#upgrade().then(
      (pid) => {
        this.#state = 'upgraded';
        // The new generation holds the sockets now. Keeping our copies would
        // only queue connections that nobody here will accept, should it die.
        this.#fds.closeSockets();
        this.emit('upgraded', { pid });
        this.#resolveExited();
      },
      (err: HandoverError) => {
        if (this.#state === 'upgrading') this.#state = 'ready';
        if (err.code !== 'ERR_STOPPED') this.#logger.error(`upgrade failed: ${err.message}; this generation goes on serving`);
        this.emit('upgrade-failed', err);
        throw err;
      },
    );
  }

  async #upgrade(): Promise<number> {
    const spawned = (next: NextGeneration) => {
      this.#next = next;
      this.emit('spawned', { pid: next.pid });
    };
    try {
      const files = this.#fds.passed;
      return await upgradeStep({ entry: { ...this.#entry }, files, timeout: this.upgradeTimeout, supervisorPid: this.supervisorPid, upstream: this.#upstream, pidFile: this.pidFile, log: this.#log, warn: (m) => this.#warn(m), spawned, compileCache: this.#compileCache });
    } finally {
      this.#next = undefined;
    }
  }

  /**
   * Aborts a running upgrade (it rejects with ERR_STOPPED, the new process is
   * killed) and refuses any later one. Nothing will be handed over any more,
   * so the Upgrader closes its own copies of the sockets and the inherited fds
   * nobody claimed: the servers keep theirs and go on accepting until the app
   * closes them — then the kernel refuses new connections instead of queueing
   * them where nobody accepts. Named files (see {@link file}) stay open: the
   * app writes to that very fd.
   */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#next?.abort(new HandoverError('ERR_STOPPED', 'stop() during the upgrade: the new process was stopped'));
    this.#fds.closeUnclaimed();
    this.#fds.closeSockets();
    this.emit('stopped');
  }

  /**
   * Tells systemd (when NOTIFY_SOCKET was set at start-up) that this service is
   * stopping. GracefulServer calls it on shutdown.
   */
  notifyStopping(): void {
    this.#upstream.send({ STOPPING: 1 });
  }

  /**
   * Tells the supervisor (or systemd, which ignores it) how many connections
   * this generation still drains: `X_HANDOVER_DRAINING=n`, for its metrics.
   */
  notifyDraining(connections: number): void {
    this.#upstream.send({ X_HANDOVER_DRAINING: connections });
  }

  /**
   * Under a `handover run` supervisor: asks it for a reload, which replaces
   * every worker as `handover reload` does (see {@link SupervisorLink}) —
   * what a GracefulServer does with its upgrade signals there. False when
   * there is no supervisor to ask.
   */
  requestReload(): boolean {
    return this.#state !== 'stopped' && this.#supervisor !== null && this.#supervisor.requestReload();
  }

  /** True when this generation ran under a supervisor that has exited since (see {@link SupervisorLink.gone}). */
  get supervisorGone(): boolean {
    return this.#supervisor?.gone ?? false;
  }

  #checkOpen(what: string): void {
    if (this.#state === 'stopped') throw new HandoverError('ERR_STOPPED', `${what}() after stop()`);
  }

  // Something the operator must hear about, though nothing failed: logged,
  // and emitted as 'warning' — or, when nobody listens, a process warning
  // (printed on stderr by default), so that it is never silent.
  #warn(message: string): void {
    this.#log(message);
    if (this.listenerCount('warning') > 0) this.emit('warning', message);
    else process.emitWarning(message, 'HandoverWarning');
  }
}

function checkOptions(options: UpgraderOptions): void {
  const timeout = options.upgradeTimeout ?? DEFAULT_UPGRADE_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    invalidValue('options.upgradeTimeout', 'must be a positive number of milliseconds', timeout);
  }
  if (options.pidFile !== undefined && (typeof options.pidFile !== 'string' || options.pidFile === '')) {
    invalidType('options.pidFile', 'a non-empty string', options.pidFile);
  }
  if (options.log !== undefined && typeof options.log !== 'function') invalidType('options.log', 'a function', options.log);
  resolveLogger('options.logger', options.logger);
  checkCompileCache('options.compileCache', options.compileCache);
}

// Why upgrade() cannot start now, or undefined when it can.
function refusal(state: State, drainingParent: number | null): HandoverError | undefined {
  switch (state) {
    case 'starting':
      return new HandoverError('ERR_NOT_READY', 'upgrade() before ready(): this generation does not serve yet');
    case 'upgrading':
      return new HandoverError('ERR_UPGRADE_IN_PROGRESS', 'an upgrade is already running');
    case 'upgraded':
      return new HandoverError('ERR_ALREADY_UPGRADED', 'this generation has already been replaced and is retiring');
    case 'stopped':
      return new HandoverError('ERR_STOPPED', 'upgrade() after stop()');
    default:
  }
  if (drainingParent !== null) {
    return new HandoverError('ERR_PARENT_DRAINING', `the previous generation (pid ${drainingParent}) is still draining; at most two generations run at once`, { parentPid: drainingParent });
  }
  return undefined;
}
