import { fromNative, invalidValue } from '../core';
import { native } from '../native';
import { formatNotify } from './sd-notify';

// systemd's file descriptor store (FileDescriptorStoreMax= in the unit): fds
// a service hands to systemd with FDSTORE=1 are kept while it restarts — a
// crash, `systemctl restart` — and handed back to its next start as
// LISTEN_FDS with their FDNAME=s. A listening socket stored there survives
// the process, and so do the connections waiting in its queue.

/** Whether to use the fd store: `auto` when systemd (≥ 254) says it has one ($FDSTORE), `yes`, `no`. */
export type FdStoreSetting = 'auto' | 'yes' | 'no';

/** True when fds should go to the store at `notifySocket` (systemd's NOTIFY_SOCKET). */
export function fdStoreEnabled(setting: FdStoreSetting, notifySocket: string | undefined, env: NodeJS.ProcessEnv): boolean {
  if (notifySocket === undefined || setting === 'no') return false;
  if (setting === 'yes') return true;
  if (setting !== 'auto') invalidValue('fdStore', 'must be "auto", "yes" or "no"', setting);
  return /^[1-9][0-9]*$/.test(env.FDSTORE ?? '');
}

/**
 * Stores each fd under its name: one `FDSTORE=1`, `FDNAME=name` datagram per
 * fd, the fd passed with SCM_RIGHTS (sd_pid_notify_with_fds). `FDPOLL=0`:
 * systemd does not watch a listening socket for POLLHUP, which it never
 * gets. Throws a Node-shaped system error when systemd cannot be reached.
 */
export function storeFds(notifySocket: string, files: readonly { fd: number; name: string }[]): void {
  const binding = native('storeFds');
  for (const { fd, name } of files) {
    try {
      binding.notifySend(notifySocket, formatNotify({ FDSTORE: 1, FDNAME: name, FDPOLL: 0 }), [fd]);
    } catch (err) {
      fromNative(err, notifySocket);
    }
  }
}

/** Removes every stored fd called one of `names` (`FDSTOREREMOVE=1`): closed by systemd. */
export function removeStoredFds(notifySocket: string, names: readonly string[]): void {
  const binding = native('removeStoredFds');
  for (const name of new Set(names)) {
    try {
      binding.notifySend(notifySocket, formatNotify({ FDSTOREREMOVE: 1, FDNAME: name }));
    } catch (err) {
      fromNative(err, notifySocket);
    }
  }
}
