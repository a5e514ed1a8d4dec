import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import * as net from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { addressKey, bindAddress, type BoundAddress, checkFdName, type InheritedFd, ipv6Available, type ListenSpec, monotonicUsec, type NotifyFields, NotifyListener, type NotifyMessage, parseListenArgs, resolveHost, sdNotify, sdNotifyPatiently, takeInheritedFds, writePidFile } from '../protocol';
import { dupCloexec, type ExitStatus, forkExecWithFds, native, setCloexec, waitPid } from '../native';
import { captureEntryPoint, entryPointWarning, nextArgv, type EntryPoint } from './entry-point';
import { addressError, closeQuietly, HandoverError, invalidType, invalidValue, unlinkQuietly } from '../core';

/** How long the next generation has to call ready() (tableflip's default too). */
export const DEFAULT_UPGRADE_TIMEOUT = 60_000;

/** ms a next generation that failed has, after SIGTERM, to answer what it accepted before SIGKILL. */
export const FAILED_CHILD_GRACE = 10_000;

const EADDRINUSE = (osConstants.errno as Record<string, number>).EADDRINUSE;

/** Environment variable naming the previous generation's pid (set only for the process it starts). */
export const PARENT_PID_ENV = 'HANDOVER_PARENT_PID';
/** Environment variable carrying systemd's own NOTIFY_SOCKET past our private one. */
export const UPSTREAM_NOTIFY_ENV = 'HANDOVER_NOTIFY_SOCKET';

/** Options of {@link Upgrader}. */
export interface UpgraderOptions {
  /** ms the next generation has to call ready(); then it is killed (default {@link DEFAULT_UPGRADE_TIMEOUT}). */
  upgradeTimeout?: number;
  /** Written atomically by the generation that becomes ready; relative to the initial cwd. */
  pidFile?: string;
  /** Receives one line per step; default: none (listen to the events instead). */
  log?: (line: string) => void;
}

/** What one fd handed to the next generation is. */
interface Passed {
  fd: number;
  name: string;
  /** Address key for sockets; undefined for named files. */
  key?: string;
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
 * There is one Upgrader per process ({@link Upgrader.shared}).
 */
export class Upgrader extends EventEmitter {
  /** The process-wide upgrader, created on first use with `options`. */
  static shared(options?: UpgraderOptions): Upgrader {
    return current ?? new Upgrader(options);
  }

  readonly upgradeTimeout: number;
  readonly pidFile: string | undefined;
  /** The previous generation's pid when this process was started by one (alive or not), else null. */
  readonly parentPid: number | null;

  #state: State = 'starting';
  #inheritanceError: HandoverError | undefined;
  #entry: EntryPoint;
  #log: (line: string) => void;
  #inherited: InheritedFd[];
  #passed: Passed[] = [];
  #notifySocket: string | undefined;
  #upstreamNotify: string | undefined;
  #readyPromise: Promise<void> | undefined;
  #parentExit: Promise<void> | undefined;
  #parentAlive = false;
  #exited: Promise<void>;
  #resolveExited!: () => void;
  #abortUpgrade: ((err: HandoverError) => void) | undefined;
  #ipv6: boolean | undefined;

