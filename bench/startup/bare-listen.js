'use strict';
// A server without handover, for `npm run bench:startup`: hello world with
// node:http, or the express app (APP=express), listening on 127.0.0.1:0; it
// says ready (bench/servers/announce.js) once it listens, and exits on SIGTERM.
const http = require('node:http');
const { announceReady } = require('../servers/announce');

const handler = process.env.APP === 'express' ? require('./express-app').app() : require('../servers/hello');
const server = http.createServer(handler);
server.listen(0, '127.0.0.1', () => announceReady(server.address().port));
process.on('SIGTERM', () => process.exit(0));
