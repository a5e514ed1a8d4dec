// STOPPING=1 lets a generation drain by its own rules past --drain-timeout,
// but not forever (issue 20, point 4): a generation that said it and hangs
// gets SIGKILL at STOPPING_KILL_FACTOR × --drain-timeout after its SIGTERM,
// on a reload and on a stop alike.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { STOPPING_KILL_FACTOR } from '../../lib/supervisor';
import { removeTempDirs, tempDir } from '../helpers/children';
import { APP, cleanupSupervisors, procState, SupervisorRun } from '../helpers/supervisor';

afterEach(cleanupSupervisors);
afterAll(removeTempDirs);

const DRAIN_MS = 400;

function supervise(): { run: SupervisorRun; mode: (m: string) => void } {
  const file = join(tempDir('handover-stopping-'), 'mode');
  writeFileSync(file, 'stopping-hang');
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', '--drain-timeout', `${DRAIN_MS}ms`, '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: file } });
  return { run, mode: (m) => writeFileSync(file, m) };
}

it('a generation that said STOPPING=1 and hangs after a reload is killed at the ceiling, not before', async () => {
  const { run, mode } = supervise();
  const first = await run.event({ event: 'ready' });
  mode('plain');
  run.signal('SIGHUP');
  await run.event({ event: 'stopping', pid: first.pid });
  const second = await run.event({ event: 'start', mode: 'plain' });
  await run.event({ event: 'ready', pid: second.pid });
  // At --drain-timeout it is spared: it said STOPPING=1.
  await run.log(new RegExp(`generation 1 \\(pid ${first.pid}\\) is still draining ${DRAIN_MS} ms after SIGTERM; it said STOPPING=1`));
  expect(procState(first.pid)).not.toBeNull();
  // At the ceiling it is not.
  await run.log(new RegExp(`generation 1 \\(pid ${first.pid}\\) said STOPPING=1 but did not exit within ${STOPPING_KILL_FACTOR * DRAIN_MS} ms of SIGTERM .*: SIGKILL to its process group`), 0, 20_000);
  await run.log(new RegExp(`generation 1 \\(pid ${first.pid}\\) exited \\(killed by SIGKILL\\)`));
  expect(procState(second.pid)).not.toBeNull();
});

it('a stop does not wait forever for a generation that said STOPPING=1 and hangs', async () => {
  const { run } = supervise();
  const first = await run.event({ event: 'ready' });
  run.signal('SIGTERM');
  await run.event({ event: 'stopping', pid: first.pid });
  await run.log(new RegExp(`said STOPPING=1 but did not exit within ${STOPPING_KILL_FACTOR * DRAIN_MS} ms of SIGTERM`), 0, 20_000);
  expect(await run.exit).toEqual({ code: 137, signal: null });
});
