#!/usr/bin/env node
// Checks prebuilds/ before a release, and before the tests run on prebuilds only.
//
//   node scripts/check-prebuilds.js            every target of the release is there
//                                              and is what its target's loader accepts
//   node scripts/check-prebuilds.js --current  this machine's prebuild is there and
//                                              node-gyp-build loads it, not build/
//   --root DIR                                 check DIR/prebuilds instead of the repo's
//
// Each file is read for what it is, in plain Node (scripts/binary/): a binary
// for the wrong CPU, a glibc build filed as musl, a symbol the target's libc
// does not have, a glibc newer than the floor, a dylib other than libSystem, a
// macOS newer than the minimum or a code signature that no longer matches
// would all install and then fail at require(). docs/prebuilds.md says what
// each rule is for.
'use strict';
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');
const { readElf } = require('./binary/elf.js');
const { readMachO, PLATFORM_MACOS, DYNAMIC_LOOKUP_ORDINAL, BIND_SPECIAL_DYLIB_FLAT_LOOKUP } = require('./binary/macho.js');

const REPO = join(__dirname, '..');

/**
 * Every prebuild a release ships (npm run prebuild:all builds them all,
 * scripts/prebuild-all.js). prebuildify's naming: node-gyp-build tags every
 * non-musl system "glibc", macOS included, and looks for the same tag there.
 * `glibc`: the newest glibc symbol version a Linux glibc build may need (2.17
 * is the first glibc for arm64; Node 20's own binaries need 2.28). `macos`:
 * the minimum macOS the build is made for: 11.0, the oldest macOS whose
 * headers zig 0.11 ships (binding.gyp's MACOSX_DEPLOYMENT_TARGET, 10.15, is
 * what a build from source on a Mac gets; on 10.15 the install compiles).
 */
const TARGETS = [
  { platform: 'linux', arch: 'x64', libc: 'glibc', glibc: '2.17' },
  { platform: 'linux', arch: 'x64', libc: 'musl' },
  { platform: 'linux', arch: 'arm64', libc: 'glibc', glibc: '2.17' },
  { platform: 'linux', arch: 'arm64', libc: 'musl' },
  { platform: 'darwin', arch: 'x64', libc: 'glibc', macos: '11.0' },
  { platform: 'darwin', arch: 'arm64', libc: 'glibc', macos: '11.0' },
];

/** prebuilds/<platform>-<arch>/<name>.<libc>.node, relative to the package root. */
function prebuildPath(target) {
  return `prebuilds/${target.platform}-${target.arch}/handover.${target.libc}.node`;
}

const ELF_MACHINE = { x64: 62, arm64: 183 };
const MACHO_CPU = { x64: 0x01000007, arm64: 0x0100000c };
const REGISTER = 'napi_register_module_v1';
/** What the addon may export: the registration functions of node_api.h. */
const EXPORTS = new Set([REGISTER, 'node_api_module_get_api_version_v1']);
/** Provided by the node binary that loads the addon: N-API, and libuv (uv_poll, uv_async). */
const FROM_NODE = /^(napi_|node_api_|uv_)/;
/** The libraries of glibc itself; anything else (libstdc++, libgcc_s) may be missing or too old. */
const GLIBC_LIBRARIES = new Set(['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1']);
/** musl is one library; its loader answers to these names. */
const MUSL_LIBRARIES = { x64: new Set(['libc.so', 'libc.musl-x86_64.so.1']), arm64: new Set(['libc.so', 'libc.musl-aarch64.so.1']) };
/** Weak references the C runtime's start files make, which may stay unresolved. */
const WEAK_RUNTIME = new Set(['__gmon_start__', '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable']);
/** Names only glibc has: a build that refers to them was compiled against glibc's headers. */
const GLIBC_ONLY = /^(__(isoc99|isoc23)_|__libc_|__(f|l)?xstat|gnu_get_libc_)|_chk$/;
const LIBSYSTEM = '/usr/lib/libSystem.B.dylib';
/** A native Xcode build (npm run prebuild on a Mac) links the system's libc++ too. */
const LIBCXX = '/usr/lib/libc++.1.dylib';

