import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/** This package's version, from its package.json ('unknown' if it cannot be read). */
export function version(): string {
  if (cached === undefined) {
    try {
      // dist/core/version.js (and lib/core/version.ts under the tests): two levels below the package.
      cached = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
