#!/usr/bin/env node
// Hono on Node (@hono/node-server), made graceful with handover.
// `kill -HUP <pid>` (or -USR2) starts the next generation on the same
// listening socket; once it serves, this one finishes the requests it holds
// and exits. `kill -TERM` (or Ctrl-C) drains and exits. One JSON log line per
// lifecycle step.
//
//   PORT=3000 HOST=127.0.0.1 node examples/hono/server.js
'use strict';

const { setTimeout: sleep } = require('node:timers/promises');
const { Hono } = require('hono');
const { createAdaptorServer } = require('@hono/node-server');
const { GracefulServer } = require('../..'); // require('handover') in your app

const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

const app = new Hono();
app.get('/', (c) => c.text(`hello from pid ${process.pid}\n`));
app.get('/sleep', async (c) => {
  const ms = Math.min(Number(c.req.query('duration')) || 1000, 60_000);
  log('sleep', { ms });
  await sleep(ms);
  return c.text(`pid ${process.pid} slept ${ms} ms\n`);
});

// createAdaptorServer is serve() without the listen: an http.Server to wrap.
const server = new GracefulServer(createAdaptorServer({ fetch: app.fetch }), { drainTimeout: 30_000 });

for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
  server.on(event, (info) => log(event, info));
}
server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
server.upgrader.on('ready', () => log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid }));

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1').catch((err) => {
  log('error', { message: err.message });
  process.exit(1);
});
