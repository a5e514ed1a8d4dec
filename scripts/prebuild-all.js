#!/usr/bin/env node
// npm run prebuild:all [-- TARGET...]
//
// Builds every prebuild a release ships (TARGETS of check-prebuilds.js) on one
// Linux x64 machine, with zig 0.11 as a cross-compiler (scripts/prebuild/zig.js
// installs it under .cache/ on first use). TARGET is e.g. linux-arm64-glibc or
// darwin-x64; none means all six, and prebuilds/ is emptied first.
//
// What is compiled comes from binding.gyp (scripts/prebuild/gyp.js), so a
// source, define or flag added there is in these builds too; node-gyp's own
// defaults for an addon (common.gypi, addon.gypi) are repeated below. Each
// build is then what node-gyp-build looks for (prebuildify's layout):
// prebuilds/<platform>-<arch>/handover.<libc>.node. docs/prebuilds.md has the
// why of each choice; check-prebuilds.js checks the result.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { availableParallelism, homedir } = require('node:os');
const { basename, delimiter, dirname, join, relative } = require('node:path');
const { TARGETS, prebuildPath, compareVersions } = require('./check-prebuilds.js');
const { targetSettings } = require('./prebuild/gyp.js');
const { findZig } = require('./prebuild/zig.js');

const ROOT = join(__dirname, '..');
const CACHE = join(ROOT, '.cache');
const WORK = join(CACHE, 'prebuild');
const TARGET_NAME = 'handover';

/** zig's name for each target; glibc and macOS versions are appended from TARGETS. */
const ZIG_TRIPLE = {
  'linux-x64-glibc': 'x86_64-linux-gnu',
  'linux-x64-musl': 'x86_64-linux-musl',
  'linux-arm64-glibc': 'aarch64-linux-gnu',
  'linux-arm64-musl': 'aarch64-linux-musl',
  'darwin-x64-glibc': 'x86_64-macos',
  'darwin-arm64-glibc': 'aarch64-macos',
};

/**
 * What node-gyp passes for every addon in a Release build, before the
 * target's own settings (node's common.gypi and node-gyp's addon.gypi, as in
 * build/handover.target.mk on Linux).
 */
const NODE_GYP = {
  defines: [`NODE_GYP_MODULE_NAME=${TARGET_NAME}`, 'BUILDING_NODE_EXTENSION', '_LARGEFILE_SOURCE', '_FILE_OFFSET_BITS=64', '__STDC_FORMAT_MACROS'],
  cflags: ['-fPIC', '-O3', '-fno-omit-frame-pointer'],
  cflags_cc: ['-fno-rtti', '-fno-exceptions', '-std=gnu++17'],
  linux: { cflags: ['-pthread'], ldflags: ['-shared', '-pthread'] },
  // -undefined dynamic_lookup: N-API comes from the node binary, found at load
  // time in the process (addon.gypi). zig links a dylib, as dlopen() accepts.
  mac: { defines: ['_DARWIN_USE_64_BIT_INODE=1'], cflags: ['-fno-strict-aliasing'], ldflags: ['-shared', '-Wl,-undefined,dynamic_lookup'] },
};

/**
 * zig links its own libc++, libc++abi and libunwind into the addon. Kept local,
 * none of their symbols can bind to (or be taken by) the libstdc++ of the node
 * binary that loads it; only the registration functions are seen.
 */
const VERSION_SCRIPT = '{\n  global: napi_register_module_v1; node_api_module_get_api_version_v1;\n  local: *;\n};\n';

const ZIG_OLDEST_MACOS = '11.0';

/** glibc before 2.33 needs our fstat (scripts/prebuild/glibc-fstat.c says why). */
const GLIBC_FSTAT = join(__dirname, 'prebuild', 'glibc-fstat.c');

function targetId(target) {
  return `${target.platform}-${target.arch}-${target.libc}`;
}

/** The name a user passes: darwin targets go without their "glibc" tag. */
function targetLabel(target) {
  return target.platform === 'darwin' ? `${target.platform}-${target.arch}` : targetId(target);
}

