// takeInheritedFds (lib/listen-fds.ts): systemd's sd_listen_fds_with_names
// protocol, read by a real process started with forkExecWithFds — the fds at
// 3.. with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID set to the child's own
// pid by the fork/exec itself. Cases that touch no fd also run in-process on
// a plain object.
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { native } from '../../lib/native/binding';
import { inspectFd, LISTEN_FDS_START, takeInheritedFds } from '../../lib/index';
import { MAX_LISTEN_FDS } from '../../lib/protocol/listen-fds';
import { makePipe } from '../helpers/fds';
import { cleanupRuns, removeScratch, Run, scratchDir, type GenEvent } from '../helpers/generations';

const FIXTURE = resolve(__dirname, '../fixtures/upgrader-listen-fds.js');

afterEach(async () => {
  await cleanupRuns();
});

afterAll(() => removeScratch());

/** Starts the fixture with `files` at 3.. and `env`; its one report. */
async function inherit(files: number[], env: Record<string, string>, listenPid = true): Promise<GenEvent> {
  const run = new Run();
  run.forkExec({}, files, { env, listenPid, script: FIXTURE });
  const report = await run.next({ event: 'inherited' });
  expect(await run.firstExit).toEqual({ code: 0, signal: null });
  return report;
}

function tcpListener(): { fd: number; port: number } {
  const fd = native('test').listenSocket({ family: 'IPv4', type: 'stream', address: '127.0.0.1', port: 0, path: '', backlog: 8, ipv6Only: false });
  return { fd, port: inspectFd(fd).port! };
}

describe('in a real process', () => {
  it('adopts every kind of fd with its name, sets FD_CLOEXEC, and removes the variables from its environment and its children\'s', async () => {
    const dir = scratchDir('lfds-');
    const tcp = tcpListener();
    const udp = native('test').listenSocket({ family: 'IPv6', type: 'dgram', address: '::1', port: 0, path: '', backlog: 0, ipv6Only: true });
    const unix = native('test').listenSocket({ family: 'unix', type: 'stream', address: '', port: 0, path: join(dir, 's.sock'), backlog: 8, ipv6Only: false });
    writeFileSync(join(dir, 'log'), '');
    const file = openSync(join(dir, 'log'), 'a');
    const pipe = makePipe(dir);
    const devnull = openSync('/dev/null', 'r');
    const files = [tcp.fd, udp, unix, file, pipe.read, devnull];
    let report: GenEvent;
    try {
      report = await inherit(files, { LISTEN_FDS: String(files.length), LISTEN_FDNAMES: 'web:dns:api:log:in:null' });
    } finally {
      for (const fd of [...files, pipe.write]) closeSync(fd);
    }
    expect(report.error).toBeNull();
    expect(report.before).toEqual({ LISTEN_FDS: '6', LISTEN_FDNAMES: 'web:dns:api:log:in:null', LISTEN_PID: String(report.pid) });
    expect(report.after).toEqual({});
    expect(report.grandchild).toEqual([]);
    expect(report.fds.map((f: GenEvent) => [f.fd, f.name, f.type, f.family ?? null, f.socketType ?? null, f.listening ?? null])).toEqual([
      [3, 'web', 'socket', 'IPv4', 'stream', true],
      [4, 'dns', 'socket', 'IPv6', 'dgram', false],
      [5, 'api', 'socket', 'unix', 'stream', true],
      [6, 'log', 'file', null, null, null],
      [7, 'in', 'fifo', null, null, null],
      [8, 'null', 'character', null, null, null],
    ]);
    expect(report.fds[0].port).toBe(tcp.port);
    expect(report.fds[2].path).toBe(join(dir, 's.sock'));
    expect(report.fds[3].target).toBe(join(dir, 'log'));
    expect(report.fds.every((f: GenEvent) => f.cloexec)).toBe(true);
  });

  it('without LISTEN_FDNAMES every fd is "unknown", as systemd names them', async () => {
    const tcp = tcpListener();
    let report: GenEvent;
    try {
      report = await inherit([tcp.fd], { LISTEN_FDS: '1' });
    } finally {
      closeSync(tcp.fd);
    }
    expect(report.error).toBeNull();
    expect(report.fds.map((f: GenEvent) => [f.fd, f.name])).toEqual([[3, 'unknown']]);
  });

  it('LISTEN_FDS=0 with an empty LISTEN_FDNAMES (what a generation with nothing to hand over sends) is no error', async () => {
    const report = await inherit([], { LISTEN_FDS: '0', LISTEN_FDNAMES: '' });
    expect(report.error).toBeNull();
    expect(report.fds).toEqual([]);
    expect(report.after).toEqual({});
  });

  it('LISTEN_PID of another process: nothing adopted, no error, variables removed', async () => {
    const tcp = tcpListener();
    let report: GenEvent;
    try {
      report = await inherit([tcp.fd], { LISTEN_FDS: '1', LISTEN_PID: '1' }, false);
    } finally {
      closeSync(tcp.fd);
    }
    expect(report).toMatchObject({ error: null, fds: [], after: {}, grandchild: [] });
  });

  it.each([
    ['a count past the fds passed: fd 4 is Node\'s own epoll', 2, /fd 4 is a kernel object/],
    ['a count far past the open fds', 1000, /LISTEN_FDS=1000 is more than 1024|fd 4 is a kernel object/],
  ])('%s: an error, and nothing adopted', async (_what, count, message) => {
    const tcp = tcpListener();
    let report: GenEvent;
    try {
      report = await inherit([tcp.fd], { LISTEN_FDS: String(count) });
    } finally {
      closeSync(tcp.fd);
    }
    expect(report.error).toMatchObject({ name: 'HandoverError', code: 'ERR_INHERITED_FDS', message: expect.stringMatching(message) });
    expect(report.fds).toEqual([]);
    expect(report.after).toEqual({});
  });

  it('a directory at fd 3 is not a hand-over', async () => {
    const dir = scratchDir('lfds-dir-');
    mkdirSync(join(dir, 'd'));
    const fd = openSync(join(dir, 'd'), 'r');
    let report: GenEvent;
    try {
      report = await inherit([fd], { LISTEN_FDS: '1' });
    } finally {
      closeSync(fd);
    }
    expect(report.error).toMatchObject({ code: 'ERR_INHERITED_FDS', message: expect.stringMatching(/fd 3 is a directory/) });
  });
});

