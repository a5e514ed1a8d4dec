#!/usr/bin/env node
// The second seed's Go program with handover: /hello answers after 20 s, and
// SIGUSR2 restarts the server gracefully — a new process takes over the
// listening socket while this one finishes the /hello requests it holds.
// SIGINT and SIGTERM drain and exit, as in the Go original.
//
//   node examples/seed-hello/server.js          (listens on :9999)
//   ADDR=127.0.0.1:0 HELLO_SLEEP_MS=2000 node examples/seed-hello/server.js
'use strict';

const { listenAndServe } = require('../..'); // require('handover') in your app

const SLEEP_MS = Number(process.env.HELLO_SLEEP_MS ?? 20_000);
const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

function hello(req, res) {
  if (new URL(req.url, 'http://seed').pathname !== '/hello') {
    res.writeHead(404).end();
    return;
  }
  log('hello', { sleepMs: SLEEP_MS });
  res.setHeader('X-Pid', String(process.pid));
  setTimeout(() => res.end('hello world233333!!!!'), SLEEP_MS);
}

// The seed's reload signal is SIGUSR2. The drain timeout stays at its default,
// 30 s: a /hello that starts just before a reload still has its 20 s.
listenAndServe(process.env.ADDR || ':9999', hello, { upgradeSignals: ['SIGUSR2'] })
  .then((server) => {
    for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
      server.on(event, (info) => log(event, info));
    }
    server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
    server.upgrader.on('ready', () => {
      // Go's "Listening to existing file descriptor 3" vs "on a new file descriptor".
      log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid, inherited: server.upgrader.hasParent });
    });
  })
  .catch((err) => {
    log('error', { message: err.message });
    process.exit(1);
  });
