import { closeSync, mkdtempSync, openSync, readSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unlinkQuietly } from '../core';
import { native } from '../native';
import { sdNotifyPatiently, type Upstream } from '../protocol';

// The private channel on which a next generation says READY=1 to the
// generation that started it: an sd_notify socket that only the two know of,
// whose sender the kernel names (Linux), and a watch on the previous
// generation's exit.

/** Environment variable naming the previous generation's pid (set only for the process it starts). */
export const PARENT_PID_ENV = 'HANDOVER_PARENT_PID';
/** Environment variable carrying systemd's own NOTIFY_SOCKET past our private one. */
export const UPSTREAM_NOTIFY_ENV = 'HANDOVER_NOTIFY_SOCKET';

// The kernel's random bytes, read directly: loading node:crypto for eight
// bytes cost about 2 ms of every upgrade, between the signal and the spawn.
function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, buffer, 0, bytes, null);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('hex');
}

/**
 * A fresh address for the readiness socket. Linux: an abstract socket,
 * nothing on disk to clean up, whose senders the kernel names. Elsewhere
 * (macOS attaches no sender credentials to datagrams) a socket in a fresh
 * 0700 directory, so only this user's processes can send.
 */
export function notifyAddress(): string {
  const id = `handover/${process.pid}/${randomHex(8)}`;
  if (process.platform === 'linux') return `@${id}`;
  const dir = mkdtempSync(join(tmpdir(), `handover-${process.pid}-`));
  return join(dir, 'notify.sock');
}

/** Removes what {@link notifyAddress} made on disk, if anything. */
export function removeNotifyAddress(address: string): void {
  if (address.startsWith('@')) return;
  unlinkQuietly(address);
  try {
    rmdirSync(dirname(address));
  } catch {
    // gone already
  }
}

/** True when `address` is one {@link notifyAddress} made in process `pid`. */
export function isPrivateNotifyAddress(address: string, pid: number): boolean {
  return address.startsWith(`@handover/${pid}/`) || address.includes(`handover-${pid}-`);
}

/**
 * Resolves when process `pid` (our parent: surely alive now) exits, also
 * when it is SIGKILLed: a pidfd (Linux) or kqueue (macOS) watch, opened at
 * once. Does not keep the process alive.
 */
export function watchExit(pid: number): Promise<void> {
  return new Promise<void>((resolveExit) => {
    try {
      native('waitForParent').watchExit(pid, false, () => resolveExit());
    } catch {
      resolveExit(); // already gone
    }
  });
}

/** What a generation learns from the environment about who started it and whom to tell it is ready. */
export interface Parentage {
  /** The previous generation's pid, when a previous generation started this one. */
  parentPid: number | null;
  /** Where to say READY=1: the previous generation's private socket, or systemd's. */
  notifySocket: string | undefined;
  /** systemd's NOTIFY_SOCKET, for speaking to it directly (MAINPID, RELOADING, STOPPING). */
  upstream: string | undefined;
  /** A stray HANDOVER_PARENT_PID that was ignored, for a warning. */
  ignored: string | undefined;
}

/**
 * Reads and removes the readiness variables (NOTIFY_SOCKET and ours) from
 * `env`, so that they never reach the app's children. A previous generation
 * always sets both its pid and its private readiness socket named after that
 * pid: a HANDOVER_PARENT_PID alone (copied from an environment dump, say)
 * must not make upgrades wait for a parent that is a shell and never exits.
 */
export function takeParentage(env: NodeJS.ProcessEnv): Parentage {
  const parentText = env[PARENT_PID_ENV];
  const parentPid = parentText !== undefined && /^[0-9]+$/.test(parentText) ? Number(parentText) : 0;
  const notifySocket = env.NOTIFY_SOCKET || undefined;
  const fromGeneration = parentPid > 1 && notifySocket !== undefined && isPrivateNotifyAddress(notifySocket, parentPid);
  const parentage: Parentage = {
    parentPid: fromGeneration ? parentPid : null,
    notifySocket,
    upstream: fromGeneration ? env[UPSTREAM_NOTIFY_ENV] || undefined : notifySocket,
    ignored: parentText !== undefined && !fromGeneration ? parentText : undefined,
  };
  delete env.NOTIFY_SOCKET;
  delete env[UPSTREAM_NOTIFY_ENV];
  delete env[PARENT_PID_ENV];
  return parentage;
}

/**
 * Says READY=1 for this process to whoever waits for it: a previous
 * generation that is still alive, on its private socket (it relays MAINPID
 * to systemd); else systemd or the supervisor directly, with our MAINPID.
 */
export async function announceReady(parentage: { parentPid: number | null; notifySocket: string | undefined }, parentAlive: boolean, upstream: Upstream, log: (line: string) => void): Promise<void> {
  if (parentage.parentPid === null) {
    // Started by systemd, a supervisor or a shell.
    upstream.send({ READY: 1, MAINPID: process.pid });
  } else if (parentAlive && parentage.notifySocket) {
    try {
      await sdNotifyPatiently(parentage.notifySocket, { READY: 1 });
    } catch (err) {
      log(`could not notify the previous generation at ${parentage.notifySocket}: ${(err as Error).message}`);
      upstream.send({ MAINPID: process.pid, READY: 1 });
    }
  } else {
    // It died before we were ready: nobody relays, speak to systemd ourselves.
    upstream.send({ MAINPID: process.pid, READY: 1 });
  }
}
