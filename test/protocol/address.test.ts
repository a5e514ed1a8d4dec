// lib/address.ts: the forms of net.Server#listen and of the CLI's --listen,
// name resolution to the address a socket is really bound to, and the keys
// that say when two requests are the same address. The IPv6 spelling is
// checked against the kernel: what getsockname reads back must be what a
// request resolves to, or an inherited socket is never recognised.
import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressKey, checkFdName, normalizeV6, parseAddress, parseListenArgs, resolveHost } from '../../lib/protocol/address';
import { native } from '../../lib/native/binding';
import { inspectFd } from '../../lib/index';

describe('parseListenArgs: the forms of net.Server#listen', () => {
  it.each([
    [[], { kind: 'tcp', port: 0 }],
    [[8080], { kind: 'tcp', port: 8080 }],
    [['8080'], { kind: 'tcp', port: 8080 }],
    [[null], { kind: 'tcp', port: 0 }],
    [[8080, '127.0.0.1'], { kind: 'tcp', port: 8080, host: '127.0.0.1' }],
    [[8080, '::1', 16], { kind: 'tcp', port: 8080, host: '::1', backlog: 16 }],
    [[8080, 16], { kind: 'tcp', port: 8080, backlog: 16 }],
    [[8080, () => {}], { kind: 'tcp', port: 8080 }],
    [[{ port: 80, host: 'localhost', backlog: 5, ipv6Only: true, name: 'web' }], { kind: 'tcp', port: 80, host: 'localhost', backlog: 5, ipv6Only: true, name: 'web' }],
    [[{ port: '443' }], { kind: 'tcp', port: 443 }],
    [[{ host: '0.0.0.0' }], { kind: 'tcp', port: 0, host: '0.0.0.0' }],
    [['/run/app.sock'], { kind: 'unix', path: '/run/app.sock' }],
    [['/run/app.sock', 8], { kind: 'unix', path: '/run/app.sock', backlog: 8 }],
    [[{ path: '/run/app.sock', name: 'api' }], { kind: 'unix', path: '/run/app.sock', name: 'api' }],
    [['\0abstract'], { kind: 'unix', path: '@abstract' }],
    [['@abstract'], { kind: 'unix', path: '@abstract' }],
    [[{ path: '\0x' }], { kind: 'unix', path: '@x' }],
  ])('%j', (args, spec) => {
    // toEqual: properties left undefined count as absent.
    expect(parseListenArgs(args)).toEqual(spec);
  });

  it('a relative path is made absolute against the cwd', () => {
    expect(parseListenArgs(['app.sock'])).toMatchObject({ kind: 'unix', path: resolve('app.sock') });
  });

  it.each([
    [[{ fd: 3 }], 'ERR_INVALID_ARG_VALUE', /handover owns the sockets/],
    [[{ handle: {} }], 'ERR_INVALID_ARG_VALUE', /handover owns the sockets/],
    [[65536], 'ERR_INVALID_ARG_VALUE', /"port".*65536/],
    [[-1], 'ERR_INVALID_ARG_VALUE', /"port"/],
    [[1.5], 'ERR_INVALID_ARG_VALUE', /"port"/],
    [[{ port: 'http' }], 'ERR_INVALID_ARG_VALUE', /"options.port"/],
    [[true], 'ERR_INVALID_ARG_TYPE', /"port"/],
    [[8080, ''], 'ERR_INVALID_ARG_TYPE', /"host"/],
    [[8080, '127.0.0.1', -1], 'ERR_INVALID_ARG_TYPE', /"backlog"/],
    [[{ path: '' }], 'ERR_INVALID_ARG_TYPE', /"options.path"/],
    [[{ port: 1, ipv6Only: 'yes' }], 'ERR_INVALID_ARG_TYPE', /"options.ipv6Only"/],
    [[{ port: 1, name: 'a:b' }], 'ERR_INVALID_ARG_VALUE', /"name"/],
  ])('%j is refused: %s', (args, code, message) => {
    let thrown: unknown;
    try {
      parseListenArgs(args);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ name: 'HandoverError', code, message: expect.stringMatching(message) });
  });
});