/** -1, 0 or 1 as dotted version a is older, equal or newer than b. */
function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  }
  return 0;
}

/** The newest of `versions` (dotted strings), or null. */
function newest(versions) {
  return versions.reduce((best, v) => (best === null || compareVersions(v, best) > 0 ? v : best), null);
}

/**
 * Why the ELF file `bytes` is not a loadable addon for `target`: a list of
 * problems (empty when it is), and a summary of what it needs.
 * `strict`: the rules of a release build (below); otherwise only what any
 * build for this target must satisfy, as prebuildify's native build on this
 * machine (which links libstdc++) for --current.
 */
function checkElf(bytes, target, strict) {
  const elf = readElf(bytes);
  if (typeof elf === 'string') return { problems: [elf] };
  if (elf.machine !== ELF_MACHINE[target.arch]) return { problems: [`built for ELF machine ${elf.machine}, not ${target.arch} (${ELF_MACHINE[target.arch]})`] };
  if (elf.type !== 3) return { problems: [`ELF type ${elf.type}, not a shared object`] };
  const problems = [];
  const glibcVersions = elf.versionsNeeded.filter((v) => v.version.startsWith('GLIBC_'));

  if (!elf.symbols.some((s) => s.name === REGISTER && s.defined && s.bind !== 'local')) problems.push(`does not export ${REGISTER}: Node cannot register it`);
  if (target.libc === 'glibc' && glibcVersions.length === 0) problems.push('no GLIBC_ symbol versions: not linked against glibc');
  if (target.libc === 'musl' && glibcVersions.length > 0) problems.push('refers to GLIBC_ symbol versions: linked against glibc, not musl');
  if (elf.tls || elf.staticTls) {
    problems.push('has thread-local storage: a dlopen()ed addon may find no static TLS left, and a C library linked in with its own errno (ziglang/zig#17034) hides every error');
  }
  if (elf.textrel) problems.push('has text relocations');
  if (elf.execStack !== false) problems.push(elf.execStack === null ? 'no PT_GNU_STACK: the loader would make the stack executable' : 'asks for an executable stack');
  if (elf.symtab || elf.debugSections.length > 0) problems.push(`not stripped (${[elf.symtab ? '.symtab' : null, ...elf.debugSections].filter(Boolean).join(', ')})`);
  if (elf.runpath.length > 0) problems.push(`has an RPATH/RUNPATH (${elf.runpath.join(', ')})`);

  const libcSymbols = [];
  const nodeSymbols = [];
  if (strict) {
    const allowed = target.libc === 'glibc' ? GLIBC_LIBRARIES : MUSL_LIBRARIES[target.arch];
    for (const lib of elf.needed) if (!allowed.has(lib)) problems.push(`needs ${lib}, which is not part of ${target.libc}`);
    for (const { file, version } of elf.versionsNeeded) {
      if (target.libc === 'musl') continue; // reported above
      if (!/^GLIBC_\d+(\.\d+)+$/.test(version)) problems.push(`needs symbol version ${version} of ${file}`);
      else if (compareVersions(version.slice(6), target.glibc) > 0) problems.push(`needs ${version} (${file}), newer than the floor GLIBC_${target.glibc}`);
    }
    for (const symbol of elf.symbols) {
      if (symbol.defined) {
        if (!EXPORTS.has(symbol.name) && symbol.bind !== 'local') problems.push(`exports ${symbol.name}: only the registration functions may be visible`);
        continue;
      }
      if (FROM_NODE.test(symbol.name)) {
        if (symbol.version !== null) problems.push(`${symbol.name} is bound to ${symbol.versionFile} ${symbol.version}, not to the node binary`);
        nodeSymbols.push(symbol.name);
      } else if (symbol.bind === 'weak' && symbol.version === null && WEAK_RUNTIME.has(symbol.name)) {
        // resolved or not, the start files cope
      } else if (target.libc === 'glibc') {
        if (symbol.version === null || !GLIBC_LIBRARIES.has(symbol.versionFile)) problems.push(`undefined symbol ${symbol.name} is neither N-API nor glibc's`);
        else libcSymbols.push(symbol.name);
      } else {
        if (GLIBC_ONLY.test(symbol.name)) problems.push(`undefined symbol ${symbol.name} exists in glibc only, not in musl`);
        else libcSymbols.push(symbol.name);
      }
    }
  }

  const floor = newest(glibcVersions.map((v) => v.version.slice(6)));
  const needs = [
    floor ? `GLIBC_${floor} at most` : null,
    `NEEDED ${elf.needed.join(' ')}`,
    strict ? `${libcSymbols.length} ${target.libc} symbols, ${nodeSymbols.length} N-API/libuv` : null,
  ].filter(Boolean);
  return { problems, summary: needs.join('; '), glibcFloor: floor };
}

