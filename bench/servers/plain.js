'use strict';
// Baseline: a plain http.Server, never restarted.
const http = require('node:http');
const hello = require('./hello');
const { announceReady } = require('./announce');

const server = http.createServer(hello);
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  announceReady(server.address().port);
});
process.on('SIGTERM', () => process.exit(0));
