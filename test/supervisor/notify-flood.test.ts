// The supervisor's NOTIFY_SOCKET under a flood of datagrams from processes
// that are no generation (issue 20, point 3). Its name is world-visible in
// /proc/net/unix, which is where the flooders find it. As uid 65534 they
// must not reach it at all (a socket in a 0700 directory); as root they
// reach it, and the supervisor must count what they send instead of
// logging each datagram, escaping what it does log.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { IGNORED_NOTIFY_INTERVAL } from '../../lib/protocol';
import { cleanup, finished, removeTempDirs, spawnTracked, tempDir } from '../helpers/children';
import { APP, cleanupSupervisors, get, SupervisorRun } from '../helpers/supervisor';

afterEach(async () => {
  await cleanupSupervisors();
  await cleanup();
});
afterAll(() => removeTempDirs());

/**
 * Finds the NOTIFY_SOCKET of supervisor argv[1] in /proc/net/unix and sends
 * it datagrams until file argv[2] exists, argv[3] seconds have passed or
 * argv[4] datagrams were sent. Prints "found ADDR", then "full" on the first
 * EAGAIN or "refused CODE" on the first other error, and at the end one JSON
 * line of counts.
 */
const FLOOD_PY = `
import errno, json, os, re, socket, sys, time
sup, stop, seconds, most = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + seconds
name = re.compile(r"handover.supervisor.%d\\b" % sup)
addr = None
while addr is None and time.monotonic() < deadline:
    with open("/proc/net/unix") as table:
        for line in table:
            fields = line.split()
            if len(fields) >= 8 and name.search(fields[7]):
                addr = fields[7]
                break
print("found %s" % addr, flush=True)
target = "\\0" + addr[1:] if addr.startswith("@") else addr
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
payload = b"READY=1\\nSTATUS=\\x1b[31mflood\\r\\nhandover[1]: forged line\\x07"
counts = {"sent": 0, "EAGAIN": 0}
while counts["sent"] < most and time.monotonic() < deadline and not os.path.exists(stop):
    try:
        s.sendto(payload, target)
        counts["sent"] += 1
    except BlockingIOError:
        counts["EAGAIN"] += 1
        if counts["EAGAIN"] == 1: print("full", flush=True)
    except OSError as e:
        code = errno.errorcode.get(e.errno, str(e.errno))
        counts[code] = counts.get(code, 0) + 1
        if counts[code] == 1: print("refused " + code, flush=True)
        time.sleep(0.001)
print(json.dumps(counts), flush=True)
`;

interface Flooder {
  child: ChildProcess;
  /** The first line after "found": "full" or "refused CODE". */
  state: Promise<string>;
  found: Promise<string>;
  done: Promise<{ stdout: string }>;
}

function flood(supervisorPid: number, stop: string, asNobody: boolean, most = 1e9, seconds = 30): Flooder {
  const python = [existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', '-c', FLOOD_PY, String(supervisorPid), stop, String(seconds), String(most)];
  const argv = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...python] : python;
  const child = spawnTracked(argv[0], argv.slice(1));
  const done = finished(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    for (const w of waiters.splice(0)) w();
  });
  const line = (test: (l: string) => boolean): Promise<string> =>
    new Promise((resolveLine, rejectLine) => {
      const look = () => {
        const hit = lines.find(test);
        if (hit !== undefined) return resolveLine(hit);
        if (child.exitCode !== null) return rejectLine(new Error(`the flooder exited: ${lines.join(' | ')}`));
        waiters.push(look);
      };
      child.once('exit', () => look());
      look();
    });
  return { child, done, found: line((l) => l.startsWith('found ')), state: line((l) => l === 'full' || l.startsWith('refused ')) };
}

function scratch(): string {
  const dir = tempDir('handover-flood-');
  chmodSync(dir, 0o755); // uid 65534 looks for the stop file here
  return dir;
}

it('two flooders as uid 65534 cannot make the start fail: they cannot reach the socket', async () => {
  const dir = scratch();
  const go = join(dir, 'go');
  const stop = join(dir, 'stop');
  writeFileSync(join(dir, 'mode'), `graceful-on:${go}`);
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--ready-timeout', '10s', '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: join(dir, 'mode') } });
  await run.event({ event: 'waiting' });
  const flooders = [flood(run.pid, stop, true), flood(run.pid, stop, true)];
  const found = await Promise.all(flooders.map((f) => f.found));
  // What they see is what any user sees: the name, in /proc/net/unix.
  const start = await run.event({ event: 'start' });
  for (const line of found) expect(line).toBe(`found ${start.env.NOTIFY_SOCKET}`);
  const states = await Promise.all(flooders.map((f) => f.state));
  writeFileSync(go, '');
  const ready = await run.log(/generation 1 \(pid [0-9]+\) is ready after|start failed|cannot start/);
  writeFileSync(stop, '');
  const counts = (await Promise.all(flooders.map((f) => f.done))).map((d) => d.stdout.trim().split('\n').pop());
  expect({ ready: ready[0], states }, run.transcript()).toEqual({ ready: expect.stringMatching(/is ready after/), states: ['refused EACCES', 'refused EACCES'] });
  expect(counts.map((c) => JSON.parse(c!).sent)).toEqual([0, 0]);
  expect((await get(await run.port())).status).toBe(200);
});

it('a flood from root processes that are no generation is counted, not logged line by line, and what is logged is escaped', async () => {
  const dir = scratch();
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: join(dir, 'mode') } });
  const port = await run.port();
  await run.log(/generation 1 \(pid [0-9]+\) is ready after/);
  const mark = run.logs.length;
  const began = Date.now();
  const flooders = [flood(run.pid, join(dir, 'stop'), false, 20_000), flood(run.pid, join(dir, 'stop'), false, 20_000)];
  const counts = (await Promise.all(flooders.map((f) => f.done))).map((d) => JSON.parse(d.stdout.trim().split('\n').pop()!) as { sent: number });
  const sent = counts[0].sent + counts[1].sent;
  expect(sent).toBe(40_000);
  // Every datagram sent was queued on the supervisor's socket: each is
  // accounted for, in a line of its own or in a summary (the last one comes
  // one interval after the flood at the latest).
  const pids = flooders.map((f) => f.child.pid!);
  const accounted = async () => {
    let total = 0;
    for (const line of run.logs.slice(mark)) {
      if (/^handover\[[0-9]+\]: ignoring a notification from pid/.test(line)) total += 1;
      const more = /ignored ([0-9]+) more notification/.exec(line);
      if (more) total += Number(more[1]);
    }
    return total;
  };
  await expect.poll(accounted, { timeout: 30_000, interval: 200 }).toBe(sent);
  const intervals = Math.ceil((Date.now() - began) / IGNORED_NOTIFY_INTERVAL);
  // Per interval, at most a line for each of the two senders and one summary.
  const about = run.logs.slice(mark).filter((l) => /notification/.test(l));
  expect(about.length, about.join('\n')).toBeLessThanOrEqual(3 * (intervals + 1));
  for (const pid of pids) expect(about.some((l) => l.includes(`ignoring a notification from pid ${pid}`)), about.join('\n')).toBe(true);
  // Nothing a sender wrote reaches the log raw: no control character, no forged line.
  const raw = run.logs.slice(mark).filter((l) => /[\x00-\x1f\x7f]/.test(l) || /^handover\[1\]/.test(l));
  expect(raw).toEqual([]);
  expect(about.find((l) => l.includes('ignoring a notification'))).toContain('STATUS=\\x1b[31mflood\\r\\nhandover[1]: forged line\\x07');
  expect((await get(port)).status).toBe(200);
});
