'use strict';
// The demo's client, a separate process: keep-alive load plus a stream of
// slow requests, reported to the parent over IPC when done.
const { runLoad } = require('../../bench/lib/load-client');

process.once('message', async ({ port, durationMs, connections }) => {
  const host = '127.0.0.1';
  const slowRequests = [];
  const slow = runLoad({
    host, port, connections: 4, durationMs, path: '/sleep?duration=2000', timeoutMs: 30_000,
    onResponse: (r) => slowRequests.push({ startedAt: r.startedAt, endedAt: r.startedAt + r.ms, ms: r.ms, pid: r.pid }),
  });
  const fast = runLoad({ host, port, connections, durationMs });
  const [s, f] = await Promise.all([slow, fast]);
  process.send({ fast: f, slow: s, slowRequests }, () => process.exit(0));
});