/** As {@link checkElf}, for a Mach-O file and a darwin target. */
function checkMachO(bytes, target, strict) {
  const macho = readMachO(bytes);
  if (typeof macho === 'string') return { problems: [macho] };
  if (macho.cpu !== MACHO_CPU[target.arch]) return { problems: [`built for Mach-O CPU 0x${macho.cpu.toString(16)}, not ${target.arch}`] };
  const problems = [];
  if (macho.filetype !== 6 && macho.filetype !== 8) problems.push(`Mach-O file type ${macho.filetype}, neither a dylib nor a bundle`);
  if (!macho.exported.includes(`_${REGISTER}`)) problems.push(`does not export _${REGISTER}: Node cannot register it`);
  if (macho.platform !== PLATFORM_MACOS) problems.push(macho.platform === null ? 'no minimum OS version (LC_BUILD_VERSION)' : `built for Apple platform ${macho.platform}, not macOS`);
  else if (strict && compareVersions(macho.minOs, target.macos) !== 0) problems.push(`built for macOS ${macho.minOs} and later, not ${target.macos}`);
  else if (!strict && compareVersions(macho.minOs, target.macos) > 0) problems.push(`needs macOS ${macho.minOs}, newer than ${target.macos}`);
  if (macho.localSymbols !== 0 || macho.stabs > 0) problems.push(`not stripped (${macho.localSymbols} local symbols, ${macho.stabs} debug entries)`);
  // The arm64 kernel maps no code without a valid signature; ad-hoc is enough.
  if (macho.signature === null) {
    if (target.arch === 'arm64') problems.push('has no code signature: arm64 macOS refuses to load unsigned code');
  } else if (!macho.signature.ok) problems.push(macho.signature.why);

  const allowed = strict ? [LIBSYSTEM] : [LIBSYSTEM, LIBCXX];
  for (const lib of macho.dylibs) if (!allowed.includes(lib)) problems.push(`links ${lib}${strict ? ', not only libSystem' : ''}`);

  // napi_* and uv_* come from the node binary: looked up in the process's flat
  // namespace when first called, never bound to a dylib.
  const flat = new Set(macho.binds.filter((b) => b.ordinal === BIND_SPECIAL_DYLIB_FLAT_LOOKUP).map((b) => b.symbol));
  const lazy = new Set(macho.binds.filter((b) => b.lazy).map((b) => b.symbol));
  const nodeSymbols = [];
  const systemSymbols = [];
  for (const { name, ordinal } of macho.undefinedSymbols) {
    if (FROM_NODE.test(name.slice(1))) {
      nodeSymbols.push(name);
      if (ordinal !== DYNAMIC_LOOKUP_ORDINAL || !flat.has(name)) problems.push(`${name} is bound to ${ordinal >= 1 && ordinal <= macho.dylibs.length ? macho.dylibs[ordinal - 1] : `library ordinal ${ordinal}`}, not looked up in the process`);
      else if (strict && !lazy.has(name)) problems.push(`${name} is bound when the addon loads, not when first called`);
    } else if (ordinal >= 1 && ordinal <= macho.dylibs.length) {
      systemSymbols.push(name);
    } else {
      problems.push(`undefined symbol ${name} is neither N-API nor from ${macho.dylibs.join(', ') || 'a dylib'} (ordinal ${ordinal})`);
    }
  }

  const summary = [
    `macOS ${macho.minOs}+`,
    `links ${macho.dylibs.map((d) => d.split('/').pop()).join(' ')}`,
    `${systemSymbols.length} libSystem symbols, ${nodeSymbols.length} N-API/libuv looked up in the process`,
    macho.signature === null ? 'unsigned' : 'code signature matches',
  ];
  return { problems, summary: summary.join('; ') };
}

