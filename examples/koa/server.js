#!/usr/bin/env node
// Koa, made graceful with handover. `kill -HUP <pid>` (or -USR2) starts the
// next generation on the same listening socket; once it serves, this one
// finishes the requests it holds and exits. `kill -TERM` (or Ctrl-C) drains
// and exits. One JSON log line per lifecycle step.
//
//   PORT=3000 HOST=127.0.0.1 node examples/koa/server.js
'use strict';

const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');
const Koa = require('koa');
const { GracefulServer } = require('../..'); // require('handover') in your app

const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'GET') return;
  if (ctx.path === '/') {
    ctx.body = `hello from pid ${process.pid}\n`;
  } else if (ctx.path === '/sleep') {
    const ms = Math.min(Number(ctx.query.duration) || 1000, 60_000);
    log('sleep', { ms });
    await sleep(ms);
    ctx.body = `pid ${process.pid} slept ${ms} ms\n`;
  }
});

// app.callback() is a request listener: wrap the http.Server it runs in
// (what app.listen() would create).
const server = new GracefulServer(http.createServer(app.callback()), { drainTimeout: 30_000 });

for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
  server.on(event, (info) => log(event, info));
}
server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
server.upgrader.on('ready', () => log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid }));

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1').catch((err) => {
  log('error', { message: err.message });
  process.exit(1);
});
