// Fault: another process says READY=1 on the new generation's NOTIFY_SOCKET
// (its name is in /proc/PID/environ and in /proc/net/unix). The new
// generation here never says it itself, so only a spoof could end the wait.
// Spoofers: this test process, another process, an unprivileged process
// (uid 65534) with and without SCM_CREDENTIALS forging the new generation's
// pid — and, as a documented limit, a process with CAP_SYS_ADMIN doing the
// same, which the kernel lets claim any pid.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, expect, it } from 'vitest';
import { sdNotify } from '../../lib/index';
import { cleanupRuns, removeScratch } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, environOf, gone, gracefulUpgradeTo, report, servingPid, startSupervisor, stopLoads, supervisorReloadTo } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

/**
 * Sends one datagram READY=1 (MAINPID=argv[3]) to argv[1]; with argv[2] > 0
 * it attaches SCM_CREDENTIALS claiming that pid. Prints "sent" or the errno.
 */
const SPOOF_PY = `
import errno, os, socket, struct, sys
addr, pid, main = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
target = "\\0" + addr[1:] if addr.startswith("@") else addr
anc = [] if pid == 0 else [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("3i", pid, os.getuid(), os.getgid()))]
try:
    s.sendmsg([("READY=1\\nMAINPID=" + main).encode()], anc, 0, target)
    print("sent")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
`;

function spoof(notifySocket: string, claimPid: number, mainPid: number, asNobody = false): string {
  // The system's python: a per-user shim (pyenv) may not be readable by uid 65534.
  const python = [existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', '-c', SPOOF_PY, notifySocket, String(claimPid), String(mainPid)];
  const argv = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...python] : python;
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10_000 }).trim();
}



/**
 * Four spoofs that must change nothing; returns what each sender saw. The
 * socket is a file in a 0700 directory: uid 65534 cannot reach it (EACCES),
 * and the kernel refuses its forged credentials before it looks (EPERM).
 */
function spoofAll(notifySocket: string, childPid: number): string[] {
  sdNotify(notifySocket, { READY: 1, MAINPID: childPid }); // throws if nobody listens: it is delivered
  return [
    'this test process: sent',
    `another process (python, root, no credentials attached): ${spoof(notifySocket, 0, childPid)}`,
    `an unprivileged process (uid 65534) claiming pid ${childPid} in SCM_CREDENTIALS: ${spoof(notifySocket, childPid, childPid, true)}`,
    `an unprivileged process (uid 65534), no credentials attached: ${spoof(notifySocket, 0, childPid, true)}`,
  ];
}

const TIMEOUT_MS = 3000;

it('GracefulServer: READY=1 from other processes is ignored; the real timeout applies', async (context) => {
  const row = report(context, {
    order: 60,
    scenario: 'Spoofed READY=1 on the new generation\'s NOTIFY_SOCKET',
    model: 'GracefulServer',
    must: `ignored: the old generation does not retire; the new one (never ready) is killed at upgradeTimeout (${TIMEOUT_MS} ms), not earlier; 0 refused; no client error but on connections the killed process held (row "listens but is never ready")`,
  });
  const { run, first, load, child, sentAt: sent } = await gracefulUpgradeTo('never-ready', TIMEOUT_MS, 'listening');
  const notifySocket = environOf(child.pid).NOTIFY_SOCKET;
  const senders = spoofAll(notifySocket, child.pid);
  const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
  const waited = failed.t - sent;
  await gone(run, child.pid);
  await load.servedMore(first.pid, 200);
  const totals = await load.stop();
  const away = load.errorsAwayFrom(failed.t, 300);
  row.result =
    `NOTIFY_SOCKET ${notifySocket.replace(/[0-9a-f]{16}$/, '…')}; spoofs: ${senders.join('; ')}; outcome: '${failed.code}' after ${waited} ms, child killed and reaped, old pid never drained; ` +
    `${describeLoad(totals)}; errors other than at the kill of the child: ${away.length}`;
  expect(senders[2]).toMatch(/EPERM$/);
  expect(senders[3]).toMatch(/EACCES$/);
  expect(failed).toMatchObject({ code: 'ERR_UPGRADE_TIMEOUT', childPid: child.pid });
  expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS);
  // The old generation never drained (the failed child, told to stop, may have).
  expect(run.all({ event: 'draining', pid: first.pid })).toEqual([]);
  expect(run.all({ event: 'upgraded' })).toEqual([]);
  expect(totals.keepAlive.errors.connect + totals.connectLoop.errors.connect).toBe(0);
  // The never-ready child accepts from the shared socket; what it holds when killed is lost (see failed-child.faults.ts).
  expect(away).toEqual([]);
  expect(load.errors.length).toBeLessThanOrEqual(5);
});