  constructor(options: UpgraderOptions = {}) {
    super();
    if (current !== null) {
      throw new HandoverError('ERR_INVALID_ARG_VALUE', 'only one Upgrader may exist per process: use Upgrader.shared()');
    }
    const timeout = options.upgradeTimeout ?? DEFAULT_UPGRADE_TIMEOUT;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      invalidValue('options.upgradeTimeout', 'must be a positive number of milliseconds', timeout);
    }
    if (options.pidFile !== undefined && (typeof options.pidFile !== 'string' || options.pidFile === '')) {
      invalidType('options.pidFile', 'a non-empty string', options.pidFile);
    }
    if (options.log !== undefined && typeof options.log !== 'function') invalidType('options.log', 'a function', options.log);
    native('Upgrader');
    this.upgradeTimeout = timeout;
    this.#log = options.log ?? (() => {});
    this.#entry = captureEntryPoint();
    this.pidFile = options.pidFile === undefined ? undefined : isAbsolute(options.pidFile) ? options.pidFile : resolve(this.#entry.cwd, options.pidFile);

    // Protocol variables are consumed here, once, and never reach the app's children.
    const env = process.env;
    const parentText = env[PARENT_PID_ENV];
    const parentPid = parentText !== undefined && /^[0-9]+$/.test(parentText) ? Number(parentText) : 0;
    this.#notifySocket = env.NOTIFY_SOCKET || undefined;
    // A previous generation always sets both: its pid, and its private
    // readiness socket named after that pid. A stray HANDOVER_PARENT_PID alone
    // (copied from an environment dump, say) must not make upgrades wait for
    // a parent that is a shell and never exits.
    const fromGeneration = parentPid > 1 && this.#notifySocket !== undefined && isPrivateNotifyAddress(this.#notifySocket, parentPid);
    if (parentText !== undefined && !fromGeneration) {
      process.nextTick(() => this.#warn(`ignoring ${PARENT_PID_ENV}=${parentText}: it did not come with that generation's NOTIFY_SOCKET`));
    }
    this.parentPid = fromGeneration ? parentPid : null;
    this.#upstreamNotify = this.parentPid !== null ? env[UPSTREAM_NOTIFY_ENV] || undefined : this.#notifySocket;
    delete env.NOTIFY_SOCKET;
    delete env[UPSTREAM_NOTIFY_ENV];
    delete env[PARENT_PID_ENV];

    const inheritance = takeInheritedFds(env);
    this.#inherited = inheritance.fds;
    this.#inheritanceError = inheritance.error;
    // Deferred a tick, so that a 'warning' listener added right after construction hears it.
    if (inheritance.error) process.nextTick(() => this.#warn(`ignoring inherited fds: ${inheritance.error?.message}`));
    else if (this.#inherited.length > 0) this.#log(`inherited ${this.#inherited.length} fd(s): ${this.#inherited.map((f) => `${f.fd}=${f.name}`).join(' ')}`);

    if (this.parentPid !== null) {
      // Started by a previous generation that may have died since (SIGKILL,
      // OOM): then we were reparented, and its pid may already be another
      // process's. Nobody is draining, and nobody will relay our readiness.
      if (this.parentPid === process.ppid) this.#watchParent(this.parentPid);
      else this.#log(`the previous generation (pid ${this.parentPid}) exited before this one started`);
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
    return this.#inherited.map(({ fd, name }) => ({ fd, name }));
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
    const address = await this.#bindAddress(spec);
    const claimed = this.#claimSocket('stream', spec.name, address);
    if (claimed !== undefined) return claimed;
    const bound = await bindAddress('stream', address, { backlog: spec.backlog, ipv6Only: spec.kind === 'tcp' ? spec.ipv6Only : false });
    this.#register(bound.fd, spec.name, 'stream', bound.address);
    return bound.fd;
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
    const resolved = await resolveHost(host ?? (type === 'udp6' ? '::' : '0.0.0.0'), true);
    const address: BoundAddress = { family: resolved.family, address: resolved.address, port };
    let fd = this.#claimSocket('dgram', name, address);
    if (fd === undefined) {
      const bound = await bindAddress('dgram', address, { ipv6Only: type === 'udp6' });
      fd = bound.fd;
      this.#register(fd, name, 'dgram', bound.address);
    }
    const socket = dgram.createSocket(type);
    const own = dupCloexec(fd);
    await new Promise<void>((resolveBind, rejectBind) => {
      socket.once('error', rejectBind);
      socket.bind({ fd: own }, () => {
        socket.off('error', rejectBind);
        resolveBind();
      });
    });
    return socket;
  }

  /**
   * A named fd that is not a listener (a log file, say): the inherited one
   * called `name`, else the one `open()` returns (the Upgrader keeps it and
   * hands it over from now on), else null. Do not close the returned fd.
   */
  file(name: string, open?: () => number): number | null {
    checkFdName(name);
    if (open !== undefined && typeof open !== 'function') invalidType('open', 'a function', open);
    this.#checkOpen('file');
    if (this.#passed.some((p) => p.name === name && p.key === undefined)) {
      invalidValue('name', 'is already handed over by this generation', name);
    }
    const index = this.#inherited.findIndex((f) => f.name === name && !(f.info.type === 'socket' && f.info.listening));
    if (index < 0) {
      const misnamed = this.#inherited.find((f) => f.name === name);
      if (misnamed) this.#misnamed(misnamed, 'a listening socket, not a file');
    } else {
      const [inherited] = this.#inherited.splice(index, 1);
      this.#passed.push({ fd: inherited.fd, name });
      return inherited.fd;
    }
    if (!open) return null;
    const fd = open();
    if (!Number.isInteger(fd) || fd < 0) invalidType('open()', 'to return a file descriptor', fd);
    setCloexec(fd, true);
    this.#passed.push({ fd, name });
    return fd;
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
    for (const { fd, name } of this.#inherited.splice(0)) {
      this.#log(`closing unclaimed inherited fd ${fd} (${name})`);
      closeQuietly(fd);
    }
    if (this.pidFile) writePidFile(this.pidFile);
    this.#state = 'ready';
    if (this.parentPid === null) {
      // Started by systemd, a supervisor or a shell: tell it directly.
      this.#notifyUpstream({ READY: 1, MAINPID: process.pid });
    } else if (this.#parentAlive && this.#notifySocket) {
      // The previous generation waits for this on its private socket, and
      // relays MAINPID to systemd.
      try {
        await sdNotifyPatiently(this.#notifySocket, { READY: 1 });
      } catch (err) {
        this.#log(`could not notify the previous generation at ${this.#notifySocket}: ${(err as Error).message}`);
        this.#notifyUpstream({ MAINPID: process.pid, READY: 1 });
      }
    } else {
      // It died before we were ready: nobody relays, speak to systemd ourselves.
      this.#notifyUpstream({ MAINPID: process.pid, READY: 1 });
    }
    this.emit('ready');
  }

  /**
   * Resolves when the previous generation has exited (at once when there is
   * none). Works when it was SIGKILLed: the exit is watched with a pidfd (Linux)
   * or kqueue (macOS), opened at start-up while the parent was surely alive.
   */
  waitForParent(): Promise<void> {
    return this.#parentExit ?? Promise.resolve();
  }

  /**
   * Starts the next generation with every listener and named fd and resolves
   * once it has called ready(). Rejects with HandoverError — ERR_NOT_READY,
   * ERR_UPGRADE_IN_PROGRESS, ERR_ALREADY_UPGRADED, ERR_PARENT_DRAINING,
   * ERR_STOPPED, ERR_EXEC, ERR_CHILD_EXITED, ERR_UPGRADE_TIMEOUT — and then this
   * generation goes on serving as before.
   */
  upgrade(): Promise<void> {
    switch (this.#state) {
      case 'starting':
        return Promise.reject(new HandoverError('ERR_NOT_READY', 'upgrade() before ready(): this generation does not serve yet'));
      case 'upgrading':
        return Promise.reject(new HandoverError('ERR_UPGRADE_IN_PROGRESS', 'an upgrade is already running'));
      case 'upgraded':
        return Promise.reject(new HandoverError('ERR_ALREADY_UPGRADED', 'this generation has already been replaced and is retiring'));
      case 'stopped':
        return Promise.reject(new HandoverError('ERR_STOPPED', 'upgrade() after stop()'));
      default:
    }
    if (this.#parentAlive) {
      return Promise.reject(
        new HandoverError('ERR_PARENT_DRAINING', `the previous generation (pid ${this.parentPid}) is still draining; at most two generations run at once`, { parentPid: this.parentPid }),
      );
    }
    this.#state = 'upgrading';
    return this.#upgrade().then(
      (pid) => {
        this.#state = 'upgraded';
        // The new generation holds the sockets now. Keeping our copies would
        // only queue connections that nobody here will accept, should it die.
        this.#closeSockets();
        this.emit('upgraded', { pid });
        this.#resolveExited();
      },
      (err: HandoverError) => {
        if (this.#state === 'upgrading') this.#state = 'ready';
        this.emit('upgrade-failed', err);
        throw err;
      },
    );
  }

  async #upgrade(): Promise<number> {
    const started = Date.now();
    this.#notifyUpstream({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString() });
    const notifyPath = notifyAddress();
    let listener: NotifyListener;
    try {
      listener = new NotifyListener(notifyPath);
    } catch (err) {
      this.#notifyUpstream({ READY: 1 });
      throw new HandoverError('ERR_EXEC', `cannot create the readiness socket: ${(err as Error).message}`, { cause: err });
    }
    try {
      const pid = await this.#startAndAwaitReady(listener, notifyPath);
      this.#log(`generation ${pid} is ready after ${Date.now() - started} ms`);
      this.#notifyUpstream({ MAINPID: pid, READY: 1 });
      return pid;
    } catch (err) {
      this.#reclaimPidFile();
      this.#notifyUpstream({ READY: 1, STATUS: `upgrade failed: ${(err as Error).message}` });
      throw err;
    } finally {
      listener.close();
      removeNotifyAddress(notifyPath);
    }
  }

  #startAndAwaitReady(listener: NotifyListener, notifyPath: string): Promise<number> {
    const entry = { ...this.#entry };
    const env: Record<string, string | undefined> = {
      ...process.env,
      LISTEN_FDS: String(this.#passed.length),
      LISTEN_FDNAMES: this.#passed.map((p) => p.name).join(':'),
      NOTIFY_SOCKET: notifyPath,
      [PARENT_PID_ENV]: String(process.pid),
      [UPSTREAM_NOTIFY_ENV]: this.#upstreamNotify,
    };
    let pid: number;
    try {
      pid = forkExecWithFds(entry.execPath, nextArgv(entry), {
        cwd: entry.cwd,
        env,
        files: [0, 1, 2, ...this.#passed.map((p) => p.fd)],
        listenPid: true,
      });
    } catch (err) {
      return Promise.reject(new HandoverError('ERR_EXEC', `cannot start the next generation: ${(err as Error).message}`, { cause: err }));
    }
    this.emit('spawned', { pid });
    this.#log(`started generation ${pid}`);
    const exit = waitPid(pid, { ref: false });

    return new Promise<number>((resolveReady, rejectReady) => {
      let settled = false;
      const finish = (err: HandoverError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listener.off('message', onMessage);
        this.#abortUpgrade = undefined;
        if (!err) {
          resolveReady(pid);
          return;
        }
        // The failed child must be gone before we report. It may already have
        // accepted connections from the shared socket: SIGTERM (and SIGCONT,
        // should it be stopped) lets it answer them; SIGKILL follows after
        // FAILED_CHILD_GRACE. Then it is reaped.
        signalQuietly(pid, 'SIGTERM');
        signalQuietly(pid, 'SIGCONT');
        const kill = setTimeout(() => signalQuietly(pid, 'SIGKILL'), FAILED_CHILD_GRACE);
        const report = () => {
          clearTimeout(kill);
          rejectReady(err);
        };
        exit.then(report, report);
      };
      const onMessage = (message: NotifyMessage) => {
        if (message.pid !== pid && !(message.pid === -1 && process.platform !== 'linux')) {
          this.#log(`ignoring a notification from pid ${message.pid}: only ${pid} may say it is ready`);
          return;
        }
        if (message.fields.get('READY') === '1') finish(null);
      };
      listener.on('message', onMessage);
      exit.then(
        (status: ExitStatus) =>
          finish(
            new HandoverError('ERR_CHILD_EXITED', `the next generation (pid ${pid}) exited before it was ready: ${describeExit(status)}`, {
              pid,
              exitCode: status.code,
              signal: status.signal,
            }),
          ),
        (err: unknown) => finish(new HandoverError('ERR_CHILD_EXITED', `lost track of the next generation (pid ${pid})`, { cause: err, pid })),
      );
      const timer = setTimeout(
        () => finish(new HandoverError('ERR_UPGRADE_TIMEOUT', `the next generation (pid ${pid}) was not ready within ${this.upgradeTimeout} ms; it was killed`, { pid })),
        this.upgradeTimeout,
      );
      this.#abortUpgrade = finish;
    });
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
    const abort = this.#abortUpgrade;
    this.#state = 'stopped';
    abort?.(new HandoverError('ERR_STOPPED', 'stop() during the upgrade: the new process was stopped'));
    for (const { fd } of this.#inherited.splice(0)) closeQuietly(fd);
    this.#closeSockets();
    this.emit('stopped');
  }

  // Closes our copies of the sockets (servers keep their own duplicates);
  // named files stay open: the app writes to those very fds.
  #closeSockets(): void {
    this.#passed = this.#passed.filter(({ fd, key }) => {
      if (key === undefined) return true;
      closeQuietly(fd);
      return false;
    });
  }

  /**
   * Tells systemd (when NOTIFY_SOCKET was set at start-up) that this service is
   * stopping. GracefulServer calls it on shutdown.
   */
  notifyStopping(): void {
    this.#notifyUpstream({ STOPPING: 1 });
  }

  /** Fds this generation would hand over, with their names (for logs and tests). */
  get handedOver(): readonly { fd: number; name: string }[] {
    return this.#passed.map(({ fd, name }) => ({ fd, name }));
  }

  // --- internals ---------------------------------------------------------

  #checkOpen(what: string): void {
    if (this.#state === 'stopped') throw new HandoverError('ERR_STOPPED', `${what}() after stop()`);
  }

  async #bindAddress(spec: ListenSpec): Promise<BoundAddress> {
    if (spec.kind === 'unix') return { family: 'unix', path: spec.path };
    if (spec.host === undefined) this.#ipv6 ??= ipv6Available();
    const resolved = await resolveHost(spec.host, this.#ipv6 ?? true);
    return { ...resolved, port: spec.port };
  }

  #claimSocket(kind: 'stream' | 'dgram', name: string | undefined, address: BoundAddress): number | undefined {
    const wanted = addressKey(kind, address);
    const anyPort = address.family !== 'unix' && address.port === 0;
    if (!anyPort && this.#passed.some((p) => p.key === wanted)) {
      throw addressInUse(address);
    }
    // The real address decides. For port 0 ("any port on this host") a name
    // picks among the listeners there: the same name first, then one passed
    // without a name ('unknown', systemd's default); an unnamed request takes
    // an unnamed listener first, then any.
    const wantedName = name ?? 'unknown';
    const rank = (f: InheritedFd): number => {
      const info = f.info;
      if (!isSocketOfKind(f, kind)) return -1;
      if (address.family === 'unix') return info.family === 'unix' && info.path === address.path ? 0 : -1;
      if (info.family !== address.family || info.address !== address.address) return -1;
      if (!anyPort) return info.port === address.port ? 0 : -1;
      if (f.name === wantedName) return 0;
      if (f.name === 'unknown') return 1;
      return name === undefined ? 2 : -1;
    };
    let index = -1;
    let best = Infinity;
    this.#inherited.forEach((f, i) => {
      const r = rank(f);
      if (r >= 0 && r < best) {
        best = r;
        index = i;
      }
    });
    if (index < 0) {
      const misnamed = name === undefined ? undefined : this.#inherited.find((f) => f.name === name && !isSocketOfKind(f, kind));
      if (misnamed) this.#misnamed(misnamed, kind === 'stream' ? 'not a listening stream socket' : 'not a datagram socket');
      return undefined;
    }
    const [found] = this.#inherited.splice(index, 1);
    const real = boundAddressOf(found);
    this.#passed.push({ fd: found.fd, name: name ?? found.name, key: addressKey(kind, real) });
    this.#log(`adopted inherited fd ${found.fd} for ${addressKey(kind, real)}`);
    return found.fd;
  }

  // A name says what an fd is for; an fd that is something else is a
  // configuration error upstream. Not fatal: the caller binds or opens afresh,
  // and the fd is closed at ready() with the other unclaimed ones.
  #misnamed(f: InheritedFd, what: string): void {
    const err = new HandoverError('ERR_INHERITED_FDS', `inherited fd ${f.fd} is named "${f.name}" but is ${what}: using a new one`, { fd: f.fd, name: f.name });
    this.#inheritanceError ??= err;
    this.#warn(err.message);
  }

