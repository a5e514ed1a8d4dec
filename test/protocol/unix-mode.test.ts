// Unix listeners with a mode and an owner of their own (issue 20, point 5):
// `unix:PATH,mode=0660,owner=USER:GROUP`, so that who may connect does not
// depend on the umask handover runs with. The mode and owner are set
// between bind() and listen(): nobody can connect before they are in place.
// Checked with a real connecting client as uid 65534.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bindSocket, parseAddress } from '../../lib/index';
import { parseCommandLine, UsageError } from '../../lib/cli';
import { closeQuietly } from '../../lib/core';
import { removeTempDirs, tempDir } from '../helpers/children';
import { readableDist } from '../helpers/readable-copy';
import { cleanupSupervisors, SupervisorRun } from '../helpers/supervisor';

afterEach(cleanupSupervisors);
afterAll(removeTempDirs);

/** What a client running as uid/gid 65534 gets when it connects to `path`: "connected" or the errno's name. */
function connectAsNobody(path: string): string {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const code = 'import errno, socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\ntry:\n    s.connect(sys.argv[1]); print("connected")\nexcept OSError as e:\n    print(errno.errorcode[e.errno])';
  return execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', python, '-c', code, path], { encoding: 'utf8', timeout: 10_000 }).trim();
}

/** A directory uid 65534 may traverse. */
function openDir(): string {
  const dir = tempDir('handover-unix-mode-');
  chmodSync(dir, 0o755);
  return dir;
}

describe('parseAddress: unix:PATH,mode=...,owner=...', () => {
  it.each([
    ['unix:/run/app.sock,mode=0660', { kind: 'unix', path: '/run/app.sock', mode: 0o660 }],
    ['unix:/run/app.sock,mode=660,owner=www-data', { kind: 'unix', path: '/run/app.sock', mode: 0o660, owner: 'www-data' }],
    ['unix:/run/app.sock,owner=www-data:www-data,mode=0600', { kind: 'unix', path: '/run/app.sock', mode: 0o600, owner: 'www-data', group: 'www-data' }],
    ['api=unix:/run/app.sock,owner=:33', { kind: 'unix', path: '/run/app.sock', group: '33', name: 'api' }],
    ['unix:/run/a,b.sock', { kind: 'unix', path: '/run/a,b.sock' }],
  ])('%s', (text, spec) => {
    expect(parseAddress(text)).toEqual({ name: undefined, ...spec });
  });

  it.each([
    ['unix:/run/app.sock,mode=999', /has mode=999, but a mode is octal, 0000 to 0777/],
    ['unix:/run/app.sock,mode=04755', /has mode=04755, but a mode is octal, 0000 to 0777/],
    ['unix:/run/app.sock,owner=', /has an empty owner=: write owner=USER, owner=USER:GROUP or owner=:GROUP/],
    ['unix:/run/app.sock,owner=:', /has an empty owner=/],
    ['unix:/run/app.sock,mode=0600,mode=0644', /has mode= twice/],
    ['unix:/run/app.sock,perm=0600', /has an unknown option perm= \(a unix address takes mode= and owner=\)/],
    ['unix:@abstract,mode=0600', /an abstract socket has no file, so no mode= or owner=/],
    ['unix:,mode=0600', /needs a path after "unix:"/],
  ])('refuses %s', (text, message) => {
    expect(() => parseAddress(text)).toThrow(message);
  });

  it('is a usage error on the command line, worded for it', () => {
    expect(() => parseCommandLine(['run', '--listen', 'unix:/run/app.sock,mode=0999', '--', 'x'])).toThrow(
      new UsageError('--listen unix:/run/app.sock,mode=0999: the address has mode=0999, but a mode is octal, 0000 to 0777 (mode=0660)'),
    );
  });
});

