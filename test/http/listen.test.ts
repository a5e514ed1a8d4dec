// listenAndServe (issue 4): Go's address forms, each served across an
// upgrade by real generations of test/fixtures/graceful-app.js.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../helpers/children';
import { cleanupFleets, Fleet, get, pidOf, type Target } from '../helpers/graceful';

afterEach(cleanupFleets);
afterAll(() => removeTempDirs());

describe('listenAndServe address forms', () => {
  const forms: { name: string; address: () => string | number; host: string | null }[] = [
    { name: 'a port number (8080-like, here 0)', address: () => 0, host: '::' },
    { name: "Go's ':0'", address: () => ':0', host: '::' },
    { name: "'127.0.0.1:0'", address: () => '127.0.0.1:0', host: '127.0.0.1' },
    { name: "'unix:/path'", address: () => `unix:${join(tempDir('handover-graceful-'), 'app.sock')}`, host: null },
  ];
  for (const form of forms) {
    it(`${form.name}: serves, upgrades, and the next generation serves the same address`, async () => {
      const address = form.address();
      const fleet = new Fleet({ config: { kind: 'listenAndServe', address } });
      const first = await fleet.next({ event: 'ready' });
      const path = typeof address === 'string' && address.startsWith('unix:') ? address.slice('unix:'.length) : undefined;
      let target: Target;
      if (path) {
        expect(first.address).toBe(path);
        target = { socketPath: path };
      } else {
        expect(first.address).toBe(form.host);
        expect(first.port).toBeGreaterThan(0);
        target = { port: first.port };
      }
      expect(pidOf(await get(target))).toBe(first.pid);

      const { ready } = await fleet.upgrade(first);
      expect(ready.port).toBe(first.port);
      // Both serve during the drain ramp (the default); then only the new one.
      expect([first.pid, ready.pid]).toContain(pidOf(await get(target)));
      await fleet.retired(first, ready);
      // The retired generation did not take the Unix socket path with it.
      if (path) expect(existsSync(path)).toBe(true);
      expect(pidOf(await get(target))).toBe(ready.pid);

      fleet.signal(ready.pid, 'SIGTERM');
      expect(await fleet.next({ event: 'exit', pid: ready.pid })).toMatchObject({ code: 0 });
      await fleet.gone(ready.pid);
      // Without a successor, the path goes with the last generation.
      if (path) expect(existsSync(path)).toBe(false);
    });
  }
});
