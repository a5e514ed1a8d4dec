#!/usr/bin/env node
// Checks prebuilds/ before a release, and before the tests run on prebuilds only.
//
//   node scripts/check-prebuilds.js            every target of the release is there
//   node scripts/check-prebuilds.js --current  this machine's prebuild is there and
//                                              node-gyp-build loads it, not build/
//
// Each file is also checked for what it is: a binary for the wrong CPU, or a
// glibc build filed as musl, would install everywhere and fail at require().
'use strict';
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const PREBUILDS = join(ROOT, 'prebuilds');

/**
 * What `prebuildify --napi --strip --tag-libc` writes on each release runner
 * (.github/workflows/release.yml). prebuildify tags every non-musl system
 * "glibc", macOS included, and node-gyp-build looks for the same tag there.
 */
const TARGETS = [
  { platform: 'linux', arch: 'x64', libc: 'glibc' },
  { platform: 'linux', arch: 'x64', libc: 'musl' },
  { platform: 'linux', arch: 'arm64', libc: 'glibc' },
  { platform: 'linux', arch: 'arm64', libc: 'musl' },
  { platform: 'darwin', arch: 'x64', libc: 'glibc' },
  { platform: 'darwin', arch: 'arm64', libc: 'glibc' },
];

/** prebuilds/<platform>-<arch>/<name>.<libc>.node, relative to the package root. */
function prebuildPath(target) {
  return `prebuilds/${target.platform}-${target.arch}/handover.${target.libc}.node`;
}

const ELF_MACHINE = { x64: 62, arm64: 183 };
const MACHO_CPU = { x64: 0x01000007, arm64: 0x0100000c };

/** Why the file at `path` is not a loadable addon for `target`, or null. */
function inspect(path, target) {
  const bytes = readFileSync(path);
  if (target.platform === 'linux') {
    if (bytes.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
    if (bytes[4] !== 2 || bytes[5] !== 1) return 'not a 64-bit little-endian ELF file';
    const machine = bytes.readUInt16LE(18);
    if (machine !== ELF_MACHINE[target.arch]) return `built for ELF machine ${machine}, not ${target.arch}`;
    // Every glibc-linked object carries versioned symbols (GLIBC_2.x); a musl one none.
    const glibc = bytes.includes('GLIBC_');
    if (target.libc === 'glibc' && !glibc) return 'no GLIBC_ symbol versions: not linked against glibc';
    if (target.libc === 'musl' && glibc) return 'refers to GLIBC_ symbol versions: linked against glibc, not musl';
    return null;
  }
  if (bytes.readUInt32LE(0) !== 0xfeedfacf) return 'not a 64-bit Mach-O file';
  const cpu = bytes.readUInt32LE(4);
  if (cpu !== MACHO_CPU[target.arch]) return `built for Mach-O CPU 0x${cpu.toString(16)}, not ${target.arch}`;
  return null;
}

/** The newest GLIBC_x.y a glibc prebuild needs: the oldest distribution it loads on. */
function glibcFloor(path) {
  const versions = readFileSync(path).toString('latin1').match(/GLIBC_\d+\.\d+(\.\d+)?/g) ?? [];
  const parse = (v) => v.slice(6).split('.').map(Number);
  const newer = (a, b) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return false;
  };
  return versions.reduce((best, v) => (best === null || newer(parse(v), parse(best)) ? v : best), null);
}

/** This machine's target, as node-gyp-build tells the libc apart. */
function currentTarget() {
  const alpine = process.platform === 'linux' && existsSync('/etc/alpine-release');
  return { platform: process.platform, arch: process.arch, libc: process.env.LIBC || (alpine ? 'musl' : 'glibc') };
}

function main() {
  const current = process.argv.includes('--current');
  const targets = current ? [currentTarget()] : TARGETS;
  const problems = [];

  for (const target of targets) {
    const rel = prebuildPath(target);
    const path = join(ROOT, rel);
    if (!existsSync(path)) {
      problems.push(`${rel}: missing`);
      continue;
    }
    const why = inspect(path, target);
    if (why) problems.push(`${rel}: ${why}`);
    else {
      const floor = target.libc === 'glibc' && target.platform === 'linux' ? `, needs ${glibcFloor(path)}` : '';
      console.log(`ok ${rel} (${readFileSync(path).length} bytes${floor})`);
    }
  }

  // Nothing else: a stray file would be published with the release.
  if (!current && existsSync(PREBUILDS)) {
    const expected = new Set(TARGETS.map(prebuildPath));
    for (const dir of readdirSync(PREBUILDS)) {
      for (const file of readdirSync(join(PREBUILDS, dir))) {
        const rel = `prebuilds/${dir}/${file}`;
        if (!expected.has(rel)) problems.push(`${rel}: not a release target`);
      }
    }
  }

  if (current && problems.length === 0) {
    // What the tests will load with PREBUILDS_ONLY=1: the prebuild, with this Node.
    process.env.PREBUILDS_ONLY = '1';
    const nodeGypBuild = require('node-gyp-build');
    const loaded = relative(ROOT, nodeGypBuild.path(ROOT)).split('\\').join('/');
    if (loaded !== prebuildPath(targets[0])) problems.push(`node-gyp-build picks ${loaded}, not ${prebuildPath(targets[0])}`);
    else {
      const binding = nodeGypBuild(ROOT);
      if (typeof binding.spawn !== 'function') problems.push(`${loaded} loads but exports no spawn()`);
      else console.log(`ok node ${process.version} (N-API ${process.versions.napi}) loads ${loaded}`);
    }
  }

  if (problems.length > 0) {
    for (const problem of problems) console.error(`check-prebuilds: ${problem}`);
    process.exit(1);
  }
}

if (require.main === module) main();

module.exports = { TARGETS, prebuildPath, inspect, glibcFloor };
