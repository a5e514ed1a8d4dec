'use strict';
// `npm run bench:restart`: the same hello-world handler, side by side in one
// run, under wrk (32 connections) with keep-alive and without:
//   plain http.Server, no restarts (the baseline)
//   GracefulServer, no restarts
//   GracefulServer as configured by default (DEFAULT_DRAIN_RAMP), 8 upgrades in 15 s
//   GracefulServer with drainRamp --ramp (0: stop accepting at once), 8 upgrades
//   supervisor as by default, 8 reloads in 15 s (`handover run` with SIGHUP to
//   the supervisor; its probation is DEFAULT_PROBATION, the app's drainRamp
//   the default)
//   supervisor with --probation --ramp and an app with drainRamp --ramp, 8 reloads
// Prints errors by kind, requests/s and p99 latency per row, and requests per
// CPU-second of the server: the CPU time (user + system) of every process
// that served in the row — each generation says its own as it exits
// (bench/servers/announce.js), the supervisor's is read from /proc — less
// what the first one used before the load began. Unlike req/s, that figure
// does not move with how much of the shared machine the row got, nor with
// how many processes served at once.
// The rows of a pass run one after the other, and the pass is repeated
// --rounds times, interleaved, so that a slow minute of a shared machine hits
// every row alike: a row's req/s and p99 are its medians over the rounds, its
// errors the sum, and "vs baseline" the median of its per-round ratios to the
// baseline run in the same round.
// Options: --seconds N (default 15), --upgrades N (default 8), --rounds N
// (default 3), --ramp MS (default 1500; 0 allowed), --rows 1,3 (only these rows, by
// number, besides the baseline), --passes keep-alive,close (default both),
// --json, --verbose (the supervisor's log on stderr)
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { eachOption, intOption, passesOption, usageError } = require('./lib/args');
const { runWrk } = require('./lib/wrk');
const { eachJsonLine } = require('./lib/json-lines');
const { killAtExit } = require('./lib/kill-at-exit');
const { median } = require('./lib/median');
const { DEFAULT_DRAIN_RAMP, DEFAULT_PROBATION } = require('..');

const usage = usageError(
  'node bench/restart.js [--seconds 15] [--upgrades 8] [--rounds 3] [--ramp 1500] [--rows 1,3] [--passes keep-alive,close] [--json] [--verbose]',
);

function parseArgs(argv) {
  const o = { seconds: 15, upgrades: 8, rounds: 3, ramp: 1500, rows: null, passes: [true, false], json: false, verbose: false };
  const int = (name, raw, min) => intOption(usage, name, raw, min);
  eachOption(argv, usage, (name, value) => {
    if (name === '--seconds') o.seconds = int(name, value(), 2);
    else if (name === '--upgrades') o.upgrades = int(name, value(), 1);
    else if (name === '--rounds') o.rounds = int(name, value(), 1);
    else if (name === '--ramp') o.ramp = int(name, value(), 0);
    else if (name === '--rows') o.rows = value().split(',').map((r) => int('--rows', r, 1));
    else if (name === '--passes') o.passes = passesOption(usage, value());
    else if (name === '--json') o.json = true;
    else if (name === '--verbose') o.verbose = true;
    else if (name === '--help' || name === '-h') usage('GracefulServer and the supervisor against a plain http.Server, under wrk, with upgrades.');
    else return false;
  });
  return o;
}

const options = parseArgs(process.argv.slice(2));
const SECONDS = options.seconds;
const UPGRADES = options.upgrades;
const ROUNDS = options.rounds;
const RAMP = options.ramp;
const JSON_OUT = options.json;

const started = killAtExit();

/**
 * Starts a server script (under `handover run` when `supervised`); `ready()`
 * resolves with each generation's ready event in turn.
 */
