'use strict';
// The lines every benchmark server writes on stdout, one JSON object each:
//   {"event":"ready","pid":…,"port":…,"cpuMs":…} once it serves;
//   {"event":"cpu","pid":…,"cpuMs":…} as it exits;
//   {"event":"served","pid":…,"worker":…,"requests":…,"connections":…} as it
//   exits, for a server that counts (counted()): what one worker served.
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

/**
 * `handler`, counting the requests it answers and the connections `server`
 * accepted, said in a "served" line at exit (with the worker's slot, from
 * HANDOVER_WORKER_ID or pm2's NODE_APP_INSTANCE): how the load was spread.
 */
function counted(handler, server) {
  let requests = 0;
  let connections = 0;
  server.on('connection', () => connections++);
  process.on('exit', () => {
    const worker = process.env.HANDOVER_WORKER_ID ?? process.env.NODE_APP_INSTANCE ?? process.env.CLUSTER_WORKER_ID ?? null;
    line({ event: 'served', pid: process.pid, worker: worker === null ? null : Number(worker), requests, connections });
  });
  return (req, res) => {
    requests++;
    handler(req, res);
  };
}

module.exports = { announceReady, counted };
