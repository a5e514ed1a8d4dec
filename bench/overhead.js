'use strict';
// `npm run bench:overhead`: what GracefulServer costs when nothing restarts,
// measured so that the machine's own noise cancels out.
//
// bench:restart runs its rows one after the other, so a slow minute of a
// shared machine lands on one row and not the next: its ratios move by ±10%
// and more between rounds. Here the two servers run at the same time, on the
// same CPU (`taskset`, when there are 2 CPUs or more; the wrk clients on
// another), each under its own wrk with 32 connections. Whatever slows the
// CPU down slows both alike, and the scheduler gives each half of it, so the
// ratio of their req/s is the ratio of their cost per request. A control
// pair — plain http.Server against itself — shows how far that ratio moves
// when there is no difference at all.
//
// Each round starts the pairs fresh, warms them for 1 s, then measures
// --seconds; the side started first alternates between rounds.
// Options: --rounds N (default 8), --seconds N (default 4),
// --passes keep-alive,close (default both), --no-pin, --json.
const { spawn } = require('node:child_process');
const { availableParallelism } = require('node:os');
const { join } = require('node:path');
const { eachOption, intOption, passesOption, usageError } = require('./lib/args');
const { eachJsonLine } = require('./lib/json-lines');
const { runWrk } = require('./lib/wrk');
const { median } = require('./lib/median');

const usage = usageError('node bench/overhead.js [--rounds 8] [--seconds 4] [--passes keep-alive,close] [--no-pin] [--json]');
const options = { rounds: 8, seconds: 4, passes: [true, false], pin: true, json: false };
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--rounds') options.rounds = intOption(usage, name, value(), 1);
  else if (name === '--seconds') options.seconds = intOption(usage, name, value(), 1);
  else if (name === '--passes') options.passes = passesOption(usage, value());
  else if (name === '--no-pin') options.pin = false;
  else if (name === '--json') options.json = true;
  else if (name === '--help' || name === '-h') usage('GracefulServer against plain http.Server, both serving at once on one CPU.');
  else return false;
});

// Servers on the last CPU, wrk on the first; unpinned on one CPU or with --no-pin.
const cpus = availableParallelism();
const pinned = options.pin && cpus >= 2 && process.platform === 'linux';
const SERVER_CPU = pinned ? cpus - 1 : undefined;
const WRK_CPU = pinned ? 0 : undefined;

const PAIRS = [
  { label: 'GracefulServer / plain http.Server', a: 'plain.js', b: 'graceful.js' },
  { label: 'plain http.Server / plain http.Server (control)', a: 'plain.js', b: 'plain.js' },
];

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts a bench/servers script; resolves with the child and its port once it serves. */
function startServer(script) {
  const app = join(__dirname, 'servers', script);
  const [command, argv] = SERVER_CPU === undefined ? [process.execPath, [app]] : ['taskset', ['-c', String(SERVER_CPU), process.execPath, app]];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  exited.then(() => live.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: not serving within 30 s`)), 30_000);
    child.on('error', reject);
    exited.then((code) => reject(new Error(`${script} exited with ${code} before serving`)));
    eachJsonLine(child.stdout, (event) => {
      if (event.event !== 'ready') return;
      clearTimeout(timer);
      resolve({ port: event.port, stop: () => (child.kill('SIGTERM'), exited) });
    });
  });
}

async function measurePair(pair, keepAlive, bFirst) {
  const scripts = bFirst ? [pair.b, pair.a] : [pair.a, pair.b];
  const servers = [];
  try {
    for (const script of scripts) servers.push(await startServer(script));
    if (bFirst) servers.reverse();
    const load = (seconds) => Promise.all(servers.map((s) => runWrk({ url: `http://127.0.0.1:${s.port}/`, seconds, threads: 1, keepAlive, cpu: WRK_CPU })));
    await load(1); // warm-up, not counted
    const [a, b] = await load(options.seconds);
    const errors = (r) => Object.values(r.errors).reduce((x, y) => x + y, 0);
    // A side without a single answer has no ratio: left out of the medians, said below the table.
    const silent = [a, b].filter((r) => !(r.requests > 0 && r.rps > 0));
    for (const r of silent) process.stderr.write(`wrk reported no requests in a round of "${pair.label}":\n${r.raw}\n`);
    return { a: a.rps, b: b.rps, ratio: silent.length ? undefined : b.rps / a.rps, errors: errors(a) + errors(b) };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

function stats(values) {
  const v = [...values].sort((x, y) => x - y);
  return { median: median(v), min: v[0], max: v[v.length - 1] };
}

(async () => {
  const rows = [];
  for (const keepAlive of options.passes) {
    const runs = PAIRS.map(() => []);
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, pair] of PAIRS.entries()) runs[i].push(await measurePair(pair, keepAlive, round % 2 === 1));
    }
    for (const [i, pair] of PAIRS.entries()) {
      const valid = runs[i].filter((r) => r.ratio !== undefined);
      if (valid.length === 0) throw new Error(`no round of "${pair.label}" (${keepAlive ? 'keep-alive' : 'Connection: close'}) got answers on both sides`);
      rows.push({
        pass: keepAlive ? 'keep-alive' : 'Connection: close',
        pair: pair.label,
        ratios: runs[i].map((r) => r.ratio),
        ...stats(valid.map((r) => r.ratio)),
        rps: stats(valid.map((r) => r.a + r.b)).median,
        errors: runs[i].reduce((x, r) => x + r.errors, 0),
        silentRounds: runs[i].length - valid.length,
      });
    }
  }
  if (options.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `both servers at once ${pinned ? `on CPU ${SERVER_CPU}, wrk -t1 -c32 on CPU ${WRK_CPU}` : 'unpinned, wrk -t1 -c32'}, hello world, 127.0.0.1; ` +
      `${options.rounds} rounds of ${options.seconds} s; node ${process.version}`,
  );
  console.log('| pass | req/s of the second / req/s of the first | median | min | max | both, req/s | errors |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.pass} | ${r.pair} | ${pct(r.median)} | ${pct(r.min)} | ${pct(r.max)} | ${Math.round(r.rps)} | ${r.errors} |`);
  for (const r of rows.filter((row) => row.silentRounds > 0)) {
    console.log(`\n${r.pass} ${r.pair}: ${r.silentRounds} round(s) in which wrk got no answer from one side (its output is on stderr) are left out of the median, min and max.`);
  }
  console.log(`\nratios by round: ${rows.map((r) => `${r.pass === 'keep-alive' ? 'ka' : 'close'} ${r.pair}: ${r.ratios.map((x) => (x === undefined ? 'no answer' : pct(x))).join(', ')}`).join('; ')}`);
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
