#!/usr/bin/env node
// The package's native calls, once each, through its public API, on a
// prebuild only (PREBUILDS_ONLY=1): run by test-prebuilds-arm64.js with the
// arm64 Node under qemu, where vitest cannot run (a test's child Node would be
// an arm64 binary the kernel cannot exec without binfmt_misc). The programs it
// starts are this machine's own /bin/sh, which the kernel runs natively.
//
// Prints one JSON report; the caller compares it with what it must be.
'use strict';
const { once } = require('node:events');
const { closeSync, mkdtempSync, openSync, readFileSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

process.env.PREBUILDS_ONLY = '1';
const ROOT = join(__dirname, '..', '..');

function outcome(run) {
  try {
    return { value: run() };
  } catch (err) {
    return { code: err.code, syscall: err.syscall };
  }
}

async function main() {
  const handover = require(ROOT);
  const loaded = relative(ROOT, require('node-gyp-build').path(ROOT));
  const report = { arch: process.arch, node: process.version, loaded };

  // fd_inspect: fstat, getsockname, getsockopt; a closed fd goes through
  // fstat's errno and a C++ exception (ThrowErrno) caught by node-addon-api.
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fd = server._handle.fd;
  const info = handover.inspectFd(fd);
  report.listener = { type: info.type, family: info.family, socketType: info.socketType, listening: info.listening, samePort: info.port === server.address().port };
  const closed = handover.dupCloexec(fd);
  closeSync(closed);
  report.closedFd = outcome(() => handover.inspectFd(closed));

  // fcntl round trips.
  const dup = handover.dupCloexec(fd, 10);
  report.dup = { atLeast10: dup >= 10, cloexec: handover.inspectFd(dup).cloexec, sameSocket: handover.inspectFd(dup).port === info.port };
  handover.setCloexec(dup, false);
  report.dup.cleared = handover.inspectFd(dup).cloexec;
  closeSync(dup);
  server.close();

  // spawn_linux: clone + exec with an exact fd table, then the exit watch.
  const dir = mkdtempSync(join(tmpdir(), 'handover-smoke-'));
  try {
    const out = openSync(join(dir, 'out'), 'w');
    const pid = handover.forkExecWithFds('/bin/sh', ['sh', '-c', 'echo "fd1 $0" && exit 3', 'from-sh'], { files: [0, out, 2] });
    report.exit = await handover.waitPid(pid);
    closeSync(out);
    report.childWrote = readFileSync(join(dir, 'out'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A failed exec is reported through memory the child shares with the parent
  // (clone with CLONE_VM): qemu-user runs that clone as a fork, so there the
  // child starts, fails alone, and is reaped here.
  report.missingProgram = outcome(() => handover.forkExecWithFds('/nonexistent/program', ['program']));
  if (typeof report.missingProgram.value === 'number') report.missingProgram = { started: true, exit: await handover.waitPid(report.missingProgram.value) };

  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