it('supervisor: READY=1 from other processes is ignored and logged; the real --ready-timeout applies', async (context) => {
  const row = report(context, {
    order: 61,
    scenario: 'Spoofed READY=1 on the supervisor\'s NOTIFY_SOCKET',
    model: 'supervisor',
    must: `ignored and logged; the new generation (never ready) is killed at --ready-timeout (${TIMEOUT_MS} ms); the old one serves on; 0 refused; no client error but on connections the killed generation held`,
  });
  const { run, pid1, load, pid2, mark } = await supervisorReloadTo('never-ready', ['--ready-timeout', `${TIMEOUT_MS}ms`], 'listening');
  const notifySocket = environOf(pid2).NOTIFY_SOCKET;
  const senders = spoofAll(notifySocket, pid2);
  const failed = await run.log(new RegExp(`reload failed: generation 2 \\(pid ${pid2}\\) was not ready within ${TIMEOUT_MS} ms; it was killed; generation 1 \\(pid ${pid1}\\) goes on serving`), mark);
  const killedAt = Date.now(); // the line follows the kill and the reaping by a few ms
  const ignored = run.logs.slice(mark).filter((l) => /ignoring a notification from pid/.test(l));
  await load.servedMore(pid1, 200);
  const totals = await load.stop();
  const away = load.errorsAwayFrom(killedAt, 500);
  row.result = `spoofs: ${senders.join('; ')}; logged: ${ignored.map((l) => `"${l.replace(/^handover\[\d+\]: /, '')}"`).join(', ')}; "${failed[0]}"; ${describeLoad(totals)}; errors other than at the kill of the new generation: ${away.length}`;
  expect(senders[2]).toMatch(/EPERM$/);
  expect(senders[3]).toMatch(/EACCES$/);
  expect(ignored).toHaveLength(2);
  // Generation 1 never drained (the failed generation 2, told to stop, may have).
  expect(run.events.filter((e) => e.event === 'draining' && e.pid === pid1)).toEqual([]);
  expect(totals.keepAlive.errors.connect + totals.connectLoop.errors.connect).toBe(0);
  expect(away).toEqual([]);
  expect(load.errors.length).toBeLessThanOrEqual(5);
});

it('both models: a CAP_SYS_ADMIN process forging the new generation\'s pid in SCM_CREDENTIALS is believed (documented limit)', async (context) => {
  const row = report(context, {
    order: 62,
    scenario: 'READY=1 with SCM_CREDENTIALS forged by a CAP_SYS_ADMIN process (root)',
    model: 'both',
    must: "documented limit, measured: the kernel lets CAP_SYS_ADMIN claim any existing pid, so the sender check cannot tell; what happens then",
  });
  // GracefulServer
  const { mode, run, first, load, child } = await gracefulUpgradeTo('never-ready', 20_000, 'listening');
  const sent = spoof(environOf(child.pid).NOTIFY_SOCKET, child.pid, child.pid);
  const upgraded = await run.next({ event: 'upgraded', pid: first.pid });
  await load.servedMore(child.pid, 100);
  const totals = await load.stop();
  // Supervisor
  const sup = startSupervisor({ modeFile: mode.path }, ['--ready-timeout', '20s']);
  mode.set('normal');
  const pid1 = await servingPid(sup, 1);
  mode.set('never-ready');
  const mark = sup.logs.length;
  sup.signal('SIGHUP');
  const pid2 = await sup.generationPid(2);
  await sup.event({ event: 'listening', pid: pid2 });
  const supSent = spoof(environOf(pid2).NOTIFY_SOCKET, pid2, pid2);
  const reloaded = await sup.log(new RegExp(`reloaded: generation 2 \\(pid ${pid2}\\) serves.*stopping generation 1 \\(pid ${pid1}\\)`), mark);
  row.result =
    `GracefulServer: root sender claiming pid ${child.pid}: ${sent}; the old generation took it for the child's READY=1 and retired ('upgraded' after ${upgraded.durationMs} ms) although the child never said it; the child listens, so clients saw ${describeLoad(totals)}. ` +
    `Supervisor: ${supSent}; "${reloaded[0].replace(/^handover\[\d+\]: /, '')}". Same trust model as systemd's NotifyAccess: only unprivileged spoofers are excluded (README: "nobody else can" should read "no unprivileged process can").`;
  expect(sent).toBe('sent');
  expect(upgraded.newPid).toBe(child.pid);
  expect(supSent).toBe('sent');
});