/** N-API's headers (node_api.h), from this Node's installation or node-gyp's download. */
function nodeHeaders() {
  const nextToNode = join(dirname(dirname(process.execPath)), 'include', 'node');
  const devdir = process.env.npm_config_devdir || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'node-gyp');
  const downloaded = join(devdir, process.versions.node, 'include', 'node');
  for (const dir of [nextToNode, downloaded]) if (existsSync(join(dir, 'node_api.h'))) return dir;
  const out = spawnSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'install'], { cwd: ROOT, stdio: 'inherit' });
  if (out.status !== 0 || !existsSync(join(downloaded, 'node_api.h'))) throw new Error(`no node_api.h next to ${process.execPath} and node-gyp install did not fetch it`);
  return downloaded;
}

/** llvm-strip (or llvm-strip-N), for the Mach-O builds: zig 0.11 cannot strip those. */
function llvmStrip() {
  const found = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    if (existsSync(join(dir, 'llvm-strip'))) return join(dir, 'llvm-strip');
    for (let v = 30; v >= 10; v--) if (existsSync(join(dir, `llvm-strip-${v}`))) found.push({ v, path: join(dir, `llvm-strip-${v}`) });
  }
  if (found.length > 0) return found.sort((a, b) => b.v - a.v)[0].path;
  throw new Error("the macOS builds are stripped with llvm-strip: install Debian's llvm package (apt-get install llvm)");
}

/** The compile and link command lines for one target, from binding.gyp (or the gyp file at `gypPath`). */
function commands(target, headers, gypPath = join(ROOT, 'binding.gyp')) {
  const os = target.platform === 'darwin' ? 'mac' : 'linux';
  const gyp = targetSettings(gypPath, TARGET_NAME, os);
  const removed = (key, values) => values.filter((v) => !gyp.removed[key].includes(v));
  const extra = NODE_GYP[os];

  let triple = ZIG_TRIPLE[targetId(target)];
  if (target.glibc) triple += `.${target.glibc}`;
  if (target.macos) {
    // binding.gyp's deployment target, or the oldest macOS zig 0.11 has
    // headers for (it ships those of 11, 12 and 13: neither our sources nor
    // its libc++ compile for 10.15), whichever is newer.
    const deployment = gyp.xcode.MACOSX_DEPLOYMENT_TARGET ?? ZIG_OLDEST_MACOS;
    const floor = compareVersions(deployment, ZIG_OLDEST_MACOS) > 0 ? deployment : ZIG_OLDEST_MACOS;
    if (compareVersions(target.macos, floor) !== 0) throw new Error(`${targetLabel(target)}: check-prebuilds expects macOS ${target.macos}, the build would be for ${floor}`);
    triple += `.${target.macos}`;
  }

  // As gyp does: on macOS the compiler and linker flags come from
  // xcode_settings, and a target's cflags, cflags_cc and ldflags (such as a
  // Linux-only -Wl,-z,… flag) are not used.
  const xcode = gyp.xcode;
  const mac = os === 'mac';
  const cflags = [...removed('cflags', [...NODE_GYP.cflags, ...extra.cflags]), ...(mac ? xcode.OTHER_CFLAGS ?? [] : gyp.cflags)];
  let cflagsCc = [...removed('cflags_cc', NODE_GYP.cflags_cc), ...(mac ? [] : gyp.cflags_cc)];
  if (mac) {
    if (xcode.GCC_ENABLE_CPP_EXCEPTIONS === 'YES') cflagsCc = cflagsCc.filter((f) => f !== '-fno-exceptions');
    if (xcode.CLANG_CXX_LANGUAGE_STANDARD) cflagsCc.push(`-std=${xcode.CLANG_CXX_LANGUAGE_STANDARD}`);
    cflagsCc.push(...(xcode.OTHER_CPLUSPLUSFLAGS ?? []));
  }
  const defines = [...removed('defines', [...NODE_GYP.defines, ...(extra.defines ?? [])]), ...gyp.defines].map((d) => `-D${d}`);
  const includes = [headers, ...gyp.include_dirs].map((d) => `-I${d}`);
  const ldflags = [...extra.ldflags, ...(mac ? xcode.OTHER_LDFLAGS ?? [] : gyp.ldflags), ...gyp.libraries];

  const compileCc = ['c++', '-target', triple, ...cflags, ...cflagsCc, ...defines, ...includes];
  const compileC = ['cc', '-target', triple, ...cflags];
  const extraSources = target.glibc && compareVersions(target.glibc, '2.33') < 0 ? [GLIBC_FSTAT] : [];
  // Linux: stripped at link time, only the registration functions exported.
  // macOS: a dylib names itself; without this, by the path it was built at.
  const own = os === 'linux' ? ['-s', `-Wl,--version-script=${join(WORK, 'exports.map')}`] : [`-Wl,-install_name,@rpath/${TARGET_NAME}.node`];
  const link = ['c++', '-target', triple, ...ldflags, ...own];
  return { triple, sources: gyp.sources, extraSources, compileCc, compileC, link, strip: os === 'mac' };
}

