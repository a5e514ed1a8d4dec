#!/usr/bin/env node
// npm run test:prebuilds:musl — optional, not in CI: the musl prebuilds
// resolved against real musl. This machine has no musl Node, so nothing can
// call into them; instead musl's own dynamic loader (Debian's musl package,
// and musl:arm64 under qemu-user for arm64) loads each one in ldd mode: it
// maps it, resolves every symbol as it would at require() (the builds bind
// now) and names each one it cannot find. Only those the node binary provides
// (N-API, libuv) may be left. Needs, once, as root:
//
//   apt-get install musl
//   dpkg --add-architecture arm64 && apt-get update && apt-get install musl:arm64 qemu-user-static
//
// node-gyp's glibc build is loaded the same way first: the loader must refuse
// it, or this check could not tell a good build from a bad one.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { TARGETS, prebuildPath } = require('./check-prebuilds.js');

const ROOT = join(__dirname, '..');
const QEMU = '/usr/bin/qemu-aarch64-static';
const LOADER = { x64: '/lib/ld-musl-x86_64.so.1', arm64: '/lib/ld-musl-aarch64.so.1' };
const FROM_NODE = /^(napi_|node_api_|uv_)/;

/** What musl's loader says of `file`: the symbols it could not resolve, and any other error. */
function resolveWithMusl(arch, file) {
  const args = [LOADER[arch], '--list', file];
  const out = arch === 'x64' ? spawnSync(args[0], args.slice(1), { encoding: 'utf8' }) : spawnSync(QEMU, args, { encoding: 'utf8' });
  if (out.error) throw out.error;
  const lines = `${out.stdout}${out.stderr}`.split('\n').filter(Boolean);
  const unresolved = [];
  const errors = [];
  for (const line of lines) {
    const symbol = /^Error relocating [^:]+: (\S+): symbol not found$/.exec(line);
    if (symbol) unresolved.push(symbol[1]);
    else if (/^Error/.test(line)) errors.push(line);
  }
  const libc = lines.some((l) => /^\s*libc\.so => /.test(l) || l.includes(LOADER[arch]));
  return { unresolved, errors, libc, lines };
}

function main() {
  let failed = false;
  const report = (ok, message) => {
    console.log(`${ok ? 'ok' : 'not ok'} ${message}`);
    if (!ok) failed = true;
  };

  if (!existsSync(LOADER.x64)) {
    console.error('test-prebuilds-musl: no musl loader: as root, apt-get install musl');
    process.exit(1);
  }

  // The control: node-gyp's build of the addon (build/Release, as npm ci
  // leaves it), linked by gcc against glibc and libstdc++: musl must refuse it.
  // (Not the glibc prebuild: it needs only symbols musl has too, and musl
  // ignores symbol versions, so musl's loader resolves it as well.)
  const control = join(ROOT, 'build', 'Release', 'handover.node');
  if (existsSync(control)) {
    const { unresolved, errors } = resolveWithMusl('x64', control);
    const foreign = unresolved.filter((s) => !FROM_NODE.test(s));
    report(foreign.length > 0 && errors.length > 0, `control: musl refuses build/Release/handover.node (${foreign.length} symbols it lacks, e.g. ${foreign.slice(0, 2).join(', ')}; ${errors.length} other errors, e.g. ${errors[0]})`);
  } else {
    report(false, 'control: build/Release/handover.node is missing: npm ci (or npm run build:native) first');
  }

  for (const target of TARGETS.filter((t) => t.libc === 'musl')) {
    const rel = prebuildPath(target);
    const file = join(ROOT, rel);
    if (!existsSync(file)) {
      report(false, `${rel}: missing (npm run prebuild:all)`);
      continue;
    }
    if (target.arch === 'arm64' && (!existsSync(QEMU) || !existsSync(LOADER.arm64))) {
      report(false, `${rel}: needs qemu-user-static and musl:arm64 (see the top of this script)`);
      continue;
    }
    const { unresolved, errors, libc } = resolveWithMusl(target.arch, file);
    const foreign = unresolved.filter((s) => !FROM_NODE.test(s));
    const problems = [...errors, ...foreign.map((s) => `${s}: not in musl`), ...(libc ? [] : ['musl did not load it as linked to its libc'])];
    report(problems.length === 0 && unresolved.length > 0, `${rel}: musl ${target.arch} resolves everything but ${unresolved.length} N-API/libuv symbols${problems.length ? `; ${problems.join('; ')}` : ''}`);
  }
  process.exit(failed ? 1 : 0);
}

main();
