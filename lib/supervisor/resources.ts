import { type NotifyListener, type NotifyMessage, removePidFile, Upstream, writePidFile } from '../protocol';
import { stdioTable } from './exec';
import { StoredListeners, type StoredState } from './fd-store';
import type { Generation } from './generation';
import { closeListeners, openListeners, releaseAll, type OpenedListeners, type SupervisorListener } from './listeners';
import type { Log } from './log';
import { openNotifySocket } from './notify';
import type { ResolvedOptions } from './options';
import { becomeSubreaper } from './reaper';

/** What {@link Resources} carries across the supervisor's re-exec (see image-state.ts). */
export interface ResourceState {
  listeners: SupervisorListener[];
  /** Unix socket paths to remove at exit. */
  paths: string[];
  stored: StoredState | null;
  /** systemd's NOTIFY_SOCKET, if any. */
  upstream: string | undefined;
  /** The supervisor's own NOTIFY_SOCKET address, which the generations have in their environment. */
  notify: string | undefined;
  pidFileWritten: boolean;
}

/** How the resources report to the supervisor around them. */
export interface ResourceHooks {
  listening(listener: SupervisorListener): void;
  /** Every live generation, to place a notification's sender. */
  generations(): Iterable<Generation>;
  message(generation: Generation, message: NotifyMessage): void;
}

/**
 * What a supervisor holds for its generations while they come and go: the
 * listeners (bound, adopted from systemd, or from the image before a
 * re-exec), their place in systemd's fd store, the generations' stdio, its
 * private NOTIFY_SOCKET, systemd's (upstream), the subreaper bit and the
 * PID file.
 */
export class Resources {
  readonly opened: OpenedListeners = { listeners: [], fds: [], paths: [] };
  stdio: number[] = [0, 1, 2];
  notify: NotifyListener | null = null;
  stored: StoredListeners | null = null;
  upstream = new Upstream(undefined, () => {});
  #pidFileWritten = false;
  readonly #options: ResolvedOptions;
  readonly #log: Log;

  constructor(options: ResolvedOptions, log: Log) {
    this.#options = options;
    this.#log = log;
  }

  /** Sets everything up; `adopted`: take it over from the image this process was before its re-exec. */
  async open(hooks: ResourceHooks, adopted?: ResourceState): Promise<void> {
    const o = this.#options;
    if (o.subreaper && process.platform === 'linux' && process.pid !== 1 && !becomeSubreaper()) {
      this.#log('could not become a child subreaper: orphaned grandchildren will go to PID 1');
    }
    // Like sd_notify(unset_environment): nothing else in this process, and no
    // generation, talks to systemd in our name.
    this.upstream = new Upstream(adopted ? adopted.upstream : process.env.NOTIFY_SOCKET, (err, socket) => this.#log(`could not notify ${socket}: ${err.message}`));
    delete process.env.NOTIFY_SOCKET;
    this.stdio = o.stdio ? [...o.stdio] : stdioTable(this.opened.fds);

    if (adopted) {
      this.opened.listeners.push(...adopted.listeners);
      this.opened.fds.push(...adopted.listeners.map((l) => l.fd));
      this.opened.paths.push(...adopted.paths);
      this.stored = adopted.stored && StoredListeners.restore(adopted.stored);
    } else {
      await openListeners(this.opened, o.listen, o.inherit, this.#log, hooks.listening);
      if (this.opened.listeners.length === 0) this.#log('no listeners: the generations get no LISTEN_FDS');
      this.stored = StoredListeners.store(this.opened, o.fdStore, this.upstream.socket, process.env, this.#log);
    }
    // The generations keep the address they were given: the same one, bound again.
    if (o.ready === 'notify') this.notify = openNotifySocket(hooks.generations, this.#log, hooks.message, adopted?.notify);
    if (o.pidFile) {
      if (!adopted) writePidFile(o.pidFile);
      this.#pidFileWritten = adopted ? adopted.pidFileWritten : true;
    }
  }

  /** What a re-exec'd image needs to take them over. */
  snapshot(): ResourceState {
    return {
      listeners: this.opened.listeners,
      paths: this.opened.paths,
      stored: this.stored?.snapshot() ?? null,
      upstream: this.upstream.socket,
      notify: this.notify?.path,
      pidFileWritten: this.#pidFileWritten,
    };
  }

  /** The fds a re-exec must keep open: the listeners. */
  get keptFds(): number[] {
    return this.opened.listeners.map((l) => l.fd);
  }

  /** Stopping: no generation will be started any more (see {@link closeListeners}). */
  closeListeners(): void {
    closeListeners(this.opened);
  }

  /** At exit: the notify socket, every fd, the Unix socket paths, the PID file. */
  release(): void {
    this.notify?.close();
    this.notify = null;
    releaseAll(this.opened);
    if (this.#pidFileWritten && this.#options.pidFile) removePidFile(this.#options.pidFile);
  }
}