describe('parseAddress: the CLI forms', () => {
  it.each([
    ['8080', { kind: 'tcp', port: 8080, host: undefined, name: undefined }],
    [':8080', { kind: 'tcp', port: 8080, host: undefined, name: undefined }],
    ['127.0.0.1:8080', { kind: 'tcp', port: 8080, host: '127.0.0.1', name: undefined }],
    ['tcp:127.0.0.1:8080', { kind: 'tcp', port: 8080, host: '127.0.0.1', name: undefined }],
    ['[::1]:8080', { kind: 'tcp', port: 8080, host: '::1', name: undefined }],
    ['localhost:0', { kind: 'tcp', port: 0, host: 'localhost', name: undefined }],
    ['web=0.0.0.0:80', { kind: 'tcp', port: 80, host: '0.0.0.0', name: 'web' }],
    ['unix:/run/app.sock', { kind: 'unix', path: '/run/app.sock', name: undefined }],
    ['api=unix:@api', { kind: 'unix', path: '@api', name: 'api' }],
    ['udp:127.0.0.1:53', { kind: 'udp', type: 'udp4', host: '127.0.0.1', port: 53, name: undefined }],
    ['udp:[::1]:53', { kind: 'udp', type: 'udp6', host: '::1', port: 53, name: undefined }],
    ['dns=udp:53', { kind: 'udp', type: 'udp4', host: undefined, port: 53, name: 'dns' }],
  ])('%s', (text, spec) => {
    expect(parseAddress(text)).toEqual(spec);
  });

  it.each(['', 'host:', 'host:http', '127.0.0.1:70000', 'a:b=1', 'udp:'])('%j is refused', (text) => {
    expect(() => parseAddress(text)).toThrow(expect.objectContaining({ name: 'HandoverError' }));
  });
});

describe('checkFdName: systemd\'s rules for LISTEN_FDNAMES', () => {
  it('accepts printable ASCII without ":" up to 255 characters', () => {
    expect(checkFdName('web')).toBe('web');
    expect(checkFdName('a'.repeat(255))).toBe('a'.repeat(255));
    expect(checkFdName('log-file_1.2@x')).toBe('log-file_1.2@x');
  });

  it.each(['', 'a:b', 'with space', 'é', 'a'.repeat(256), 'tab\t'])('refuses %j', (name) => {
    expect(() => checkFdName(name)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('refuses a non-string', () => {
    expect(() => checkFdName(3)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('resolveHost: the address a socket is bound to', () => {
  it('no host is "::" with IPv6, "0.0.0.0" without, as Node does', async () => {
    expect(await resolveHost(undefined, true)).toEqual({ family: 'IPv6', address: '::' });
    expect(await resolveHost(undefined, false)).toEqual({ family: 'IPv4', address: '0.0.0.0' });
  });

  it('literals are kept, IPv6 in inet_ntop form', async () => {
    expect(await resolveHost('127.0.0.1', true)).toEqual({ family: 'IPv4', address: '127.0.0.1' });
    expect(await resolveHost('0:0:0:0:0:0:0:1', true)).toEqual({ family: 'IPv6', address: '::1' });
    expect(await resolveHost('::FFFF:127.0.0.1', true)).toEqual({ family: 'IPv6', address: '::ffff:127.0.0.1' });
  });

  it('a name is looked up (first answer)', async () => {
    const resolved = await resolveHost('localhost', true);
    expect(['127.0.0.1', '::1']).toContain(resolved.address);
  });

  // Each literal bound for real: the kernel's spelling of the bound address
  // (getsockname + inet_ntop, as inspectFd reads it) must equal ours.
  it.each(['::1', '::', '0:0::1', '::ffff:127.0.0.1', '::FFFF:7F00:1', '0:0:0:0:0:ffff:127.0.0.1', '::ffff:0.0.0.0'])('%s resolves to what the kernel reports once bound', async (literal) => {
    const { address } = await resolveHost(literal, true);
    const fd = native('test').listenSocket({ family: 'IPv6', type: 'dgram', address: literal, port: 0, path: '', backlog: 0, ipv6Only: false });
    try {
      expect(inspectFd(fd).address).toBe(address);
    } finally {
      closeSync(fd);
    }
  });
});

describe('normalizeV6: inet_ntop\'s spelling (RFC 5952, dotted IPv4 tails as glibc writes them)', () => {
  it.each([
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['0:2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['1::', '1::'],
    ['::ffff:7f00:1', '::ffff:127.0.0.1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::0.0.0.2', '::2'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
  ])('%s → %s', (input, output) => {
    expect(normalizeV6(input)).toBe(output);
  });
});

describe('addressKey', () => {
  it('one key per bound address, kind included', () => {
    expect(addressKey('stream', { family: 'IPv4', address: '127.0.0.1', port: 80 })).toBe('stream:IPv4:[127.0.0.1]:80');
    expect(addressKey('dgram', { family: 'IPv6', address: '::1', port: 53 })).toBe('dgram:IPv6:[::1]:53');
    expect(addressKey('stream', { family: 'unix', path: '@x' })).toBe('stream:unix:@x');
    expect(addressKey('stream', { family: 'IPv4', address: '127.0.0.1', port: 53 })).not.toBe(addressKey('dgram', { family: 'IPv4', address: '127.0.0.1', port: 53 }));
  });
});
