'use strict';
// Baseline: a plain http.Server, never restarted.
const http = require('node:http');
const hello = require('./hello');

const server = http.createServer(hello);
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
