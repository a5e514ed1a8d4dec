// knownAddonPath (lib/native/addon-path.ts) opens the addon without
// node-gyp-build only where it names the file node-gyp-build would choose:
// checked against node-gyp-build itself on real package layouts.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { knownAddonPath } from '../../lib/native/addon-path';

const ROOT = resolve(__dirname, '..', '..');
const nodeGypBuild = createRequire(__filename)('node-gyp-build') as { path(dir: string): string };
const BUILT = join(ROOT, 'build', 'Release', 'handover.node');
const LIBC = process.platform === 'linux' && existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
const dirs: string[] = [];

/** A package directory with `files` (relative path -> source to copy, or '' for an empty file). */
function layout(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'handover-addon-path-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'handover' }));
  for (const [path, from] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    if (from) copyFileSync(from, join(dir, path));
    else writeFileSync(join(dir, path), '');
  }
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('knownAddonPath', () => {
  it("names node-gyp's build/Release/handover.node, node-gyp-build's first choice", () => {
    expect(knownAddonPath(ROOT)).toBe(BUILT);
    expect(nodeGypBuild.path(ROOT)).toBe(BUILT);
  });

  it("names this platform's release prebuild when there is no build/, as node-gyp-build does", () => {
    const prebuild = `prebuilds/${process.platform}-${process.arch}/handover.${LIBC}.node`;
    const other = `prebuilds/${process.platform}-${process.arch}/handover.${LIBC === 'musl' ? 'glibc' : 'musl'}.node`;
    const dir = layout({ [prebuild]: BUILT, [other]: '' });
    expect(knownAddonPath(dir)).toBe(join(dir, prebuild));
    expect(nodeGypBuild.path(dir)).toBe(join(dir, prebuild));
  });

  it('leaves every other layout, and every steering variable, to node-gyp-build', () => {
    expect(knownAddonPath(layout({ 'build/Release/other.node': BUILT }))).toBeUndefined();
    expect(knownAddonPath(layout({ [`prebuilds/${process.platform}-${process.arch}/handover.napi.node`]: BUILT }))).toBeUndefined();
    for (const name of ['PREBUILDS_ONLY', 'HANDOVER_PREBUILD', 'npm_config_arch', 'npm_config_platform', 'LIBC', 'ARM_VERSION']) {
      const saved = process.env[name];
      process.env[name] = '1';
      try {
        expect(knownAddonPath(ROOT), name).toBeUndefined();
      } finally {
        if (saved === undefined) delete process.env[name];
        else process.env[name] = saved;
      }
    }
  });
});
