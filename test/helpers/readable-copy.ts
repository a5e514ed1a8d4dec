// The built package, copied where every user can read it: a test that runs
// handover's code as another user (uid 65534) cannot count on reading the
// checkout, whose directory may be closed to others (a clone under a 0700
// temporary directory, or /root).
import { chmodSync, cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './children';

const ROOT = resolve(__dirname, '..', '..');

/** dist/, the built addon and package.json in a fresh 0755 directory; returns the copy's dist/index.js. */
export function readableDist(): string {
  const dir = tempDir('handover-readable-');
  chmodSync(dir, 0o755);
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
  cpSync(join(ROOT, 'build', 'Release', 'handover.node'), join(dir, 'build', 'Release', 'handover.node'));
  return join(dir, 'dist', 'index.js');
}