describe('bindSocket with a mode and an owner', () => {
  it('gives the socket file its mode whatever the umask, and its owner; uid 65534 connects only as they allow', async () => {
    const dir = openDir();
    const umask = process.umask(0o077);
    try {
      const open = await bindSocket(parseAddress(`unix:${join(dir, 'open.sock')},mode=0666`));
      const shared = await bindSocket(parseAddress(`unix:${join(dir, 'shared.sock')},mode=0660,owner=root:nogroup`));
      const private_ = await bindSocket(parseAddress(`unix:${join(dir, 'private.sock')},mode=0600`));
      const given = await bindSocket(parseAddress(`unix:${join(dir, 'given.sock')},mode=0600,owner=nobody`));
      try {
        const st = (name: string) => {
          const s = statSync(join(dir, name));
          return { socket: s.isSocket(), mode: s.mode & 0o777, uid: s.uid, gid: s.gid };
        };
        expect(st('open.sock')).toEqual({ socket: true, mode: 0o666, uid: 0, gid: 0 });
        expect(st('shared.sock')).toEqual({ socket: true, mode: 0o660, uid: 0, gid: 65534 });
        expect(st('private.sock')).toEqual({ socket: true, mode: 0o600, uid: 0, gid: 0 });
        expect(st('given.sock')).toEqual({ socket: true, mode: 0o600, uid: 65534, gid: 0 });
        expect(connectAsNobody(join(dir, 'open.sock'))).toBe('connected');
        expect(connectAsNobody(join(dir, 'shared.sock'))).toBe('connected'); // by its group
        expect(connectAsNobody(join(dir, 'private.sock'))).toBe('EACCES');
        expect(connectAsNobody(join(dir, 'given.sock'))).toBe('connected'); // by its owner
      } finally {
        for (const s of [open, shared, private_, given]) closeQuietly(s.fd);
      }
    } finally {
      process.umask(umask);
    }
  });

  it('names a user or group that does not exist, and leaves no socket file behind', async () => {
    const dir = openDir();
    const path = join(dir, 'app.sock');
    await expect(bindSocket(parseAddress(`unix:${path},owner=no-such-user-handover`))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: `cannot give unix:${path} to owner=no-such-user-handover: there is no user "no-such-user-handover"` }),
    );
    await expect(bindSocket(parseAddress(`unix:${path},owner=:no-such-group-handover`))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: `cannot give unix:${path} to owner=:no-such-group-handover: there is no group "no-such-group-handover"` }),
    );
    expect(existsSync(path)).toBe(false);
  });

  it('fails like Node (chown EPERM) when the binder may not give the file away, and removes the file it bound', () => {
    const dir = openDir();
    chmodSync(dir, 0o777);
    const path = join(dir, 'app.sock');
    const dist = readableDist(); // uid 65534 may not be able to read the checkout
    const code = `require(${JSON.stringify(dist)}).bindSocket(require(${JSON.stringify(dist)}).parseAddress(process.argv[1])).then(() => console.log('bound'), (e) => console.log(JSON.stringify({ code: e.code, syscall: e.syscall, address: e.address, message: e.message })))`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', code, `unix:${path},owner=root`], { encoding: 'utf8', timeout: 10_000 });
    expect(JSON.parse(out)).toEqual({ code: 'EPERM', syscall: 'chown', address: path, message: `chown EPERM: operation not permitted ${path}` });
    expect(readdirSync(dir)).toEqual([]);
  });
});

it('handover run --listen unix:PATH,mode=0660,owner=USER:GROUP: the socket the generations get has them', async () => {
  const dir = openDir();
  const path = join(dir, 'app.sock');
  const run = new SupervisorRun(['run', '--listen', `unix:${path},mode=0660,owner=nobody:nogroup`, '--ready', 'exec', '--', 'sleep', '60']);
  await run.log(new RegExp(`listening on unix:${path} \\(fd [0-9]+\\)`));
  const st = statSync(path);
  expect({ mode: st.mode & 0o777, uid: st.uid, gid: st.gid }).toEqual({ mode: 0o660, uid: 65534, gid: 65534 });
  expect(connectAsNobody(path)).toBe('connected');
});