describe('on a plain environment object (no fd is touched)', () => {
  const other = String(process.pid + 1);

  it('no variables: nothing, and the object is left as it was', () => {
    const env = { PATH: '/bin' };
    expect(takeInheritedFds(env, process.pid)).toEqual({ fds: [] });
    expect(env).toEqual({ PATH: '/bin' });
  });

  it.each([
    ['LISTEN_PID of another process', { LISTEN_FDS: '1', LISTEN_PID: other }],
    ['LISTEN_FDS without LISTEN_PID', { LISTEN_FDS: '1', LISTEN_FDNAMES: 'x' }],
    ['LISTEN_FDNAMES alone', { LISTEN_FDNAMES: 'x' }],
    ['LISTEN_FDS=0', { LISTEN_FDS: '0', LISTEN_PID: String(process.pid) }],
  ])('%s: nothing, no error, all three variables removed', (_what, variables) => {
    const env: Record<string, string> = { ...variables, KEEP: '1' };
    expect(takeInheritedFds(env, process.pid)).toEqual({ fds: [] });
    expect(env).toEqual({ KEEP: '1' });
  });

  it.each([
    ['LISTEN_PID', { LISTEN_FDS: '1', LISTEN_PID: 'self' }, /LISTEN_PID is not a pid/],
    ['LISTEN_PID', { LISTEN_FDS: '1', LISTEN_PID: '-5' }, /LISTEN_PID is not a pid/],
    ['LISTEN_PID', { LISTEN_FDS: '1', LISTEN_PID: '' }, /LISTEN_PID is not a pid/],
    ['LISTEN_FDS', { LISTEN_FDS: 'two', LISTEN_PID: 'OWN' }, /LISTEN_FDS is not a count/],
    ['LISTEN_FDS', { LISTEN_FDS: '1.5', LISTEN_PID: 'OWN' }, /LISTEN_FDS is not a count/],
    ['LISTEN_FDS', { LISTEN_FDS: ' 1', LISTEN_PID: 'OWN' }, /LISTEN_FDS is not a count/],
    ['LISTEN_FDS', { LISTEN_PID: 'OWN' }, /LISTEN_FDS is not a count/],
    ['LISTEN_FDS', { LISTEN_FDS: String(MAX_LISTEN_FDS + 1), LISTEN_PID: 'OWN' }, /is more than 1024/],
    ['LISTEN_FDNAMES', { LISTEN_FDS: '2', LISTEN_FDNAMES: 'a', LISTEN_PID: 'OWN' }, /LISTEN_FDNAMES has 1 name\(s\) for LISTEN_FDS=2/],
    ['LISTEN_FDNAMES', { LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b', LISTEN_PID: 'OWN' }, /LISTEN_FDNAMES has 2 name\(s\) for LISTEN_FDS=1/],
  ])('garbage in %s is ERR_INHERITED_FDS, and the variables are removed anyway', (_which, variables, message) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(variables)) env[k] = v === 'OWN' ? String(process.pid) : v;
    const result = takeInheritedFds(env, process.pid);
    expect(result.fds).toEqual([]);
    expect(result.error).toMatchObject({ name: 'HandoverError', code: 'ERR_INHERITED_FDS', message: expect.stringMatching(message) });
    expect(env).toEqual({});
  });

  it('LISTEN_FDS_START is 3, as SD_LISTEN_FDS_START', () => {
    expect(LISTEN_FDS_START).toBe(3);
  });
});
