'use strict';
// The server side of bench/memory.js: an http.Server, with a ServerDrainer
// when argv[2] is 'drainer' (what GracefulServer adds per connection). It
// holds the first EXPECT requests until all have arrived, so that exactly
// EXPECT keep-alive connections are open, then answers them; on any IPC
// message it collects garbage and replies with its heap use and its open
// connections. Run with --expose-gc.
const http = require('node:http');
const { ServerDrainer } = require('../..');

const expect = Number(process.env.EXPECT);
const held = [];
const server = http.createServer((_req, res) => {
  held.push(res);
  if (held.length === expect) for (const r of held.splice(0)) r.end('ok');
});
if (process.argv[2] === 'drainer') new ServerDrainer(server);
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', () => {
  for (let i = 0; i < 3; i++) global.gc();
  server.getConnections((err, connections) => {
    process.send({ heapUsed: process.memoryUsage().heapUsed, connections: err ? -1 : connections });
  });
});
