'use strict';
// bench/servers/graceful.js with a counter: every 100 ms each generation
// writes `{"pid":…,"t":epoch ms,"n":requests since the last line}` to stderr,
// for `npm run bench:timeline`. DRAIN_RAMP=ms sets drainRamp.
const { writeSync } = require('node:fs');
const { listenAndServe } = require('../..');
const hello = require('./hello');
const { announceReady } = require('./announce');

let served = 0;
setInterval(() => {
  writeSync(2, `${JSON.stringify({ pid: process.pid, t: Date.now(), n: served })}\n`);
  served = 0;
}, 100).unref();

const counting = (req, res) => {
  served++;
  hello(req, res);
};

listenAndServe(`127.0.0.1:${process.env.PORT || 0}`, counting, { drainTimeout: 30_000, drainRamp: Number(process.env.DRAIN_RAMP || 0) }).then((gs) => {
  gs.upgrader.on('ready', () => {
    announceReady(gs.server.address().port);
  });
});
