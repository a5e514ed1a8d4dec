// Windows: the package loads, and every call of the foundation layer throws
// HandoverError ERR_NOT_SUPPORTED. Simulated in a Node process of its own whose
// process.platform reports 'win32' before the compiled package is required.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/children';

interface Outcome {
  threw: boolean;
  sync?: boolean;
  name?: string;
  code?: string;
  message?: string;
}

interface WindowsReport {
  platform: string;
  exports: Record<string, string>;
  addons: string[];
  calls: Record<string, Outcome>;
  sweep: Record<string, Outcome>;
  constants: Record<string, unknown>;
}

// The foundation modules whose every function needs the addon.
const NATIVE_MODULES = ['native/fork-exec', 'native/wait-pid', 'native/fd'];

const script = `
  Object.defineProperty(process, 'platform', { value: 'win32' });
  const path = require('node:path');
  const dist = ${JSON.stringify(DIST)};
  const handover = require(dist);
  async function outcome(run) {
    let result;
    try {
      result = run();
    } catch (err) {
      return { threw: true, sync: true, name: err.name, code: err.code, message: err.message };
    }
    if (result && typeof result.then === 'function') {
      try {
        await result;
      } catch (err) {
        return { threw: true, sync: false, name: err.name, code: err.code, message: err.message };
      }
    }
    return { threw: false };
  }
  (async () => {
    const calls = {
      forkExecWithFds: await outcome(() => handover.forkExecWithFds('/bin/true', ['true'])),
      forkExecWithFdsWithAttr: await outcome(() => handover.forkExecWithFds('C:\\\\x.exe', ['x'], { files: [0, 1, 2], cwd: 'C:\\\\' })),
      waitPid: await outcome(() => handover.waitPid(process.pid)),
      inspectFd: await outcome(() => handover.inspectFd(0)),
      setCloexec: await outcome(() => handover.setCloexec(0, true)),
      dupCloexec: await outcome(() => handover.dupCloexec(0)),
    };
    // Every function of the native-backed modules, called without arguments:
    // the platform is checked before anything else.
    const sweep = {};
    for (const name of ${JSON.stringify(NATIVE_MODULES)}) {
      const mod = require(path.join(path.dirname(dist), name + '.js'));
      for (const [key, value] of Object.entries(mod)) {
        if (typeof value === 'function') sweep[name + '.' + key] = await outcome(() => value());
      }
    }
    const exports = Object.fromEntries(Object.entries(handover).map(([k, v]) => [k, typeof v]));
    const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node') || k.includes('node-gyp-build'));
    const constants = { DEFAULT_FILES: handover.DEFAULT_FILES, MAX_FILES: handover.MAX_FILES, codes: Object.keys(handover.ERROR_CODES).length };
    process.stdout.write(JSON.stringify({ platform: process.platform, exports, addons, calls, sweep, constants }));
  })();
`;

describe('Windows (simulated)', () => {
  let report: WindowsReport;

  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: resolve(__dirname, '../..'), encoding: 'utf8' });
    report = JSON.parse(stdout) as WindowsReport;
  });

  it('require works, without loading the addon', () => {
    expect(report.platform).toBe('win32');
    expect(report.exports).toMatchObject({
      forkExecWithFds: 'function',
      waitPid: 'function',
      inspectFd: 'function',
      setCloexec: 'function',
      dupCloexec: 'function',
      HandoverError: 'function',
      systemError: 'function',
      ERROR_CODES: 'object',
    });
    expect(report.addons).toEqual([]);
    expect(report.constants).toEqual({ DEFAULT_FILES: [0, 1, 2], MAX_FILES: 4096, codes: expect.any(Number) });
  });

  it('every function of the foundation throws HandoverError ERR_NOT_SUPPORTED', () => {
    for (const [name, outcome] of Object.entries(report.calls)) {
      expect(outcome, name).toMatchObject({ threw: true, name: 'HandoverError', code: 'ERR_NOT_SUPPORTED' });
      expect(outcome.message, name).toMatch(/not supported on win32/);
    }
    // Synchronously, like the argument errors on POSIX.
    for (const name of ['forkExecWithFds', 'inspectFd', 'setCloexec', 'dupCloexec']) expect(report.calls[name].sync, name).toBe(true);
  });

  it('even when called without arguments: the platform is checked first', () => {
    expect(Object.keys(report.sweep).sort()).toEqual(
      expect.arrayContaining(['native/fd.dupCloexec', 'native/fd.inspectFd', 'native/fd.setCloexec', 'native/fork-exec.forkExecWithFds', 'native/wait-pid.waitPid']),
    );
    for (const [name, outcome] of Object.entries(report.sweep)) {
      expect(outcome, name).toMatchObject({ threw: true, name: 'HandoverError', code: 'ERR_NOT_SUPPORTED' });
    }
  });
});