function startServer(script, supervised = false, env = {}, supervisorArgs = []) {
  const app = join(__dirname, 'servers', script);
  const args = supervised ? [join(__dirname, '..', 'bin', 'handover.js'), 'run', '--listen', '127.0.0.1:0', ...supervisorArgs, '--', process.execPath, app] : [app];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', supervised && !options.verbose ? 'ignore' : 'inherit'],
    env: { ...process.env, ...env },
  });
  if (supervised) started.add(child.pid);
  const events = [];
  const cpu = new Map(); // pid -> CPU ms at exit
  let waiters = [];
  eachJsonLine(child.stdout, (e) => {
    if (e.event === 'cpu') cpu.set(e.pid, e.cpuMs);
    else {
      started.add(e.pid);
      events.push(e);
    }
    waiters = waiters.filter((w) => !w(e));
  });
  const readyAfter = (count) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script}: no ready event`)), 30_000);
      const check = () => {
        const readies = events.filter((e) => e.event === 'ready');
        if (readies.length > count) {
          clearTimeout(timer);
          resolve(readies[count]);
          return true;
        }
        return false;
      };
      if (!check()) waiters.push(() => check());
    });
  /**
   * CPU ms of every generation that said it was ready, once each has said
   * its own at exit (null if one has not within 5 s, e.g. killed).
   */
  const generationsCpu = () =>
    new Promise((resolve) => {
      const pids = events.filter((e) => e.event === 'ready').map((e) => e.pid);
      const timer = setTimeout(() => resolve(null), 5000);
      const check = () => {
        if (!pids.every((pid) => cpu.has(pid))) return false;
        clearTimeout(timer);
        resolve(pids.reduce((sum, pid) => sum + cpu.get(pid), 0));
        return true;
      };
      if (!check()) waiters.push(() => check());
    });
  // The supervisor reloads and stops on behalf of its generations.
  return { child, readyAfter, generationsCpu, signalTarget: supervised ? () => child.pid : null };
}

const CLOCK_TICKS = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux

/** CPU ms (user + system) a live process has used, from /proc; null where there is none. */
function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

async function stop(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function row({ label, script, upgrades, supervised = false, env, supervisorArgs }, keepAlive) {
  const server = startServer(script, supervised, env, supervisorArgs);
  const first = await server.readyAfter(0);
  const supervisorCpuAtStart = supervised ? procCpuMs(server.child.pid) : 0;
  const url = `http://127.0.0.1:${first.port}/`;
  const load = runWrk({ url, seconds: SECONDS, keepAlive });
  let current = first;
  const times = [];
  if (upgrades > 0) {
    const every = (SECONDS * 1000) / (upgrades + 1);
    for (let i = 1; i <= upgrades; i++) {
      await new Promise((r) => setTimeout(r, every * i - (Date.now() - t0)));
      const t = Date.now();
      process.kill(server.signalTarget ? server.signalTarget() : current.pid, 'SIGHUP');
      current = await server.readyAfter(i);
      times.push(Date.now() - t);
    }
  }
  const result = await load;
  const supervisorCpu = supervised ? procCpuMs(server.child.pid) : 0;
  await stop(server.signalTarget ? server.signalTarget() : current.pid);
  const generationsCpu = await server.generationsCpu();
  const cpuMs = generationsCpu === null || supervisorCpu === null || supervisorCpuAtStart === null ? null : generationsCpu - first.cpuMs + supervisorCpu - supervisorCpuAtStart;
  return {
    label,
    keepAlive,
    upgrades,
    ...result,
    cpuMs,
    perCpuS: cpuMs ? result.requests / (cpuMs / 1000) : null,
    readyMs: times.length ? Math.round(times.reduce((a, b) => a + b) / times.length) : null,
  };
}

