#!/usr/bin/env node
// Express, made graceful with handover. `kill -HUP <pid>` (or -USR2) starts the
// next generation on the same listening socket; once it serves, this one
// finishes the requests it holds and exits. `kill -TERM` (or Ctrl-C) drains
// and exits. One JSON log line per lifecycle step.
//
//   PORT=3000 HOST=127.0.0.1 node examples/express/server.js
'use strict';

const http = require('node:http');
const express = require('express');
const { GracefulServer } = require('../..'); // require('handover') in your app

const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

const app = express();
app.get('/', (req, res) => {
  res.send(`hello from pid ${process.pid}\n`);
});
app.get('/sleep', (req, res) => {
  const ms = Math.min(Number(req.query.duration) || 1000, 60_000);
  log('sleep', { ms });
  setTimeout(() => res.send(`pid ${process.pid} slept ${ms} ms\n`), ms);
});

// The Express app is a request listener: wrap the http.Server it runs in.
const server = new GracefulServer(http.createServer(app), { drainTimeout: 30_000 });

for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
  server.on(event, (info) => log(event, info));
}
server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
server.upgrader.on('ready', () => log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid }));

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1').catch((err) => {
  log('error', { message: err.message });
  process.exit(1);
});
