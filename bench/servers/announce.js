'use strict';
// The lines every benchmark server writes on stdout, one JSON object each:
//   {"event":"ready","pid":…,"port":…,"cpuMs":…} once it serves;
//   {"event":"cpu","pid":…,"cpuMs":…} as it exits.
// cpuMs is the CPU time (user + system) the process has used so far:
// bench:restart adds them up into requests per CPU-second of the server.
const { writeSync } = require('node:fs');

function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function line(event) {
  writeSync(1, `${JSON.stringify(event)}\n`);
}

let exitHooked = false;

/** Says the process serves on `port`, and arranges for its CPU time to be said at exit. */
function announceReady(port) {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => line({ event: 'cpu', pid: process.pid, cpuMs: cpuMs() }));
  }
  line({ event: 'ready', pid: process.pid, port, cpuMs: cpuMs() });
}

module.exports = { announceReady };
