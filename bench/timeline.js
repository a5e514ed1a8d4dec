'use strict';
// `npm run bench:timeline`: what an upgrade does to throughput, 100 ms at a
// time. Serves hello world with GracefulServer under wrk (2 threads, 32
// connections, 8 s), upgrades at 2, 4 and 6 s, and prints the requests each
// generation served in every 100 ms interval, one column per pid.
// Options: --ramp MS (drainRamp, default 0), --close (`Connection: close`).
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { eachOption, intOption, usageError } = require('./lib/args');
const { eachJsonLine } = require('./lib/json-lines');
const { killAtExit } = require('./lib/kill-at-exit');

const usage = usageError('node bench/timeline.js [--ramp MS] [--close]');
let RAMP = 0;
let CLOSE = false;
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--ramp') RAMP = intOption(usage, name, value(), 0);
  else if (name === '--close') CLOSE = true;
  else if (name === '--help' || name === '-h') usage('Requests per 100 ms around three upgrades, per generation.');
  else return false;
});
const SECONDS = 8;
const UPGRADE_AT_MS = [2000, 4000, 6000];

const pids = killAtExit();

const server = spawn(process.execPath, [join(__dirname, 'servers', 'graceful-counting.js')], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, DRAIN_RAMP: String(RAMP) },
});
pids.add(server.pid);
const readies = [];
const samples = [];
let onReady = () => {};
eachJsonLine(server.stdout, (e) => {
  pids.add(e.pid);
  if (e.event !== 'ready') return;
  readies.push(e);
  onReady();
});
eachJsonLine(
  server.stderr,
  (sample) => samples.push(sample),
  (line) => process.stderr.write(`${line}\n`),
);
const ready = (n) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`generation ${n + 1} was not ready within 30 s`)), 30_000);
    const check = () => {
      if (readies.length <= n) return;
      clearTimeout(timer);
      onReady = () => {};
      resolve(readies[n]);
    };
    onReady = check;
    check();
  });

(async () => {
  const first = await ready(0);
  const t0 = Date.now();
  const args = ['-t2', '-c32', `-d${SECONDS}s`];
  if (CLOSE) args.push('-H', 'Connection: close');
  const wrk = spawn('wrk', [...args, `http://127.0.0.1:${first.port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
  wrk.on('error', (err) => {
    console.error(`cannot run wrk (apt-get install wrk): ${err.message}`);
    process.exit(1);
  });
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  const marks = [];
  for (const [i, at] of UPGRADE_AT_MS.entries()) {
    await new Promise((r) => setTimeout(r, at - (Date.now() - t0)));
    const signalAt = Date.now() - t0;
    process.kill(readies[i].pid, 'SIGHUP');
    const next = await ready(i + 1);
    marks.push({ signalAt, readyAt: Date.now() - t0, pid: next.pid });
  }
  await new Promise((r) => wrk.on('exit', r));
  const byBucket = new Map();
  for (const s of samples) {
    const k = Math.floor((s.t - t0) / 100);
    if (k < 0 || k >= SECONDS * 10) continue;
    if (!byBucket.has(k)) byBucket.set(k, new Map());
    byBucket.get(k).set(s.pid, (byBucket.get(k).get(s.pid) ?? 0) + s.n);
  }
  const order = readies.map((e) => e.pid);
  console.log(`drainRamp ${RAMP} ms, ${CLOSE ? 'Connection: close' : 'keep-alive'}; wrk -t2 -c32 -d${SECONDS}s; node ${process.version}`);
  console.log(out.split('\n').filter((l) => /Requests\/sec|Socket errors|Non-2xx/.test(l)).join('\n'));
  for (const m of marks) console.log(`SIGHUP at ${m.signalAt} ms, pid ${m.pid} ready at ${m.readyAt} ms`);
  console.log(`\n   ms ${order.map((p) => String(p).padStart(8)).join('')}    total`);
  for (let k = 0; k < SECONDS * 10; k++) {
    const row = byBucket.get(k) ?? new Map();
    const total = [...row.values()].reduce((a, b) => a + b, 0);
    const mark = marks.some((m) => Math.floor(m.readyAt / 100) === k) ? '  <- ready' : '';
    console.log(`${String(k * 100).padStart(5)} ${order.map((p) => String(row.get(p) ?? '').padStart(8)).join('')} ${String(total).padStart(8)}${mark}`);
  }
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
