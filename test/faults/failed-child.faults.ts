// Fault: the new generation listens — it adopted the shared socket and
// accepts from it, as tableflip's children do too — but never becomes ready,
// and is killed at the upgrade timeout. "A failed upgrade changes nothing"
// must then also hold for the clients whose connections it had accepted
// meanwhile. Each request below says on arrival which process holds it (the
// kernel hands a new connection to whichever listener accepts first); they
// take 5 s, so the ones the new process holds are still in flight when it is
// killed at 3 s.
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, gone, gracefulUpgradeTo, outcome, report, stopLoads, supervisorReloadTo } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

const TIMEOUT_MS = 3000;

/**
 * Sends 5-second requests, each on a new connection, until one lands on
 * `child` (at most 40); returns every request's outcome and the ids that
 * landed on the child.
 */
async function requestsUntilOneLandsOn(port: number, child: number, arrived: (id: string) => Promise<{ pid: number }>): Promise<{ outcomes: Promise<string>[]; onChild: string[]; ids: string[] }> {
  const outcomes: Promise<string>[] = [];
  const ids: string[] = [];
  const onChild: string[] = [];
  for (let i = 0; i < 40 && onChild.length === 0; i++) {
    const id = `r${i}`;
    ids.push(id);
    outcomes.push(outcome(port, `/pace?ms=5000&tell&id=${id}`, 15_000));
    if ((await arrived(id)).pid === child) onChild.push(id);
  }
  return { outcomes, onChild, ids };
}

it('GracefulServer: requests accepted by a new generation that never becomes ready', async (context) => {
  const row = report(context, {
    order: 65,
    scenario: 'New generation listens (accepts) but is never ready; stopped at upgradeTimeout',
    model: 'GracefulServer',
    must: 'no request lost: what the failing new process accepted is answered (or it never accepts before it is ready)',
  });
  const { run, first, load, child } = await gracefulUpgradeTo('never-ready', TIMEOUT_MS, 'listening');
  const { outcomes, onChild, ids } = await requestsUntilOneLandsOn(first.port, child.pid, (id) => run.next({ event: 'request', id }));
  const failed = await run.next({ event: 'upgrade-failed', pid: first.pid });
  await gone(run, child.pid);
  const results = await Promise.all(outcomes);
  // Answered by either process is answered: the failed one is told to stop
  // (SIGTERM) and drains what it accepted before it is killed.
  const lost = ids.filter((_, i) => !/^200 /.test(results[i]));
  const totals = await load.stop();
  row.result =
    `${ids.length} slow requests sent after the new pid listened, ${onChild.length} landed on it (${onChild.join(', ') || '-'}); '${failed.code}' after ${TIMEOUT_MS} ms, then SIGTERM: it drained; ` +
    `lost: ${lost.map((id) => `${id} -> ${results[ids.indexOf(id)]}`).join(', ') || 'none'}; background load: ${describeLoad(totals)}`;
  expect(failed.code).toBe('ERR_UPGRADE_TIMEOUT');
  expect(lost).toEqual([]);
});

it('supervisor: requests accepted by a new generation that never becomes ready', async (context) => {
  const row = report(context, {
    order: 66,
    scenario: 'New generation listens (accepts) but is never ready; stopped at --ready-timeout',
    model: 'supervisor',
    must: 'no request lost: what the failing new generation accepted is answered (or it never accepts before it is ready)',
  });
  const { run, port, load, pid2, mark } = await supervisorReloadTo('never-ready', ['--ready-timeout', `${TIMEOUT_MS}ms`], 'listening');
  const { outcomes, onChild, ids } = await requestsUntilOneLandsOn(port, pid2, (id) => run.event({ event: 'request', id }));
  const failed = await run.log(/reload failed: .*/, mark);
  const results = await Promise.all(outcomes);
  const lost = ids.filter((_, i) => !/^200 /.test(results[i]));
  const totals = await load.stop();
  row.result =
    `${ids.length} slow requests sent after the new pid listened, ${onChild.length} landed on it (${onChild.join(', ') || '-'}); "${failed[0].replace(/^handover\[\d+\]: /, '')}"; ` +
    `lost: ${lost.map((id) => `${id} -> ${results[ids.indexOf(id)]}`).join(', ') || 'none'}; background load: ${describeLoad(totals)}`;
  expect(lost).toEqual([]);
});
