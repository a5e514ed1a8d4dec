import { basename, join } from 'node:path';

/**
 * The package's root directory, from the `__dirname` of a file of `layer`:
 * above lib/<layer>/ (or dist/<layer>/) when the file runs from its own
 * folder, above dist/ when it runs from the layer's bundle (dist/<layer>.js,
 * scripts/bundle.js).
 */
export function packageRoot(dirname: string, layer: string): string {
  return basename(dirname) === layer ? join(dirname, '..', '..') : join(dirname, '..');
}
