// Where a generation's module compile cache lives (lib/protocol/compile-cache.ts):
// the rules that choose NODE_COMPILE_CACHE, and the checks on the default
// directory, which must be no one else's (a code cache is code).
import { chmodSync, chownSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCompileCache, compileCacheFor, defaultCompileCacheDir, nodeHasCompileCache } from '../../lib/protocol/compile-cache';
import { removeTempDirs, tempDir } from '../helpers/children';

afterAll(() => removeTempDirs());

const uid = process.getuid!();

describe('compileCacheFor', () => {
  it('takes a directory given, made absolute, whatever the environment says', () => {
    expect(compileCacheFor('/var/cache/app', { NODE_COMPILE_CACHE: '/elsewhere' }, ['/srv', 'server.js'])).toBe('/var/cache/app');
    expect(compileCacheFor('cache', {}, [])).toBe(join(process.cwd(), 'cache'));
  });

  it('gives none for false, and leaves an operator’s NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE alone', () => {
    expect(compileCacheFor(false, {}, ['/srv', 'server.js'])).toBeUndefined();
    expect(compileCacheFor(undefined, { NODE_COMPILE_CACHE: '/mine' }, ['/srv', 'server.js'])).toBeUndefined();
    expect(compileCacheFor(undefined, { NODE_DISABLE_COMPILE_CACHE: '1' }, ['/srv', 'server.js'])).toBeUndefined();
  });

  it('by default, on a Node that has the cache, a directory of the app’s own; one per app', () => {
    const a = compileCacheFor(undefined, {}, ['/srv/a', '/srv/a/server.js']);
    const b = compileCacheFor(undefined, {}, ['/srv/b', '/srv/b/server.js']);
    if (!nodeHasCompileCache()) {
      expect(a).toBeUndefined();
      return;
    }
    expect(a).toMatch(new RegExp(`/handover-compile-cache-${uid}/[0-9a-f]{16}$`));
    expect(b).not.toBe(a);
    expect(compileCacheFor(undefined, {}, ['/srv/a', '/srv/a/server.js'])).toBe(a);
  });

  it('knows which Nodes read NODE_COMPILE_CACHE', () => {
    expect(['20.20.2', '22.0.0', '21.9.9'].map((v) => nodeHasCompileCache(v))).toEqual([false, false, false]);
    expect(['22.1.0', '22.23.3', '24.0.0', '25.1.0'].map((v) => nodeHasCompileCache(v))).toEqual([true, true, true, true]);
  });

  it('refuses an option that is neither a directory nor false, naming it', () => {
    for (const bad of ['', true, 3, 'a\0b', null]) expect(() => checkCompileCache('options.compileCache', bad)).toThrow(/options\.compileCache/);
    expect(checkCompileCache('options.compileCache', false)).toBe(false);
  });
});

describe('defaultCompileCacheDir', () => {
  it('makes the per-user directory 0700 and names the app’s below it', () => {
    const base = tempDir('handover-cc-');
    const dir = defaultCompileCacheDir(['/srv', 'server.js'], base);
    expect(dir).toMatch(new RegExp(`^${base}/handover-compile-cache-${uid}/[0-9a-f]{16}$`));
    expect(lstatSync(join(base, `handover-compile-cache-${uid}`)).mode & 0o777).toBe(0o700);
  });

  it('gives none when the per-user directory is writable by others, a symlink, or another user’s', () => {
    const writable = tempDir('handover-cc-');
    mkdirSync(join(writable, `handover-compile-cache-${uid}`));
    chmodSync(join(writable, `handover-compile-cache-${uid}`), 0o777);
    expect(defaultCompileCacheDir(['app'], writable)).toBeNull();

    const linked = tempDir('handover-cc-');
    symlinkSync(tempDir('handover-cc-target-'), join(linked, `handover-compile-cache-${uid}`));
    expect(defaultCompileCacheDir(['app'], linked)).toBeNull();

    if (uid === 0) {
      const theirs = tempDir('handover-cc-');
      mkdirSync(join(theirs, `handover-compile-cache-${uid}`), { mode: 0o700 });
      chownSync(join(theirs, `handover-compile-cache-${uid}`), 65534, 65534);
      expect(defaultCompileCacheDir(['app'], theirs)).toBeNull();
    }
  });
});