  // Something the operator must hear about, though nothing failed: logged,
  // and emitted as 'warning' — or, when nobody listens, a process warning
  // (printed on stderr by default), so that it is never silent.
  #warn(message: string): void {
    this.#log(message);
    if (this.listenerCount('warning') > 0) this.emit('warning', message);
    else process.emitWarning(message, 'HandoverWarning');
  }

  /** `address` is the real one (bindAddress replaced port 0). */
  #register(fd: number, name: string | undefined, kind: 'stream' | 'dgram', address: BoundAddress): void {
    this.#passed.push({ fd, name: name ?? 'unknown', key: addressKey(kind, address) });
  }

  // The failed child may have written its pid in the PID file just before it
  // was killed (its READY=1 racing our timeout or stop()): it is dead now, and
  // this generation serves on, so the file must name this one again.
  #reclaimPidFile(): void {
    if (!this.pidFile) return;
    let content: string | undefined;
    try {
      content = readFileSync(this.pidFile, 'utf8');
    } catch {
      // missing: ours to write again
    }
    if (content === `${process.pid}\n`) return;
    try {
      writePidFile(this.pidFile);
    } catch (err) {
      this.#warn(`could not rewrite the PID file ${this.pidFile}: ${(err as Error).message}`);
    }
  }

  #notifyUpstream(fields: NotifyFields): void {
    if (!this.#upstreamNotify) return;
    try {
      sdNotify(this.#upstreamNotify, fields);
    } catch (err) {
      this.#warn(`could not notify systemd at ${this.#upstreamNotify}: ${(err as Error).message}`);
    }
  }

  #watchParent(pid: number): void {
    this.#parentAlive = true;
    this.#parentExit = new Promise<void>((resolveExit) => {
      const done = () => {
        this.#parentAlive = false;
        this.emit('parent-exited', { pid });
        resolveExit();
      };
      try {
        native('waitForParent').watchExit(pid, false, () => done());
      } catch {
        done(); // already gone
      }
    });
  }
}

