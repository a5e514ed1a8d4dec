#!/usr/bin/env node
// The first seed's Go program (ExtraFiles) with handover: the parent opens a
// log file and starts this same script again with `--child`, passing the log
// as fd 3; the child writes a line a second to fd 3. Unlike the Go original,
// the parent stays, forwards SIGINT/SIGTERM to the child and reports how it
// ended.
//
//   node main.js [--lines N] [--log PATH]      (PATH also from $EXTRA_FILES_LOG)
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { forkExecWithFds, waitPid, inspectFd } = require('../../');

const LOG_FD = 3; // files[3]: Go's ExtraFiles[0]

function usage(message) {
  process.stderr.write(`${message}\nusage: node ${path.basename(__filename)} [--lines N] [--log PATH]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { child: false, lines: Infinity, log: process.env.EXTRA_FILES_LOG || './test.log' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--child') options.child = true;
    else if (arg === '--lines') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) usage(`--lines must be a positive integer, got ${argv[i]}`);
      options.lines = n;
    } else if (arg === '--log') {
      if (argv[i + 1] === undefined) usage('--log needs a path');
      options.log = argv[++i];
    } else usage(`unknown argument ${arg}`);
  }
  return options;
}

function child(lines) {
  // Go's os.NewFile(3, ""): the fd is simply there. Node itself marked it
  // close-on-exec at start-up (uv_disable_stdio_inheritance), so the log does
  // not leak into anything this process starts in turn.
  const info = inspectFd(LOG_FD);
  console.log(`child ${process.pid}: inherited fd ${LOG_FD} (${info.type}, close-on-exec ${info.cloexec})`);

  let count = 0;
  const write = () => {
    try {
      fs.writeSync(LOG_FD, `hello, i'm the child process, write: ${count} line\n`);
    } catch (err) {
      console.error(`child ${process.pid}: write failed: ${err.message}`);
    }
    count++;
    if (count >= lines) {
      clearInterval(timer);
      fs.closeSync(LOG_FD);
    }
  };
  const timer = setInterval(write, 1000);
  write();
}

async function parent(options) {
  const logPath = path.resolve(options.log);
  const logFd = fs.openSync(logPath, 'a', 0o644);
  const argv = [process.execPath, __filename, '--child'];
  if (Number.isFinite(options.lines)) argv.push('--lines', String(options.lines));

  // fd 0, 1, 2 are shared; logFd becomes the child's fd 3. Nothing else is
  // inherited, and the dup clears the close-on-exec flag Node opened it with.
  const pid = forkExecWithFds(process.execPath, argv, { files: [0, 1, 2, logFd] });
  fs.closeSync(logFd);
  console.log(`parent ${process.pid}: started child ${pid}, writing to ${logPath}`);

  const forward = (signal) => {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (err.code !== 'ESRCH') throw err;
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);

  const { code, signal } = await waitPid(pid);
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (signal !== null) {
    console.log(`parent ${process.pid}: child ${pid} was killed by ${signal}`);
    process.exitCode = 128 + os.constants.signals[signal];
  } else {
    console.log(`parent ${process.pid}: child ${pid} exited with code ${code}`);
    process.exitCode = code;
  }
}

const options = parseArgs(process.argv.slice(2));
if (options.child) {
  child(options.lines);
} else {
  parent(options).catch((err) => {
    console.error(`parent ${process.pid}: ${err.message}`);
    process.exitCode = 1;
  });
}
