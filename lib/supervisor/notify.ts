import { HandoverError, printable } from '../core';
import { IgnoredNotifications, NotifyListener, type NotifyMessage, PrivateNotifyListener } from '../protocol';
import type { Generation } from './generation';
import { isSelfOrDescendant } from './proc';

/**
 * The generation a notification belongs to: the one whose main process sent
 * it, or one of whose descendants did — `systemd-notify --ready` run by a
 * shell script sends from its own pid (or, as root, its parent's), never from
 * the generation's. The sender's pid is the kernel's (SCM_CREDENTIALS); its
 * ancestry is read from /proc when the message arrives, so a sender that has
 * already exited cannot be placed. Null for anyone else.
 */
export function senderOf(pid: number, generations: Iterable<Generation>): Generation | null {
  if (pid <= 0) return null;
  const live = [...generations];
  for (const generation of live) if (generation.pid === pid) return generation;
  for (const generation of live) if (isSelfOrDescendant(pid, generation.pid)) return generation;
  return null;
}

/**
 * What a generation's notification means to the supervisor: READY=1 (it
 * serves), STOPPING=1 (it drains by its own rules), MAINPID= (a successor it
 * started to replace itself), STATUS= and RELOADING=1 (logged).
 */
export function applyNotification(generation: Generation, message: NotifyMessage, log: (line: string) => void): void {
  const fields = message.fields;
  const from = message.pid === generation.pid ? '' : ` (sent by pid ${message.pid})`;
  const status = fields.get('STATUS');
  if (status !== undefined) log(`${generation} status: ${oneLine(status)}`);
  const mainPid = fields.get('MAINPID');
  if (mainPid !== undefined && /^[0-9]+$/.test(mainPid) && Number(mainPid) !== generation.pid) {
    const pid = Number(mainPid);
    if (isSelfOrDescendant(pid, generation.pid)) {
      generation.nameSuccessor(pid);
      log(`${generation} names pid ${pid} as its main process (MAINPID)`);
    } else {
      log(`${generation} names pid ${pid} as its main process, which is not its descendant: ignored`);
    }
  }
  if (fields.get('RELOADING') === '1') log(`${generation} is reloading itself (RELOADING=1)`);
  // GracefulServer's own field while it drains (systemd ignores it): for the metrics.
  const draining = fields.get('X_HANDOVER_DRAINING');
  if (draining !== undefined && /^[0-9]+$/.test(draining)) generation.drainingConnections = Number(draining);
  if (fields.get('STOPPING') === '1' && !generation.announcedStopping) {
    generation.announcedStopping = true;
    log(`${generation} is stopping (STOPPING=1)${from}: it drains by its own rules`);
  }
  if (fields.get('READY') === '1' && generation.state === 'starting') {
    if (from) log(`${generation} is ready${from}`);
    generation.markReady();
  }
}

/**
 * The stem of the supervisor's NOTIFY_SOCKET directory (a fresh 0700 one,
 * see PrivateNotifyListener): `handover-supervisor-PID-XXXXXX`.
 */
export const NOTIFY_STEM = 'handover-supervisor-';

/** A notification's text on one log line, every control character escaped (see printable()). */
export function oneLine(text: string): string {
  return printable(text);
}

/**
 * The supervisor's private NOTIFY_SOCKET, a socket file in a fresh 0700
 * directory (removed when it is closed, or at exit): each message is checked
 * against `generations()` (see {@link senderOf}), applied to the generation
 * it belongs to, and passed to `onMessage`; anything else is ignored and
 * counted (see IgnoredNotifications). `address`: the one to bind again (a
 * re-exec'd supervisor's generations have it). Linux only: elsewhere
 * datagrams carry no sender pid (ERR_NOT_SUPPORTED).
 */
export function openNotifySocket(generations: () => Iterable<Generation>, log: (line: string) => void, onMessage: (generation: Generation, message: NotifyMessage) => void, address?: string): NotifyListener {
  // The supervisor accepts READY=1 from a generation or its descendants
  // (systemd-notify), which needs the kernel to name every sender.
  if (process.platform !== 'linux') {
    throw new HandoverError('ERR_NOT_SUPPORTED', `readiness over NOTIFY_SOCKET needs sender credentials, which ${process.platform} does not give: use ready: 'exec' (--ready exec)`);
  }
  // `address`: the one the generations already have (a re-exec'd supervisor
  // binds it again; an abstract one is an earlier version's).
  const listener = address === undefined ? PrivateNotifyListener.open(NOTIFY_STEM) : address.startsWith('@') ? new NotifyListener(address) : PrivateNotifyListener.reopen(address);
  const ignored = IgnoredNotifications.for(listener, log);
  listener.on('message', (message: NotifyMessage) => {
    const generation = senderOf(message.pid, generations());
    if (generation === null) {
      ignored.ignore(message, 'not a generation or one of its descendants');
      return;
    }
    onMessage(generation, message);
    applyNotification(generation, message, log);
  });
  return listener;
}
