'use strict';
// A closed-loop HTTP load generator, used by the demo and the benchmarks:
// `connections` lanes, each sending its next request as soon as the previous
// one is answered, over keep-alive connections (or not), counting every error
// a client could see, by kind. Bounded by `durationMs`.
const http = require('node:http');

/**
 * @param {object} o
 * @param {string} o.host
 * @param {number} o.port
 * @param {number} o.connections concurrent lanes
 * @param {number} o.durationMs how long to run
 * @param {boolean} [o.keepAlive=true]
 * @param {string} [o.path='/']
 * @param {number} [o.timeoutMs=10000] per request
 * @param {(r: {pid: number|null, ms: number, startedAt: number}) => void} [o.onResponse]
 */
async function runLoad(o) {
  const keepAlive = o.keepAlive ?? true;
  const agent = new http.Agent({ keepAlive, maxSockets: o.connections, scheduling: 'fifo' });
  const stats = { requests: 0, errors: { connect: 0, reset: 0, read: 0, timeout: 0, non2xx: 0 }, byPid: {}, latencies: [], samples: [] };
  const deadline = Date.now() + o.durationMs;

  const once = () =>
    new Promise((resolve) => {
      const startedAt = Date.now();
      const req = http.request(
        { host: o.host, port: o.port, path: o.path || '/', agent, headers: keepAlive ? {} : { Connection: 'close' }, timeout: o.timeoutMs ?? 10000 },
        (res) => {
          res.resume();
          res.on('error', () => {
            stats.errors.read++;
            resolve();
          });
          res.on('end', () => {
            const ms = Date.now() - startedAt;
            const pid = Number(res.headers['x-pid']) || null;
            if (res.statusCode < 200 || res.statusCode > 299) stats.errors.non2xx++;
            else stats.requests++;
            if (pid) stats.byPid[pid] = (stats.byPid[pid] || 0) + 1;
            stats.latencies.push(ms);
            o.onResponse?.({ pid, ms, startedAt });
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => {
        if (err.code === 'ETIMEDOUT') stats.errors.timeout++;
        else if (err.code === 'ECONNREFUSED') stats.errors.connect++;
        else if (err.code === 'ECONNRESET' && err.message !== 'socket hang up') stats.errors.reset++;
        else stats.errors.read++; // 'socket hang up': closed before a response
        stats.samples.push(`${err.code || ''} ${err.message}`);
        resolve();
      });
      req.end();
    });

  const lane = async () => {
    while (Date.now() < deadline) await once();
  };
  await Promise.all(Array.from({ length: o.connections }, lane));
  agent.destroy();
  stats.samples = stats.samples.slice(0, 5);
  return stats;
}

/** Total of all error kinds. */
function errorCount(stats) {
  return Object.values(stats.errors).reduce((a, b) => a + b, 0);
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

module.exports = { runLoad, errorCount, percentile };
