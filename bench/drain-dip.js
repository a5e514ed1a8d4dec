'use strict';
// `node bench/drain-dip.js`: what drain() alone costs a busy server. A
// hello-world http.Server with a ServerDrainer (bench/servers/drain-dip.js)
// runs on one CPU under wrk on the other; after DRAIN_AT it calls drain()
// with a ramp longer than the run, so the listener stays open and the load
// does not move: the requests served in the second after drain() against
// the second before it are the drain's own cost (its code paths starting
// cold, and what it does per connection and request). The same server
// without a drain() is the control: its ratio is the machine's noise.
// Variants interleaved round by round; medians and the range.
//
// Options: --rounds N (default 7), --passes keep-alive,close (default both),
// --baseline DIR (another built checkout of handover: its row joins, e.g. to
// compare a change with main). Needs wrk and taskset (bench only).
const { spawn } = require('node:child_process');
const { join, resolve } = require('node:path');
const { eachOption, intOption, passesOption, usageError } = require('./lib/args');
const { killAtExit } = require('./lib/kill-at-exit');
const { machine } = require('./lib/report');
const { runWrk } = require('./lib/wrk');
const { median } = require('./lib/median');

const ROOT = join(__dirname, '..');
const usage = usageError('node bench/drain-dip.js [--rounds N] [--passes keep-alive,close] [--baseline DIR]');
let ROUNDS = 7;
let PASSES = [true, false];
let BASELINE = null;
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--rounds') ROUNDS = intOption(usage, name, value(), 1);
  else if (name === '--passes') PASSES = passesOption(usage, value());
  else if (name === '--baseline') BASELINE = resolve(value());
  else if (name === '--help' || name === '-h') usage("What drain() alone costs a busy server's throughput, against the same server without it.");
  else return false;
});

const DRAIN_AT = 5000; // warm: the JIT has settled
const STOP_AT = 8000; // wrk stops a second before: its last requests are answered
const pids = killAtExit();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

const variants = [
  { name: 'no drain() (control)', root: ROOT, env: { NO_DRAIN: '1' } },
  { name: 'drain()', root: ROOT, env: {} },
  ...(BASELINE ? [{ name: `drain(), the baseline (${BASELINE})`, root: BASELINE, env: {} }] : []),
];

async function once(variant, keepAlive, port) {
  const env = { ...process.env, ...variant.env, HANDOVER_ROOT: variant.root, PORT: String(port), DRAIN_AT: String(DRAIN_AT), STOP_AT: String(STOP_AT) };
  const server = spawn('taskset', ['-c', '0', process.execPath, join(__dirname, 'servers', 'drain-dip.js')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  pids.add(server.pid);
  let out = '';
  const listening = new Promise((ok, fail) => {
    server.stdout.on('data', (d) => (out += d) && out.startsWith('listening\n') && ok());
    server.on('exit', (code) => fail(new Error(`server exited with ${code}`)));
  });
  const exited = new Promise((ok) => server.on('exit', () => ok()));
  await listening;
  const wrk = await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: STOP_AT / 1000 - 1, connections: 32, threads: 1, keepAlive, cpu: 1 });
  await exited;
  pids.delete(server.pid);
  const { buckets, drainAt } = JSON.parse(out.split('\n')[1]);
  const sum = (a, b) => buckets.slice(a, b).reduce((x, y) => x + y, 0);
  return { before: sum(drainAt - 10, drainAt), after: sum(drainAt, drainAt + 10), errors: Object.values(wrk.errors).reduce((x, y) => x + y, 0) };
}

async function main() {
  const m = machine();
  console.log(`${m.cores} × ${m.cpu}, Node ${m.node}; server on CPU 0, wrk -t1 -c32 on CPU 1; drain() at ${DRAIN_AT} ms (ramp past the run's end); ${ROUNDS} rounds, variants interleaved.\n`);
  console.log('| pass | server | after / before drain(), median (min–max) | requests/s before, median | client errors |');
  console.log('|---|---|---:|---:|---:|');
  let port = 19400 + (process.pid % 200);
  for (const keepAlive of PASSES) {
    const rows = variants.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? variants.map((_, i) => i) : variants.map((_, i) => variants.length - 1 - i);
      for (const i of order) rows[i].push(await once(variants[i], keepAlive, port++));
    }
    variants.forEach((variant, i) => {
      const ratios = rows[i].map((r) => r.after / r.before);
      const f = (x) => x.toFixed(2);
      console.log(`| ${keepAlive ? 'keep-alive' : 'Connection: close'} | ${variant.name} | ${f(median(ratios))} (${f(Math.min(...ratios))}–${f(Math.max(...ratios))}) | ${Math.round(median(rows[i].map((r) => r.before)))} | ${rows[i].reduce((x, r) => x + r.errors, 0)} |`);
    });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
