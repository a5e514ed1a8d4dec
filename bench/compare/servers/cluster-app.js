'use strict';
// The node:cluster row of bench:compare: CLUSTER_WORKERS workers (default 2)
// accepting on one shared socket (NODE_CLUSTER_SCHED_POLICY=none, as the run
// sets it: each worker accepts for itself, like handover's workers) — the
// multi-core reference, never restarted. The primary writes the ready line
// once every worker listens; each worker says what it served at exit.
const cluster = require('node:cluster');
const http = require('node:http');
const hello = require('../../servers/hello');
const { announceReady, counted } = require('../../servers/announce');

const WORKERS = Number(process.env.CLUSTER_WORKERS || 2);
const PORT = Number(process.env.PORT);

if (cluster.isPrimary) {
  let listening = 0;
  for (let i = 0; i < WORKERS; i++) cluster.fork({ CLUSTER_WORKER_ID: String(i) });
  cluster.on('listening', () => {
    if (++listening === WORKERS) announceReady(PORT);
  });
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
    });
  });
} else {
  const server = http.createServer();
  server.on('request', counted(hello, server));
  server.listen(PORT, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
