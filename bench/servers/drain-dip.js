'use strict';
// Server of bench/drain-dip.js: a hello-world http.Server with a
// ServerDrainer from the handover checkout HANDOVER_ROOT, on PORT. DRAIN_AT
// ms after the first request it calls drain() with a ramp longer than the
// run (the listener stays open: nothing but the drain's own cost changes),
// or nothing when NO_DRAIN is set. Prints the requests of each 100 ms, as a
// JSON array with the index of the drain's first interval, when STOP_AT ms
// after the first request have passed.
const http = require('node:http');
const { ServerDrainer } = require(process.env.HANDOVER_ROOT);

const DRAIN_AT = Number(process.env.DRAIN_AT);
const STOP_AT = Number(process.env.STOP_AT);
let requests = 0;
const server = http.createServer((_req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('hello world\n');
});
const drainer = new ServerDrainer(server);
server.on('request', () => requests++ === 0 && start());
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));

function start() {
  const buckets = [];
  let last = 0;
  setInterval(() => {
    buckets.push(requests - last);
    last = requests;
  }, 100);
  if (!process.env.NO_DRAIN) setTimeout(() => drainer.drain({ ramp: STOP_AT * 2, timeout: STOP_AT * 4 }), DRAIN_AT);
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ buckets, drainAt: Math.round(DRAIN_AT / 100) })}\n`);
    process.exit(0);
  }, STOP_AT);
}
