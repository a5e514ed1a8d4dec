'use strict';
// `npm run demo`: a server restarting under load with zero failed requests.
// Starts examples/demo/server.js, drives keep-alive load at it from a second
// process, upgrades it several times with SIGHUP, and prints what clients saw.
const { spawn, fork } = require('node:child_process');
const { createInterface } = require('node:readline');
const { join } = require('node:path');
const { errorCount } = require('../../bench/lib/load-client');

const UPGRADES = Number(process.env.DEMO_UPGRADES || 4);
const INTERVAL_MS = 700;
const SLOW_MS = 2000;
const CONNECTIONS = 16;
// Each cycle: the next generation starts and becomes ready, the previous one
// drains (its slowest request takes SLOW_MS) and exits; only then the next
// upgrade, since handover refuses to pile up generations.
const DURATION_MS = UPGRADES * (INTERVAL_MS + SLOW_MS + 600) + INTERVAL_MS;

const pids = new Set();
const events = [];
let waiters = [];
const next = (pred) =>
  new Promise((resolve, reject) => {
    const found = events.find(pred);
    if (found) return resolve(found);
    const timer = setTimeout(() => reject(new Error('the server did not answer in time')), 30_000);
    waiters.push((e) => (pred(e) ? (clearTimeout(timer), resolve(e), true) : false));
  });

const server = spawn(process.execPath, [join(__dirname, 'server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
createInterface({ input: server.stdout }).on('line', (line) => {
  let e;
  try {
    e = JSON.parse(line);
  } catch {
    return;
  }
  pids.add(e.pid);
  e.at = Date.now();
  events.push(e);
  waiters = waiters.filter((w) => !w(e));
});

function cleanup() {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}
process.on('exit', cleanup);

(async () => {
  let ready = await next((e) => e.event === 'ready');
  const port = ready.port;
  console.log(`server pid ${ready.pid} on 127.0.0.1:${port}; ${CONNECTIONS} keep-alive connections + 4 slow (2 s) lanes for ${DURATION_MS / 1000} s, ${UPGRADES} upgrades`);
  const load = fork(join(__dirname, 'load.js'));
  const result = new Promise((resolve) => load.once('message', resolve));
  load.send({ port, durationMs: DURATION_MS, connections: CONNECTIONS });

  for (let i = 0; i < UPGRADES; i++) {
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    const t0 = Date.now();
    const old = ready.pid;
    const seen = events.length;
    process.kill(old, 'SIGHUP');
    const outcome = await next((e) => events.indexOf(e) >= seen && (e.event === 'ready' || (e.event === 'upgrade-failed' && e.pid === old)));
    if (outcome.event === 'upgrade-failed') throw new Error(`upgrade ${i + 1} failed: ${outcome.message}`);
    ready = outcome;
    const drained = await next((e) => e.event === 'drained' && e.pid === old);
    console.log(`  upgrade ${i + 1}: pid ${old} -> ${ready.pid}, ready in ${ready.at - t0} ms; pid ${old} drained in ${drained.durationMs} ms`);
  }
  const { fast, slow, slowRequests } = await result;
  // A request survived an upgrade when its successor became ready while it ran.
  const readyTimes = events.filter((e) => e.event === 'ready').slice(1).map((e) => e.at);
  let longestSurvivor = { ms: 0, pid: null };
  for (const r of slowRequests) {
    if (readyTimes.some((t) => r.startedAt < t && t < r.endedAt) && r.ms > longestSurvivor.ms) longestSurvivor = r;
  }
  process.kill(ready.pid, 'SIGTERM');

  const served = new Set([...Object.keys(fast.byPid), ...Object.keys(slow.byPid)]);
  const errors = errorCount(fast) + errorCount(slow);
  const rows = [
    ['requests answered', fast.requests + slow.requests],
    ['failed requests', errors],
    ['  by kind', JSON.stringify({ connect: fast.errors.connect + slow.errors.connect, reset: fast.errors.reset + slow.errors.reset, read: fast.errors.read + slow.errors.read, timeout: fast.errors.timeout + slow.errors.timeout, non2xx: fast.errors.non2xx + slow.errors.non2xx })],
    ['generations that served', served.size],
    ['longest request across an upgrade', longestSurvivor.pid ? `${longestSurvivor.ms} ms (served by pid ${longestSurvivor.pid} while its successor took over)` : 'none'],
  ];
  console.log('');
  for (const [k, v] of rows) console.log(`${k.padEnd(36)} ${v}`);
  if (errors > 0) console.log('samples:', [...fast.samples, ...slow.samples].join('; '));
  process.exitCode = errors === 0 ? 0 : 1;
  setTimeout(() => process.exit(), 200);
})().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
  setTimeout(() => process.exit(), 200);
});
