#!/usr/bin/env node
// The fourth seed's Go program with handover: a server on :8888 whose handler
// echoes "URL" + the request URL, and /sleep?duration=2s (Go's duration
// syntax, or plain milliseconds) makes it wait first. SIGHUP starts the next
// generation on the same socket; this one finishes the requests it holds
// and exits. SIGINT and SIGTERM drain and exit.
//
//   node examples/seed-sleep/server.js          (listens on :8888)
//   ADDR=127.0.0.1:0 node examples/seed-sleep/server.js
'use strict';

const { listenAndServe } = require('../..'); // require('handover') in your app

const log = (event, fields) => console.log(JSON.stringify({ event, ...fields, pid: process.pid }));

const UNITS = { ms: 1, s: 1000, m: 60_000 };

/** '2s', '1.5s', '300ms', '1m' or '250' (ms) → ms, at most a minute; else null. */
function parseDuration(text) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text ?? '');
  if (!match) return null;
  return Math.min(Number(match[1]) * UNITS[match[2] ?? 'ms'], 60_000);
}

function handler(req, res) {
  const url = new URL(req.url, 'http://seed');
  res.setHeader('X-Pid', String(process.pid));
  let ms = 0;
  if (url.pathname === '/sleep') {
    ms = parseDuration(url.searchParams.get('duration'));
    if (ms === null) {
      res.writeHead(400).end('duration: a number of ms, or Go syntax such as 2s or 300ms\n');
      return;
    }
    log('sleep', { ms });
  }
  setTimeout(() => res.end('URL' + req.url), ms);
}

listenAndServe(process.env.ADDR || ':8888', handler, {
  upgradeSignals: ['SIGHUP'], // the seed forks on SIGHUP
  // Go's ReadTimeout: 6 s to read a request (headers and body).
  http: { headersTimeout: 6_000, requestTimeout: 6_000 },
})
  .then((server) => {
    for (const event of ['upgrading', 'upgraded', 'upgrade-queued', 'draining', 'drained', 'hammer']) {
      server.on(event, (info) => log(event, info));
    }
    server.on('upgrade-failed', (err) => log('upgrade-failed', { code: err.code, message: err.message }));
    server.upgrader.on('ready', () => {
      log('ready', { port: server.server.address().port, parentPid: server.upgrader.parentPid, inherited: server.upgrader.hasParent });
    });
  })
  .catch((err) => {
    log('error', { message: err.message });
    process.exit(1);
  });
