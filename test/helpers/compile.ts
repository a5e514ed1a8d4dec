// The C fixtures (test/fixtures/*.c), compiled once per test process with the
// system's C compiler into a private temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const built = new Map<string, string>();
let dir: string | undefined;

function fixtureDirCreated(): string {
  if (dir === undefined) {
    const created = mkdtempSync(join(tmpdir(), 'handover-fixtures-'));
    dir = created;
    // Whichever test file compiled it, the directory goes with the process.
    process.once('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  return dir;
}

/** Path of the compiled test/fixtures/<name>.c. */
export function fixtureBinary(name: string): string {
  let path = built.get(name);
  if (path === undefined) {
    path = join(fixtureDirCreated(), name);
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', path, resolve(__dirname, '../fixtures', `${name}.c`)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    built.set(name, path);
  }
  return path;
}

/**
 * Path of test/fixtures/<name>.c compiled as a shared object, for LD_PRELOAD
 * (a shim that makes one call fail the way an old kernel or a limit would).
 */
export function fixtureLibrary(name: string): string {
  const key = `${name}.so`;
  let path = built.get(key);
  if (path === undefined) {
    path = join(fixtureDirCreated(), key);
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-o', path, resolve(__dirname, '../fixtures', `${name}.c`), '-ldl'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    built.set(key, path);
  }
  return path;
}

/** The directory the fixtures are compiled into, if any was. */
export function fixtureDir(): string | undefined {
  return dir;
}
