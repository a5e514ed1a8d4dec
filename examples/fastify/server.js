#!/usr/bin/env node
// Fastify, made graceful with handover. `kill -HUP <pid>` (or -USR2) starts
// the next generation on the same listening socket; once it serves, this one
// finishes the requests it holds and exits. `kill -TERM` (or Ctrl-C) drains
// and exits. One JSON log line per lifecycle step.
//
//   PORT=3000 HOST=127.0.0.1 node examples/fastify/server.js
'use strict';

const { setTimeout: sleep } = require('node:timers/promises');
const Fastify = require('fastify');
const { GracefulServer } = require('../..'); // require('handover') in your app

const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

// Fastify keeps idle keep-alive connections for 72 s by default; a draining
// generation waits that long for an idle client before it closes the
// connection (closing earlier races a request the client may be sending).
// Keep it well below drainTimeout.
const fastify = Fastify({ keepAliveTimeout: 5_000 });

fastify.get('/', async () => `hello from pid ${process.pid}\n`);
fastify.addHook('onClose', async () => log('closed', {}));
fastify.get('/sleep', async (request) => {
  const ms = Math.min(Number(request.query.duration) || 1000, 60_000);
  log('sleep', { ms });
  await sleep(ms);
  return `pid ${process.pid} slept ${ms} ms\n`;
});

async function main() {
  // Fastify's own http.Server, listened on by handover instead of fastify.listen().
  await fastify.ready();
  // exit: false — this generation exits by itself (below), after fastify's
  // onClose hooks (database pools...) have run.
  const server = new GracefulServer(fastify.server, { drainTimeout: 30_000, exit: false });

  for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
    server.on(event, (info) => log(event, info));
  }
  server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
  server.upgrader.on('ready', () => log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid }));
  server.on('drained', () => fastify.close().finally(() => process.exit(0)));

  await server.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1');
}

main().catch((err) => {
  log('error', { message: err.message });
  process.exit(1);
});
