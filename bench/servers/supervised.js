'use strict';
// The same handler as a generation of the handover supervisor
// (`handover run --listen 127.0.0.1:PORT -- node supervised.js`): listenAndServe
// adopts the socket the supervisor passes as fd 3 by its address, says READY=1
// to the supervisor and drains on SIGTERM. Reloads are the supervisor's job
// (SIGHUP to it), so the app's own upgrade signals are turned off.
// DRAIN_RAMP=ms sets drainRamp (unset: the default): on SIGTERM the
// keep-alive connections are released over that time.
const { listenAndServe } = require('../..');
const hello = require('./hello');
const { announceReady } = require('./announce');

listenAndServe(`127.0.0.1:${process.env.PORT || 0}`, hello, { drainTimeout: 30_000, upgradeSignals: false, drainRamp: process.env.DRAIN_RAMP === undefined ? undefined : Number(process.env.DRAIN_RAMP) }).then((gs) => {
  gs.upgrader.on('ready', () => {
    announceReady(gs.server.address().port);
  });
});
