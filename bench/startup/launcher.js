'use strict';
// Starts bench/startup/bare-listen.js the way an Upgrader starts a next
// generation — forkExecWithFds from a running process, on SIGHUP — so that
// `npm run bench:startup` times a bare Node server's restart by the same
// means as handover's. Its children write their ready line on its stdout.
const { join } = require('node:path');
const { forkExecWithFds, waitPid } = require('../..');

process.on('SIGHUP', () => {
  const pid = forkExecWithFds(process.execPath, [process.execPath, join(__dirname, 'bare-listen.js')], { files: [0, 1, 2] });
  waitPid(pid); // reaped when it exits, as an Upgrader reaps its children
});
process.on('SIGTERM', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ event: 'launcher', pid: process.pid })}\n`);
setInterval(() => {}, 1 << 30);
