import { type CompileCacheOption, monotonicUsec, reclaimPidFile, type Upstream } from '../protocol';
import type { EntryPoint } from './entry-point';
import { NextGeneration } from './next-generation';

/** What one upgrade needs from the Upgrader. */
export interface UpgradeStep {
  entry: EntryPoint;
  files: readonly { fd: number; name: string }[];
  timeout: number;
  supervisorPid: number | null;
  upstream: Upstream;
  pidFile: string | undefined;
  log: (line: string) => void;
  warn: (message: string) => void;
  /** The next generation's module compile cache (NODE_COMPILE_CACHE). */
  compileCache: CompileCacheOption;
  /** The next generation was started (to abort it, say). */
  spawned: (next: NextGeneration) => void;
}

/**
 * One upgrade, as systemd's service manager sees it: RELOADING=1, the next
 * generation started and awaited, then MAINPID= of the new process with
 * READY=1 — or, when it failed, READY=1 with the reason (so that a
 * `systemctl reload` always ends) and the PID file given back to this
 * process (the failed child may have written its own). Resolves with the
 * new pid; rejects with the NextGeneration's error.
 */
export async function upgradeStep(step: UpgradeStep): Promise<number> {
  const started = Date.now();
  step.upstream.send({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString() });
  try {
    const next = new NextGeneration({ entry: step.entry, files: step.files, upstream: step.upstream.socket, timeout: step.timeout, supervisorPid: step.supervisorPid, log: step.log, compileCache: step.compileCache });
    step.spawned(next);
    const pid = await next.ready;
    step.log(`generation ${pid} is ready after ${Date.now() - started} ms`);
    step.upstream.send({ MAINPID: pid, READY: 1 });
    return pid;
  } catch (err) {
    if (step.pidFile) {
      try {
        reclaimPidFile(step.pidFile);
      } catch (pidErr) {
        step.warn(`could not rewrite the PID file ${step.pidFile}: ${(pidErr as Error).message}`);
      }
    }
    step.upstream.send({ READY: 1, STATUS: `upgrade failed: ${(err as Error).message}` });
    throw err;
  }
}
