// lib/protocol/pid-file.ts against another local user. The attacker runs as
// uid 65534 (setpriv) and owns the directory the pid file is written to —
// not sticky, not world-writable, so fs.protected_symlinks does not apply
// there whatever the sysctl says (the first test shows the attack works in
// it): it plants symlinks and FIFOs where root is about to write or read.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { writePidFile } from '../../lib/index';
import { cleanup, DIST, finished, removeTempDirs, spawnNode, tempDir, within } from '../helpers/children';

const NOBODY = 65534;

afterEach(cleanup);
afterAll(removeTempDirs);

/** Runs `argv` as uid/gid 65534 with no supplementary groups. */
function asNobody(argv: string[]): string {
  return execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...argv], { encoding: 'utf8', timeout: 10_000 });
}

/** A directory owned by the attacker (0755), and root's secret outside it (0600 in a 0700 directory). */
function scene(): { dir: string; secret: string } {
  const dir = tempDir('handover-pid-attack-');
  chmodSync(dir, 0o755);
  chownSync(dir, NOBODY, NOBODY);
  const vault = tempDir('handover-pid-vault-');
  chmodSync(vault, 0o700);
  const secret = join(vault, 'secret');
  writeFileSync(secret, 'root secret\n', { mode: 0o600 });
  return { dir, secret };
}

/**
 * A root process (this test's uid) that calls `call` (writePidFile,
 * reclaimPidFile or removePidFile) on `path` once it reads a line: its pid
 * is known before it writes, so the attacker can be run in between.
 */
function heldWriter(call: string, path: string): ChildProcess {
  const script = `
    const h = require(process.argv[1]);
    const p = require(process.argv[1].replace(/index\\.js$/, 'protocol/index.js'));
    process.stdin.once('data', () => {
      try { (h.${call} ?? p.${call})(process.argv[2]); console.log('done'); }
      catch (err) { console.log('error: ' + err.message); }
      process.exit(0);
    });`;
  return spawnNode(['-e', script, DIST, path], { stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('writePidFile with a hostile user in the directory', () => {
  it("never writes through the attacker's symlinks: the temp file is new, exclusive and not followed", async () => {
    const { dir, secret } = scene();
    // The attack works in this directory: root writing a path the attacker
    // made a symlink lands in the symlink's target.
    const control = join(tempDir('handover-pid-vault-'), 'control');
    writeFileSync(control, 'untouched\n', { mode: 0o600 });
    asNobody(['ln', '-s', control, join(dir, 'probe')]);
    writeFileSync(join(dir, 'probe'), 'followed\n');
    expect(readFileSync(control, 'utf8')).toBe('followed\n');

    const pidFile = join(dir, 'app.pid');
    const writer = heldWriter('writePidFile', pidFile);
    const done = finished(writer);
    const pid = writer.pid!;
    // The names a writer with that pid could use for its temp file, as symlinks to the secret.
    asNobody(['ln', '-s', secret, join(dir, `.app.pid.${pid}.tmp`)]);
    asNobody(['ln', '-s', secret, join(dir, `.app.pid.tmp`)]);
    writer.stdin!.end('go\n');
    const { stdout } = await done;

    expect(stdout).toBe('done\n');
    expect(readFileSync(secret, 'utf8')).toBe('root secret\n');
    expect(lstatSync(pidFile).isFile()).toBe(true);
    expect(lstatSync(pidFile).uid).toBe(process.getuid!());
    expect(readFileSync(pidFile, 'utf8')).toBe(`${pid}\n`);
    // Only the attacker's own entries and the pid file: no temp file left behind.
    expect(readdirSync(dir).sort()).toEqual(['.app.pid.tmp', `.app.pid.${pid}.tmp`, 'app.pid', 'probe'].sort());
  });

  it('refuses a directory that every user may write without the sticky bit, and says why', () => {
    const open = tempDir('handover-pid-open-');
    chmodSync(open, 0o777);
    expect(() => writePidFile(join(open, 'app.pid'))).toThrow(
      expect.objectContaining({
        name: 'HandoverError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: `cannot write the pid file ${join(open, 'app.pid')}: its directory ${open} is writable by every user and not sticky, so anyone could replace the file; use a directory only its owner may write, or make it sticky (chmod +t, as /tmp is)`,
      }),
    );
    expect(readdirSync(open)).toEqual([]);
    // Sticky, as /tmp is: every user may create files, none may replace another's.
    chmodSync(open, 0o1777);
    writePidFile(join(open, 'app.pid'));
    expect(readFileSync(join(open, 'app.pid'), 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(open)).toEqual(['app.pid']);
  });

  it('reads the pid file without blocking on a FIFO the attacker put in its place', async () => {
    const { dir } = scene();
    const pidFile = join(dir, 'app.pid');
    const run = async (call: string) => {
      const child = heldWriter(call, pidFile);
      child.stdin!.end('go\n');
      return within(10_000, finished(child), `${call} on a FIFO`);
    };
    // reclaimPidFile reads it first (is it still ours?), then writes it again.
    asNobody(['mkfifo', pidFile]);
    expect((await run('reclaimPidFile')).stdout).toBe('done\n');
    expect(lstatSync(pidFile).isFile()).toBe(true);
    expect(readFileSync(pidFile, 'utf8')).toMatch(/^[0-9]+\n$/);
    // At exit, removePidFile leaves a FIFO alone instead of hanging on it.
    unlinkSync(pidFile);
    asNobody(['mkfifo', pidFile]);
    expect((await run('removePidFile')).stdout).toBe('done\n');
    expect(lstatSync(pidFile).isFIFO()).toBe(true);
  });
});