/** Runs `zig args…`; rejects with its output when it fails. */
function zig(zigPath, args, env) {
  return new Promise((done, fail) => {
    const child = spawn(zigPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(output) : fail(new Error(`zig ${args.join(' ')}\nexited with ${code}\n${output}`))));
  });
}

/** Runs `tasks` (functions returning promises) `limit` at a time. */
async function pool(tasks, limit) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

async function build(target, { zigPath, headers, env, jobs }) {
  const label = targetLabel(target);
  const cmd = commands(target, headers);
  const dir = join(WORK, targetId(target));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();

  const objects = [];
  const tasks = [...cmd.sources, ...cmd.extraSources].map((source) => {
    const object = join(dir, `${basename(source).replace(/\.\w+$/, '')}.o`);
    objects.push(object);
    const compile = source.endsWith('.c') ? cmd.compileC : cmd.compileCc;
    return () => zig(zigPath, [...compile, '-c', source, '-o', object], env);
  });
  await pool(tasks, jobs);

  const output = join(dir, `${TARGET_NAME}.node`);
  await zig(zigPath, [...cmd.link, ...objects, '-o', output], env);
  if (cmd.strip) {
    // -S debug information, -x local symbols: what prebuildify's `strip -Sx`
    // does on macOS. llvm-strip writes a new ad-hoc signature for the result.
    const out = spawnSync(llvmStrip(), ['-S', '-x', output], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`llvm-strip ${output}: ${out.stderr}`);
  }

  const dest = join(ROOT, prebuildPath(target));
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(output, dest);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`prebuild-all: ${label} (${cmd.triple}): ${relative(ROOT, dest)}, ${statSync(dest).size} bytes, ${seconds} s`);
  return { target, dest, size: statSync(dest).size, triple: cmd.triple };
}

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const labels = TARGETS.map(targetLabel);
  for (const name of wanted) if (!labels.includes(name)) throw new Error(`unknown target ${name}: one of ${labels.join(', ')}`);
  const targets = wanted.length === 0 ? TARGETS : TARGETS.filter((t) => wanted.includes(targetLabel(t)));

  const { path: zigPath, version } = findZig(CACHE);
  const headers = nodeHeaders();
  if (targets.some((t) => t.platform === 'darwin')) llvmStrip(); // fail before hours of compiling, not after
  // zig's cache (its libc++ and libc builds for each target) lives with the project.
  const zigCache = join(CACHE, 'zig-cache');
  const env = { ...process.env, ZIG_GLOBAL_CACHE_DIR: zigCache, ZIG_LOCAL_CACHE_DIR: zigCache };
  mkdirSync(WORK, { recursive: true });
  writeFileSync(join(WORK, 'exports.map'), VERSION_SCRIPT);
  if (wanted.length === 0) rmSync(join(ROOT, 'prebuilds'), { recursive: true, force: true });
  console.log(`prebuild-all: zig ${version} (${zigPath}), N-API headers ${headers}`);

  // One target at a time, its sources in parallel: zig builds each target's
  // libc++ once and caches it, and two cores do not gain from more.
  const jobs = Math.max(1, availableParallelism());
  for (const target of targets) await build(target, { zigPath, headers, env, jobs });
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`prebuild-all: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { commands };
