import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root';

let cached: string | undefined;

/** This package's version, from its package.json ('unknown' if it cannot be read). */
export function version(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(join(packageRoot(__dirname, 'core'), 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