const ALL_ROWS = [
  { label: 'plain http.Server, no restarts', script: 'plain.js', upgrades: 0 },
  { label: 'GracefulServer, no restarts', script: 'graceful.js', upgrades: 0 },
  { label: `GracefulServer (default: drainRamp ${DEFAULT_DRAIN_RAMP}), ${UPGRADES} upgrades`, script: 'graceful.js', upgrades: UPGRADES },
  { label: `GracefulServer drainRamp ${RAMP}, ${UPGRADES} upgrades`, script: 'graceful.js', upgrades: UPGRADES, env: { DRAIN_RAMP: String(RAMP) } },
  { label: `supervisor (default: probation ${DEFAULT_PROBATION}, drainRamp ${DEFAULT_DRAIN_RAMP}), ${UPGRADES} reloads`, script: 'supervised.js', upgrades: UPGRADES, supervised: true },
  {
    label: `supervisor --probation ${RAMP} + drainRamp ${RAMP}, ${UPGRADES} reloads`,
    script: 'supervised.js',
    upgrades: UPGRADES,
    supervised: true,
    supervisorArgs: ['--probation', `${RAMP}ms`],
    env: { DRAIN_RAMP: String(RAMP) },
  },
];
const noSuchRow = (options.rows ?? []).find((r) => r >= ALL_ROWS.length);
if (noSuchRow !== undefined) usage(`--rows: no row ${noSuchRow} (1 to ${ALL_ROWS.length - 1})`);
const ROWS = ALL_ROWS.filter((_, i) => i === 0 || options.rows === null || options.rows.includes(i));
const PASSES = options.passes;

/** One row of the table from its runs (one per round) and the baseline's runs of the same rounds. */
function summarize(spec, keepAlive, runs, baseRuns) {
  const errors = { connect: 0, read: 0, write: 0, timeout: 0, non2xx: 0 };
  for (const r of runs) for (const k of Object.keys(errors)) errors[k] += r.errors[k];
  return {
    label: spec.label,
    keepAlive,
    upgrades: spec.upgrades,
    rounds: runs.length,
    requests: runs.reduce((a, r) => a + r.requests, 0),
    errors,
    rps: median(runs.map((r) => r.rps)),
    rpsByRound: runs.map((r) => Math.round(r.rps)),
    vsBaseline: median(runs.map((r, i) => r.rps / baseRuns[i].rps)),
    perCpuS: median(runs.map((r) => r.perCpuS)),
    perCpuSByRound: runs.map((r) => (r.perCpuS === null ? null : Math.round(r.perCpuS))),
    perCpuVsBaseline: median(runs.map((r, i) => (r.perCpuS && baseRuns[i].perCpuS ? r.perCpuS / baseRuns[i].perCpuS : null))),
    p99: median(runs.map((r) => r.p99)),
    readyMs: median(runs.map((r) => r.readyMs)),
  };
}

let t0 = Date.now();
(async () => {
  const rows = [];
  for (const keepAlive of PASSES) {
    const runs = ROWS.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, spec] of ROWS.entries()) {
        t0 = Date.now();
        runs[i].push(await row(spec, keepAlive));
      }
    }
    for (const [i, spec] of ROWS.entries()) rows.push(summarize(spec, keepAlive, runs[i], runs[0]));
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(`wrk -t2 -c32 -d${SECONDS}s, hello world, 127.0.0.1; ${ROUNDS} interleaved rounds (medians); node ${process.version}`);
  console.log('| pass | server | requests (all rounds) | errors (connect/read/write/timeout/non-2xx) | req/s | vs baseline | req per CPU-s | vs baseline | p99 ms | upgrade→ready ms |');
  console.log('|---|---|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const e = r.errors;
    console.log(
      `| ${r.keepAlive ? 'keep-alive' : 'Connection: close'} | ${r.label} | ${r.requests} | ${e.connect + e.read + e.write + e.timeout + e.non2xx} (${e.connect}/${e.read}/${e.write}/${e.timeout}/${e.non2xx}) | ${Math.round(r.rps)} | ${(100 * r.vsBaseline).toFixed(1)}% | ${r.perCpuS === null ? '-' : Math.round(r.perCpuS)} | ${r.perCpuVsBaseline === null ? '-' : `${(100 * r.perCpuVsBaseline).toFixed(1)}%`} | ${r.p99?.toFixed(2)} | ${r.readyMs === null ? '-' : Math.round(r.readyMs)} |`,
    );
  }
  console.log(`\nreq/s by round: ${rows.map((r) => `${r.keepAlive ? 'ka' : 'close'} ${r.label}: ${r.rpsByRound.join(', ')}`).join('; ')}`);
  console.log(`\nreq per CPU-s by round: ${rows.map((r) => `${r.keepAlive ? 'ka' : 'close'} ${r.label}: ${r.perCpuSByRound.join(', ')}`).join('; ')}`);
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
