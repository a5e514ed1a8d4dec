import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { invalidType } from '../core';

// Node's module compile cache (Node >= 22.1): a generation started with
// NODE_COMPILE_CACHE=DIR reads the V8 code of every module it loads from DIR
// and writes what it had to compile, so the next generation of the same app
// skips compiling what did not change. Node keys each entry by the file's
// path and checks it against the file's content (and its own version and
// V8 flags), so a new release or a new Node recompiles what changed and
// nothing stale is ever run. What this file decides is only where the
// cache lives, and whether there is one.

/** `compileCache` of the Supervisor and the Upgrader: a directory, false for none, undefined for the default. */
export type CompileCacheOption = string | false | undefined;

/** The first Node that reads NODE_COMPILE_CACHE. */
const FIRST_NODE = [22, 1];

/** True when this Node reads NODE_COMPILE_CACHE (>= 22.1). */
export function nodeHasCompileCache(version: string = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > FIRST_NODE[0] || (major === FIRST_NODE[0] && minor >= FIRST_NODE[1]);
}

/** Throws ERR_INVALID_ARG_TYPE unless `value` is a usable {@link CompileCacheOption}. */
export function checkCompileCache(name: string, value: unknown): CompileCacheOption {
  if (value === undefined || value === false) return value;
  if (typeof value !== 'string' || value === '' || value.includes('\0')) invalidType(name, 'a directory or false', value);
  return value;
}

// FNV-1a, 64 bits: a short, stable directory name for an app. Not a secret:
// what keeps other users out is the 0700 directory above it.
function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash.toString(16).padStart(16, '0');
}

/**
 * The default cache of one app: `<tmpdir>/handover-compile-cache-<uid>/<hash of app>`.
 * The per-user directory is made 0700 and must be ours, a real directory,
 * and writable by nobody else: a code cache is code, and one planted by
 * another user would run in the app. Null (no cache) when it is not.
 */
export function defaultCompileCacheDir(app: readonly string[], base: string = tmpdir()): string | null {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const mine = join(base, `handover-compile-cache-${uid}`);
  try {
    mkdirSync(mine, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return null;
  }
  try {
    const stat = lstatSync(mine);
    if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) return null;
  } catch {
    return null;
  }
  return join(mine, fnv1a(JSON.stringify(app)));
}

/**
 * The directory to put in a generation's NODE_COMPILE_CACHE, or undefined
 * to leave its environment as it is: `option` when it names one (made
 * absolute); nothing when it is false, when `env` already says
 * NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE (the operator's choice
 * wins), or when this Node has no compile cache; else the app's default
 * ({@link defaultCompileCacheDir}, `app` naming the app: its cwd and command).
 */
export function compileCacheFor(option: CompileCacheOption, env: Record<string, string | undefined>, app: readonly string[]): string | undefined {
  if (option === false) return undefined;
  if (typeof option === 'string') return resolve(option);
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE !== undefined) return undefined;
  if (!nodeHasCompileCache()) return undefined;
  return defaultCompileCacheDir(app) ?? undefined;
}

/**
 * Writes what this process has compiled so far to its compile cache, if it
 * has one (Node >= 22.10 can flush before exit): called once a generation is
 * ready, so that the next one — started while this one still serves —
 * finds the start-up's modules compiled.
 */
export function flushCompileCache(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require('node:module') as { getCompileCacheDir?: () => string | undefined; flushCompileCache?: () => void };
  if (module.getCompileCacheDir?.() === undefined) return;
  try {
    module.flushCompileCache?.();
  } catch {
    // A cache that cannot be written only costs the next start its speed.
  }
}