/**
 * Why the file at `path` is not a loadable addon for `target`: a list of
 * problems (empty when it is) and a one-line summary of what it needs.
 */
function inspect(path, target, { strict = true } = {}) {
  const bytes = readFileSync(path);
  return target.platform === 'darwin' ? checkMachO(bytes, target, strict) : checkElf(bytes, target, strict);
}

/** This machine's target, as node-gyp-build tells the libc apart. */
function currentTarget() {
  const alpine = process.platform === 'linux' && existsSync('/etc/alpine-release');
  const libc = process.env.LIBC || (alpine ? 'musl' : 'glibc');
  const release = TARGETS.find((t) => t.platform === process.platform && t.arch === process.arch && t.libc === libc);
  return release ?? { platform: process.platform, arch: process.arch, libc };
}

function parseArgs(argv) {
  const current = argv.includes('--current');
  const at = argv.indexOf('--root');
  const root = at >= 0 ? resolve(argv[at + 1] ?? '.') : REPO;
  return { current, root };
}

function main() {
  const { current, root } = parseArgs(process.argv.slice(2));
  const targets = current ? [currentTarget()] : TARGETS;
  const problems = [];

  for (const target of targets) {
    const rel = prebuildPath(target);
    const path = join(root, rel);
    if (!existsSync(path)) {
      problems.push(`${rel}: missing`);
      continue;
    }
    // --current accepts any build this machine's Node loads (prebuildify's
    // links libstdc++); the release rules are for what prebuild:all ships.
    const result = inspect(path, target, { strict: !current });
    for (const problem of result.problems) problems.push(`${rel}: ${problem}`);
    if (result.problems.length === 0) console.log(`ok ${rel} (${readFileSync(path).length} bytes; ${result.summary})`);
  }

  // Nothing else: a stray file would be published with the release.
  const prebuilds = join(root, 'prebuilds');
  if (!current && existsSync(prebuilds)) {
    const expected = new Set(TARGETS.map(prebuildPath));
    for (const dir of readdirSync(prebuilds)) {
      for (const file of readdirSync(join(prebuilds, dir))) {
        const rel = `prebuilds/${dir}/${file}`;
        if (!expected.has(rel)) problems.push(`${rel}: not a release target`);
      }
    }
  }

  if (current && problems.length === 0) {
    // What the tests will load with PREBUILDS_ONLY=1: the prebuild, with this Node.
    process.env.PREBUILDS_ONLY = '1';
    const nodeGypBuild = require('node-gyp-build');
    const loaded = relative(root, nodeGypBuild.path(root)).split('\\').join('/');
    if (loaded !== prebuildPath(targets[0])) problems.push(`node-gyp-build picks ${loaded}, not ${prebuildPath(targets[0])}`);
    else {
      const binding = nodeGypBuild(root);
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

module.exports = { TARGETS, prebuildPath, inspect, compareVersions };
