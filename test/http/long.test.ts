// A long request across an upgrade (issue 4): a 5 s request started before
// the upgrade completes on the old generation, while every new request
// reaches the new one. Its own file, so that it runs beside the others.
import { afterEach, expect, it } from 'vitest';
import { cleanupFleets, Fleet, get, pidOf } from '../helpers/graceful';

afterEach(cleanupFleets);

it('a 5 s request started before an upgrade completes on the old pid; new requests reach the new pid meanwhile', async () => {
  // drainRamp 0: new connections reach the new generation at once.
  const fleet = new Fleet({ config: { kind: 'http', options: { drainRamp: 0 } } });
  const first = await fleet.next({ event: 'ready' });
  const port = first.port as number;
  const started = Date.now();
  const long = get({ port }, '/slow?ms=5000&id=long');
  await fleet.next({ event: 'request', pid: first.pid, id: 'long' });

  const { ready } = await fleet.upgrade(first);
  // While the old generation still works on the long request.
  for (let i = 0; i < 5; i++) expect(pidOf(await get({ port }))).toBe(ready.pid);
  expect(fleet.all({ event: 'drained' })).toEqual([]);

  const reply = await long;
  expect(pidOf(reply)).toBe(first.pid);
  expect(Date.now() - started).toBeGreaterThanOrEqual(4990);
  const drained = await fleet.retired(first, ready);
  expect(drained).toMatchObject({ hammered: 0, connectionsAtStart: 1, requestsAtStart: 1 });
  expect(pidOf(await get({ port }))).toBe(ready.pid);
});
