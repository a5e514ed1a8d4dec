// The generations' compile cache, end to end: the next generation of a
// GracefulServer (an Upgrader's) and every generation of `handover run` get
// NODE_COMPILE_CACHE as the compileCache option and --compile-cache say, read
// back from /proc/<pid>/environ of the real processes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nodeHasCompileCache } from '../../lib/protocol/compile-cache';
import { removeTempDirs, tempDir } from '../helpers/children';
import { cleanupFleets, Fleet } from '../helpers/graceful';
import { APP, cleanupSupervisors, SupervisorRun } from '../helpers/supervisor';
import { environOf } from '../helpers/proc';

afterEach(async () => {
  await cleanupFleets();
  await cleanupSupervisors();
});
afterAll(() => removeTempDirs());

/** The environment of the generation after the first, started by an upgrade. */
async function nextGenerationEnv(options: Record<string, unknown>, env: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
  const fleet = new Fleet({ config: { kind: 'http', options }, env: { NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined, ...env } });
  const first = await fleet.next({ event: 'ready' });
  fleet.signal(first.pid, 'SIGHUP');
  const second = await fleet.next({ event: 'ready', gen: 2 });
  return environOf(second.pid);
}

/** The environment of the first generation of `handover run ARGS`. */
async function supervisedEnv(args: string[], env: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
  const mode = join(tempDir('handover-cc-run-'), 'mode');
  writeFileSync(mode, 'graceful');
  const run = new SupervisorRun(['run', '--listen', '127.0.0.1:0', ...args, '--', process.execPath, APP], { env: { SUPERVISED_MODE_FILE: mode, NODE_COMPILE_CACHE: undefined, ...env } });
  const m = await run.log(/generation 1 \(pid ([0-9]+)\) is ready after/);
  return environOf(Number(m[1]));
}

describe('GracefulServer / Upgrader: the next generation', () => {
  it('gets NODE_COMPILE_CACHE=DIR for compileCache: DIR', async () => {
    const dir = tempDir('handover-cc-dir-');
    expect((await nextGenerationEnv({ compileCache: dir })).NODE_COMPILE_CACHE).toBe(dir);
  });

  it('gets none for compileCache: false; keeps the one the operator set by default', async () => {
    expect((await nextGenerationEnv({ compileCache: false })).NODE_COMPILE_CACHE).toBeUndefined();
    expect((await nextGenerationEnv({}, { NODE_COMPILE_CACHE: '/operator/cache' })).NODE_COMPILE_CACHE).toBe('/operator/cache');
  });

  it(`by default: ${nodeHasCompileCache() ? "the app's own directory" : 'none on this Node (< 22.1)'}`, async () => {
    const value = (await nextGenerationEnv({})).NODE_COMPILE_CACHE;
    if (nodeHasCompileCache()) expect(value).toMatch(new RegExp(`/handover-compile-cache-${process.getuid!()}/[0-9a-f]{16}$`));
    else expect(value).toBeUndefined();
  });
});

describe('handover run: every generation', () => {
  it('gets NODE_COMPILE_CACHE=DIR for --compile-cache DIR, none for --compile-cache off', async () => {
    const dir = tempDir('handover-cc-dir-');
    expect((await supervisedEnv(['--compile-cache', dir])).NODE_COMPILE_CACHE).toBe(dir);
    expect((await supervisedEnv(['--compile-cache', 'off'])).NODE_COMPILE_CACHE).toBeUndefined();
  });

  it(`by default: ${nodeHasCompileCache() ? "the app's own directory, unless the operator set one" : 'none on this Node (< 22.1)'}`, async () => {
    const value = (await supervisedEnv([])).NODE_COMPILE_CACHE;
    if (nodeHasCompileCache()) expect(value).toMatch(new RegExp(`/handover-compile-cache-${process.getuid!()}/[0-9a-f]{16}$`));
    else expect(value).toBeUndefined();
    expect((await supervisedEnv([], { NODE_COMPILE_CACHE: '/operator/cache' })).NODE_COMPILE_CACHE).toBe('/operator/cache');
  });
});
