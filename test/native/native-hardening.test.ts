// Smaller native contracts: an sd_notify message longer than any receiver
// reads is refused, not lost; link-local IPv6 addresses keep their zone from
// listen to inspectFd to adoption by the next generation.
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NotifyListener, sdNotify, type NotifyMessage } from '../../lib/index';
import { cleanup, DIST, finished, jsonLines, removeTempDirs, spawnTracked, tempDir } from '../helpers/children';
import { zombieChildren } from '../helpers/proc';

afterEach(async () => {
  await cleanup();
  expect(zombieChildren()).toEqual([]);
});

afterAll(() => removeTempDirs());

describe('sdNotify: the size of one message', () => {
  // What our receiver and systemd's (NOTIFY_BUFFER_MAX) read of one datagram.
  const LIMIT = 4096;

  it(`up to ${LIMIT} bytes arrive whole; one byte more is refused with EMSGSIZE instead of vanishing at the receiver`, async () => {
    const path = join(tempDir('handover-notify-'), 'notify.sock');
    const listener = new NotifyListener(path);
    try {
      const messages: NotifyMessage[] = [];
      listener.on('message', (m: NotifyMessage) => messages.push(m));
      const fits = 'X'.repeat(LIMIT - 'STATUS='.length);
      sdNotify(path, { STATUS: fits });
      await expect.poll(() => messages.length).toBe(1);
      expect(messages[0].raw.length).toBe(LIMIT);
      expect(messages[0].fields.get('STATUS')).toBe(fits);

      let error: unknown;
      try {
        sdNotify(path, { STATUS: `${fits}Y` });
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ code: 'EMSGSIZE', syscall: 'sendto' });
      // Datagrams arrive in order: the next one received is the marker.
      sdNotify(path, { READY: 1 });
      await expect.poll(() => messages.length).toBe(2);
      expect(messages[1].raw).toBe('READY=1');
    } finally {
      listener.close();
    }
  });
});

describe('IPv6 zones (fe80::1%lo), in a network namespace where lo has a link-local address', () => {
  it('bind, inspectFd, Node\'s own address(), a connection, a numeric zone, an unknown one, and adoption by the next generation', async () => {
    // -r: a user namespace too, so that no privilege is needed where they are allowed.
    const setup = 'ip link set lo up && ip -6 addr add fe80::1/64 dev lo nodad && exec "$0" "$@"';
    const run = spawnTracked('unshare', ['-rn', 'sh', '-c', setup, process.execPath, resolve(__dirname, '../fixtures/ipv6-zone.js'), DIST]);
    const { code, stdout, stderr } = await finished(run);
    expect(code, stderr).toBe(0);
    const lines = jsonLines(stdout);
    const port = (lines[0]?.bound as { port?: number } | undefined)?.port;
    expect(lines, stderr).toEqual([
      { bound: { family: 'IPv6', address: 'fe80::1%lo', port: expect.any(Number) }, inspected: 'fe80::1%lo' },
      { node: 'fe80::1%lo' },
      { reply: 'hello' },
      // lo is interface 1 in a new namespace; inspectFd names it.
      { numeric: 'fe80::1%lo' },
      { unknownZone: { code: 'ENODEV', syscall: 'listen' } },
      { adopted: 3, address: 'fe80::1%lo' },
      { next: { code: 0, signal: null } },
    ]);
    expect(port).toBeGreaterThan(0);
  });
});
