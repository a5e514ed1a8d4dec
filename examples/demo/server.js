'use strict';
// The demo's server: the fourth seed's handler (`/sleep?duration=`) plus a
// hello world, served with handover. Every generation prints one JSON line
// per step on stdout, which it shares with its predecessors.
const { listenAndServe } = require('../..');

const say = (event, extra) => process.stdout.write(JSON.stringify({ event, pid: process.pid, ...extra }) + '\n');

function handler(req, res) {
  res.setHeader('X-Pid', String(process.pid));
  const url = new URL(req.url, 'http://demo');
  if (url.pathname === '/sleep') {
    const ms = Math.min(Number(url.searchParams.get('duration')) || 1000, 60_000);
    setTimeout(() => res.end(`slept ${ms} ms in pid ${process.pid}\n`), ms);
    return;
  }
  res.end(`hello from pid ${process.pid}\n`);
}

listenAndServe(process.env.DEMO_ADDR || '127.0.0.1:0', handler, { drainTimeout: 30_000 })
  .then((gs) => {
    gs.upgrader.on('ready', () => say('ready', { port: gs.server.address().port }));
    gs.on('upgrading', (e) => say('upgrading', e));
    gs.on('upgrade-failed', (err) => say('upgrade-failed', { code: err.code, message: err.message }));
    gs.on('draining', (e) => say('draining', e));
    gs.on('drained', (e) => say('drained', e));
  })
  .catch((err) => {
    say('error', { message: err.message });
    process.exit(1);
  });
