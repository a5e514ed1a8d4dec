'use strict';
// The same handler as a generation of the handover supervisor
// (`handover run --listen 127.0.0.1:PORT -- node supervised.js`): listenAndServe
// adopts the socket the supervisor passes as fd 3 by its address, says READY=1
// to the supervisor and drains on SIGTERM. Reloads are the supervisor's job
// (SIGHUP to it), so the app's own upgrade signals are turned off.
// DRAIN_RAMP=ms sets drainRamp (unset: the default): on SIGTERM the
// keep-alive connections are released over that time.
// Under --workers it says what it served at exit (bench:compare's balance).
const http = require('node:http');
const { GracefulServer } = require('../..');
const hello = require('./hello');
const { announceReady, counted } = require('./announce');

const server = http.createServer();
server.on('request', process.env.HANDOVER_WORKERS > 1 ? counted(hello, server) : hello);
const gs = new GracefulServer(server, { drainTimeout: 30_000, upgradeSignals: false, drainRamp: process.env.DRAIN_RAMP === undefined ? undefined : Number(process.env.DRAIN_RAMP) });
gs.upgrader.on('ready', () => announceReady(server.address().port));
gs.listen(Number(process.env.PORT || 0), '127.0.0.1');
