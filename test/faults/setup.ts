// Runs around every fault-injection file: once the file's own cleanup is
// done, no process of the suite may be left — running or zombie. A process
// orphaned by cleanup's SIGKILL is reaped by PID 1 in its own time, so the
// check looks again for a bounded while before it fails.
import { afterAll } from 'vitest';
import { suiteProcesses } from './harness';

afterAll(async () => {
  const deadline = Date.now() + 15_000;
  let left = suiteProcesses();
  while ((left.live.length > 0 || left.zombies.length > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = suiteProcesses();
  }
  if (left.live.length > 0 || left.zombies.length > 0) {
    throw new Error(`processes of the fault suite left behind: running ${JSON.stringify(left.live)}, zombies ${JSON.stringify(left.zombies)}`);
  }
});