function isSocketOfKind(f: InheritedFd, kind: 'stream' | 'dgram'): boolean {
  return f.info.type === 'socket' && f.info.socketType === kind && (kind === 'dgram' || f.info.listening === true);
}

function boundAddressOf(f: InheritedFd): BoundAddress {
  const info = f.info;
  if (info.family === 'unix') return { family: 'unix', path: info.path ?? '' };
  return { family: info.family === 'IPv6' ? 'IPv6' : 'IPv4', address: info.address ?? '', port: info.port ?? 0 };
}

/** Makes `server` listen on its own close-on-exec duplicate of `fd`. */
export function listenOnFd(server: net.Server, fd: number): Promise<void> {
  const own = dupCloexec(fd);
  return new Promise<void>((resolveListen, rejectListen) => {
    const onError = (err: Error) => {
      closeQuietly(own);
      rejectListen(err);
    };
    server.once('error', onError);
    server.listen({ fd: own }, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
}

function describeExit(status: ExitStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

function addressInUse(address: BoundAddress): Error {
  return listenError(-EADDRINUSE, 'listen', address, 'this generation already listens on it');
}

function listenError(errno: number, syscall: string, address: BoundAddress, note?: string): Error {
  return address.family === 'unix'
    ? addressError(errno, syscall, address.path, undefined, note)
    : addressError(errno, syscall, address.address, address.port, note);
}

// Linux: an abstract socket, nothing on disk to clean up, whose senders the
// kernel names. Elsewhere (macOS attaches no sender credentials to datagrams)
// a socket in a fresh 0700 directory, so only this user's processes can send.
function notifyAddress(): string {
  const id = `handover/${process.pid}/${randomBytes(8).toString('hex')}`;
  if (process.platform === 'linux') return `@${id}`;
  const dir = mkdtempSync(join(tmpdir(), `handover-${process.pid}-`));
  return join(dir, 'notify.sock');
}

function removeNotifyAddress(address: string): void {
  if (address.startsWith('@')) return;
  unlinkQuietly(address);
  try {
    rmdirSync(dirname(address));
  } catch {
    // gone already
  }
}

function isPrivateNotifyAddress(address: string, pid: number): boolean {
  return address.startsWith(`@handover/${pid}/`) || address.includes(`handover-${pid}-`);
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

