'use strict';
// The same handler served by handover's GracefulServer (DRAIN_RAMP=ms sets
// its drainRamp; unset: the default, DEFAULT_DRAIN_RAMP).
const { listenAndServe } = require('../..');
const hello = require('./hello');
const { announceReady } = require('./announce');

listenAndServe(`127.0.0.1:${process.env.PORT || 0}`, hello, { drainTimeout: 30_000, drainRamp: process.env.DRAIN_RAMP === undefined ? undefined : Number(process.env.DRAIN_RAMP) }).then((gs) => {
  gs.upgrader.on('ready', () => {
    announceReady(gs.server.address().port);
  });
});
