'use strict';
// The same handler served by handover's GracefulServer.
const { listenAndServe } = require('../..');
const hello = require('./hello');

listenAndServe(`127.0.0.1:${process.env.PORT || 0}`, hello, { drainTimeout: 30_000 }).then((gs) => {
  gs.upgrader.on('ready', () => {
    process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, port: gs.server.address().port }) + '\n');
  });
});
