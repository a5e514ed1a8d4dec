// The C fixtures (test/fixtures/*.c), compiled once per test process with the
// system's C compiler into a private temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const built = new Map<string, string>();
let dir: string | undefined;

/** Path of the compiled test/fixtures/<name>.c. */
export function fixtureBinary(name: string): string {
  let path = built.get(name);
  if (path === undefined) {
    // Removed with the other temporary directories of the process (children.ts).
    dir ??= mkdtempSync(join(tmpdir(), 'handover-fixtures-'));
    path = join(dir, name);
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', path, resolve(__dirname, '../fixtures', `${name}.c`)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    built.set(name, path);
  }
  return path;
}

/** The directory the fixtures are compiled into, if any was. */
export function fixtureDir(): string | undefined {
  return dir;
}
