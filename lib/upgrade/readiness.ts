import { native } from '../native';
import { sdNotifyPatiently, SUPERVISOR_PID_ENV, type Upstream } from '../protocol';

// The private channel on which a next generation says READY=1 to the
// generation that started it: an sd_notify socket that only the two know of,
// whose sender the kernel names (Linux), and a watch on the previous
// generation's exit.

/** Environment variable naming the previous generation's pid (set only for the process it starts). */
export const PARENT_PID_ENV = 'HANDOVER_PARENT_PID';
/** Environment variable carrying systemd's own NOTIFY_SOCKET past our private one. */
export const UPSTREAM_NOTIFY_ENV = 'HANDOVER_NOTIFY_SOCKET';

/**
 * The stem of the readiness socket's directory (a fresh 0700 one, see
 * PrivateNotifyListener): `handover-PID-XXXXXX`, which
 * {@link isPrivateNotifyAddress} recognises. A path on Linux too: an abstract
 * name is visible to every user in /proc/net/unix, and anyone could fill its
 * queue.
 */
export const NOTIFY_STEM = 'handover-';

/**
 * True when `address` is a readiness socket of process `pid`: one that
 * {@link NOTIFY_STEM} named, or the abstract `@handover/PID/...` that
 * earlier versions of handover used (a previous generation may run one).
 */
export function isPrivateNotifyAddress(address: string, pid: number): boolean {
  return address.startsWith(`@handover/${pid}/`) || address.includes(`/${NOTIFY_STEM}${pid}-`);
}

/**
 * Resolves when process `pid` (our parent: surely alive now) exits, also
 * when it is SIGKILLed: a pidfd (Linux) or kqueue (macOS) watch, opened at
 * once. Does not keep the process alive. `ancestor`: `pid` is further up the
 * tree (the caller placed it), not our parent.
 */
export function watchExit(pid: number, ancestor = false): Promise<void> {
  return new Promise<void>((resolveExit) => {
    try {
      native('waitForParent').watchExit(pid, false, () => resolveExit(), ancestor);
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
  /** The pid of the `handover run` supervisor this generation runs under (HANDOVER_SUPERVISOR_PID), else null. */
  supervisorPid: number | null;
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
    supervisorPid: /^[0-9]+$/.test(env[SUPERVISOR_PID_ENV] ?? '') && Number(env[SUPERVISOR_PID_ENV]) > 1 ? Number(env[SUPERVISOR_PID_ENV]) : null,
  };
  delete env[SUPERVISOR_PID_ENV];
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
      await sdNotifyPatiently(parentage.notifySocket, { READY: 1 }, undefined, () => log("the previous generation's readiness socket is full: retrying READY=1"));
      return;
    } catch (err) {
      log(`could not notify the previous generation at ${parentage.notifySocket}: ${(err as Error).message}`);
      upstream.send({ MAINPID: process.pid, READY: 1 });
    }
  } else {
    // It died before we were ready: nobody relays, speak to systemd ourselves.
    upstream.send({ MAINPID: process.pid, READY: 1 });
  }
  // A full receiver gets the message later (Upstream retries): ready() resolves once it has it, or gave up.
  await upstream.settled();
}
