import { type FdStoreSetting, fdStoreEnabled, removeStoredFds, storeFds } from '../protocol';
import type { Log } from './log';
import type { OpenedListeners } from './listeners';

/** {@link StoredListeners} as carried across a re-exec of the supervisor. */
export interface StoredState {
  socket: string;
  names: string[];
  paths: string[];
}

/**
 * The listeners this supervisor put in systemd's fd store: after a crash
 * of the supervisor or a `systemctl restart`, systemd passes them to the
 * next start (LISTEN_FDS, with their names), which adopts them — the sockets
 * and the connections queued on them survive. What systemd passed in the
 * first place (socket activation, or the store itself) is not stored again.
 * A Unix socket path of a stored listener stays on disk at exit: it is
 * still the address of the stored socket. {@link release} gives them up.
 */
export class StoredListeners {
  readonly #socket: string;
  readonly #names: string[];
  readonly #paths: string[];

  private constructor(socket: string, names: string[], paths: string[]) {
    this.#socket = socket;
    this.#names = names;
    this.#paths = paths;
  }

  /** Stores what `opened` bound itself, when `setting` says so; null when nothing was stored. */
  static store(opened: OpenedListeners, setting: FdStoreSetting, notifySocket: string | undefined, env: NodeJS.ProcessEnv, log: Log): StoredListeners | null {
    if (!fdStoreEnabled(setting, notifySocket, env)) return null;
    const own = opened.listeners.filter((l) => !l.inherited);
    if (own.length === 0) return null;
    try {
      storeFds(notifySocket!, own);
    } catch (err) {
      log(`could not store the listeners in systemd's fd store (${(err as Error).message}): a restart of the supervisor closes them`, { level: 'warn', event: 'fd-store-failed' });
      return null;
    }
    const paths = own.flatMap((l) => (l.address?.family === 'unix' && opened.paths.includes(l.address.path) ? [l.address.path] : []));
    opened.paths = opened.paths.filter((path) => !paths.includes(path));
    log(`stored ${own.map((l) => `${l.text} (${l.name})`).join(', ')} in systemd's fd store (FDSTORE=1): they outlive a restart of the supervisor`, { event: 'fd-store', count: own.length });
    return new StoredListeners(notifySocket!, own.map((l) => l.name), paths);
  }

  /** What the re-exec'd image restores with {@link restore}. */
  snapshot(): StoredState {
    return { socket: this.#socket, names: [...this.#names], paths: [...this.#paths] };
  }

  static restore(state: StoredState): StoredListeners {
    return new StoredListeners(state.socket, [...state.names], [...state.paths]);
  }

  /** A final stop: systemd closes its copies (FDSTOREREMOVE=1), and the Unix socket paths go at exit. Returns null: nothing is stored any more. */
  release(opened: OpenedListeners, log: Log): null {
    try {
      removeStoredFds(this.#socket, this.#names);
      log(`removed ${[...new Set(this.#names)].join(', ')} from systemd's fd store (FDSTOREREMOVE=1): the ports close with the supervisor`, { event: 'fd-store-remove' });
    } catch (err) {
      log(`could not remove the listeners from systemd's fd store: ${(err as Error).message}`, { level: 'warn', event: 'fd-store-failed' });
    }
    opened.paths.push(...this.#paths.splice(0));
    return null;
  }
}
