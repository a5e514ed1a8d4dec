// What GracefulServer and its Upgrader report through `logger` (issue 18):
// an inherited socket nothing claimed, a failed upgrade, a drain that ended
// at its timeout — to a logger given, to stderr by default, to nobody with
// `logger: false`. One real generation meets all three
// (test/fixtures/logger-app.js).
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { inspectFd } from '../../lib/native';
import { native } from '../../lib/native/binding';
import { cleanup, DIST, reap, removeTempDirs, start, tempDir } from '../helpers/children';

const APP = resolve(__dirname, '../fixtures/logger-app.js');

afterEach(cleanup);
afterAll(() => removeTempDirs());

function listening(): { fd: number; port: number } {
  const fd = native('test').listenSocket({ family: 'IPv4', type: 'stream', address: '127.0.0.1', port: 0, path: '', backlog: 16, ipv6Only: false });
  return { fd, port: inspectFd(fd).port! };
}

/** Runs the fixture with LOGGER=`which`, two sockets as LISTEN_FDS; its stdout and stderr. */
async function runApp(which: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const dir = tempDir('handover-logger-');
  const [a, b] = [listening(), listening()];
  const out = openSync(join(dir, 'out'), 'w');
  const err = openSync(join(dir, 'err'), 'w');
  const pid = start(process.execPath, [process.execPath, APP], {
    files: [0, out, err, a.fd, b.fd],
    env: { ...process.env, HANDOVER_DIST: DIST, LOGGER: which, LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:spare' },
    listenPid: true,
  });
  for (const fd of [out, err, a.fd, b.fd]) closeSync(fd);
  const { code } = await reap(pid);
  return { code, stdout: readFileSync(join(dir, 'out'), 'utf8'), stderr: readFileSync(join(dir, 'err'), 'utf8') };
}

const UNCLAIMED = /^closing unclaimed inherited fd 4 \(spare\): no listen\(\) or file\(\) of this generation asked for it$/;
const UPGRADE = /^upgrade failed: the next generation \(pid [0-9]+\) exited before it was ready: exit code 3; this generation goes on serving$/;
const HAMMER = /^drain: 1 connection\(s\) still open after the drain timeout \(300 ms\) or a second stop signal: destroyed$/;

describe('GracefulServer logger', () => {
  it('a logger given hears the unclaimed socket, the failed upgrade and the hammer, in that order', async () => {
    const { code, stdout } = await runApp('custom');
    expect(code).toBe(0);
    const { heard } = JSON.parse(stdout) as { heard: [string, string][] };
    expect(heard.map(([level]) => level)).toEqual(['warn', 'error', 'warn']);
    expect(heard[0][1]).toMatch(UNCLAIMED);
    expect(heard[1][1]).toMatch(UPGRADE);
    expect(heard[2][1]).toMatch(HAMMER);
  });

  it('by default the same lines go to stderr as handover[PID]: ...; with logger: false, nowhere', async () => {
    const byDefault = await runApp('default');
    const lines = byDefault.stderr.split('\n').filter((line) => line.startsWith('handover['));
    expect(lines.map((line) => line.replace(/^handover\[[0-9]+\]: /, ''))).toEqual([expect.stringMatching(UNCLAIMED), expect.stringMatching(UPGRADE), expect.stringMatching(HAMMER)]);
    const off = await runApp('off');
    expect(off.code).toBe(0);
    expect(off.stderr).toBe('');
  });
});
