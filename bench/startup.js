'use strict';
// `npm run bench:startup`: what handover adds to a start, side by side with
// a bare node:http server, in one run with the variants interleaved (the
// order alternates from round to round), medians with the 25th-75th
// percentiles. Three tables:
//
// 1. require + construct: a fresh process per sample (bench/startup/probe.js)
//    times, from the inside, `require('node:http')` to a constructed server:
//    http.createServer() alone, and in a GracefulServer after require('handover')
//    (and the same with import(), against a bare import()); wall and CPU.
// 2. restart -> ready: a bare node:http server restarted by the same means as
//    an upgrade (forkExecWithFds on SIGHUP, bench/startup/launcher.js), a
//    GracefulServer upgrading itself (bench/servers/graceful.js), and
//    `handover run` reloading (bench/servers/supervised.js): from the SIGHUP
//    to the new process's ready line.
// 3. compile cache (Node >= 22.1): the same for an express app
//    (bench/startup/express-app.js, ~130 modules of node_modules), each of
//    upgrade and supervisor with the generations' compile cache (a fresh
//    directory) and without; the bare express app as the reference. The
//    first restarts of each row (--warm, default 2) fill the cache and are
//    not counted.
//
// Options: --runs N (table 1, default 30), --restarts N (tables 2 and 3,
// default 20), --only require,restart,cache, --baseline DIR (another built
// checkout of handover, e.g. an older commit: its rows join tables 1 and 2,
// interleaved with the others), --json (raw figures to
// bench/results/startup-<stamp>.json). Run it under another Node by putting
// that node first on PATH (BENCHMARKS.md, "Start-up").
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir, loadavg } = require('node:os');
const { join } = require('node:path');
const { eachOption, intOption, usageError } = require('./lib/args');
const { eachJsonLine } = require('./lib/json-lines');
const { machine, resultPath, timestamp } = require('./lib/report');
const { killAtExit } = require('./lib/kill-at-exit');

const ROOT = join(__dirname, '..');
const usage = usageError('node bench/startup.js [--runs N] [--restarts N] [--warm N] [--only require,restart,cache] [--baseline DIR] [--json]');
let RUNS = 30;
let RESTARTS = 20;
let WARM = 2;
let ONLY = ['require', 'restart', 'cache'];
let JSON_OUT = false;
let BASELINE = null;
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--runs') RUNS = intOption(usage, name, value(), 2);
  else if (name === '--restarts') RESTARTS = intOption(usage, name, value(), 2);
  else if (name === '--warm') WARM = intOption(usage, name, value(), 0);
  else if (name === '--only') ONLY = value().split(',');
  else if (name === '--json') JSON_OUT = true;
  else if (name === '--baseline') BASELINE = require('node:path').resolve(value());
  else if (name === '--help' || name === '-h') usage("What handover adds to a start and a restart, against a bare node:http server.");
  else return false;
});
for (const part of ONLY) if (!['require', 'restart', 'cache'].includes(part)) usage(`--only: unknown part ${part}`);

const [major, minor] = process.versions.node.split('.').map(Number);
const HAS_COMPILE_CACHE = major > 22 || (major === 22 && minor >= 1);

// Every process started here, killed at the end whatever happens.
const pids = killAtExit();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}
const median = (v) => quantile(v, 0.5);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const spread = (v) => `${f1(median(v))} (${f1(quantile(v, 0.25))}–${f1(quantile(v, 0.75))})`;
const order = (names, round) => (round % 2 === 0 ? names : [...names].reverse());

// ---- 1. require + construct ------------------------------------------------

function probe(mode, env = {}) {
  const r = spawnSync(process.execPath, [join(__dirname, 'startup', 'probe.js')], { env: { ...process.env, ...env, PROBE: mode.replace(/\+.*/, '') }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`probe ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function requireTable() {
  const variants = { bare: {}, handover: {}, 'handover-esm': {} };
  if (BASELINE) variants['handover+baseline'] = { HANDOVER_ROOT: BASELINE };
  let cacheDir;
  if (HAS_COMPILE_CACHE) {
    cacheDir = mkdtempSync(join(tmpdir(), 'handover-bench-cache-'));
    variants['handover+cache'] = { NODE_COMPILE_CACHE: cacheDir };
    probe('handover', variants['handover+cache']); // fills it
  }
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const name of order(Object.keys(variants), round)) samples[name].push(probe(name, variants[name]));
  }
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  const rows = [
    ['bare node:http', 'bare', null],
    ...(BASELINE ? [[`the baseline (${BASELINE}): require + new GracefulServer`, 'handover+baseline', 'bare']] : []),
    ['handover: require + new GracefulServer', 'handover', 'bare'],
    ...(HAS_COMPILE_CACHE ? [['the same, NODE_COMPILE_CACHE warm', 'handover+cache', 'bare']] : []),
    ['handover: import() + new GracefulServer (with the ES module loader\'s own start)', 'handover-esm', 'bare'],
  ];
  const lines = [
    '| start | wall ms | CPU ms | over bare, wall ms | over bare, CPU ms | ratio (wall) | handover files loaded |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const [label, name, against] of rows) {
    const wall = samples[name].map((s) => s.wallMs);
    const cpu = samples[name].map((s) => s.cpuMs);
    const base = against && samples[against];
    const over = (key) => (base ? f1(median(samples[name].map((s) => s[key])) - median(base.map((s) => s[key]))) : '-');
    const ratio = base ? `${(median(wall) / median(base.map((s) => s.wallMs))).toFixed(2)}×` : '-';
    const all = samples[name][0].files;
    const files = all.length > 12 ? [`${all.length} files${all.some((f) => f.startsWith('dist/supervisor')) ? ', the supervisor\'s among them' : ''}`] : all;
    lines.push(`| ${label} | ${spread(wall)} | ${spread(cpu)} | ${over('wallMs')} | ${over('cpuMs')} | ${ratio} | ${files.length ? files.join(', ') : '-'} |`);
  }
  const boot = Object.values(samples).flat().map((s) => s.bootMs);
  lines.push('', `Node's own boot before the probe's first line: ${spread(boot)} ms. ${RUNS} processes per row.`);
  return { lines, samples };
}

// ---- 2. and 3. restart -> ready ----------------------------------------------

/** A long-running process that restarts on SIGHUP and whose processes say ready on its stdout. */
function restartable(label, command, args, env, signalTarget) {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  pids.add(child.pid);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const readies = [];
  let waiter = null;
  let launcher = null;
  eachJsonLine(child.stdout, (e) => {
    if (e.pid) pids.add(e.pid);
    if (e.event === 'launcher') launcher = e.pid;
    if (e.event !== 'ready') return;
    readies.push({ ...e, at: process.hrtime.bigint() });
    if (waiter) waiter();
  });
  const nextReady = (n, ms) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: no ready line within ${ms} ms\n${stderr}`)), ms);
      waiter = () => {
        if (readies.length < n) return;
        clearTimeout(timer);
        waiter = null;
        resolve(readies[n - 1]);
      };
      waiter();
    });
  return {
    label,
    samples: [],
    async start() {
      if (signalTarget === 'launcher') {
        await new Promise((resolve) => {
          const check = setInterval(() => launcher && (clearInterval(check), resolve()), 5);
        });
        process.kill(launcher, 'SIGHUP');
      }
      await nextReady(1, 30_000);
    },
    /** One restart: SIGHUP, then ms to the new process's ready line. */
    async restart(counted) {
      const previous = readies[readies.length - 1];
      const target = signalTarget === 'self' ? previous.pid : signalTarget === 'launcher' ? launcher : child.pid;
      const at = process.hrtime.bigint();
      process.kill(target, 'SIGHUP');
      const ready = await nextReady(readies.length + 1, 30_000);
      if (signalTarget === 'launcher') process.kill(previous.pid, 'SIGTERM');
      if (counted) this.samples.push(Number(ready.at - at) / 1e6);
      // Let the old one drain and exit before the next restart (one at a time).
      await waitGone(previous.pid);
    },
    stop() {
      for (const r of readies) {
        try {
          process.kill(r.pid, 'SIGTERM');
        } catch {}
      }
      try {
        child.kill('SIGTERM');
      } catch {}
    },
  };
}

/** Until `pid` has exited (a zombie counts as gone: its parent reaps it), at most 10 s. */
async function waitGone(pid) {
  for (let i = 0; i < 2000; i++) {
    let state;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      return;
    }
    if (state === 'Z') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const node = process.execPath;
const cli = join(ROOT, 'bin', 'handover.js');

async function restartTable(rows, warm) {
  for (const row of rows) await row.start();
  for (let round = 0; round < warm + RESTARTS; round++) {
    for (const row of order(rows, round)) await row.restart(round >= warm);
  }
  for (const row of rows) row.stop();
  const base = rows[0].samples;
  const lines = ['| restart → ready | ms | over the bare server, ms | ratio |', '|---|---:|---:|---:|'];
  for (const row of rows) {
    const over = row === rows[0] ? '-' : f1(median(row.samples) - median(base));
    const ratio = row === rows[0] ? '-' : `${(median(row.samples) / median(base)).toFixed(2)}×`;
    lines.push(`| ${row.label} | ${spread(row.samples)} | ${over} | ${ratio} |`);
  }
  lines.push('', `${RESTARTS} restarts per row, interleaved${warm ? ` after ${warm} not counted` : ''}.`);
  return { lines, samples: Object.fromEntries(rows.map((r) => [r.label, r.samples])) };
}

function helloRows() {
  const baseline = BASELINE
    ? [
        restartable('the baseline: GracefulServer, upgrade (SIGHUP)', node, [join(BASELINE, 'bench', 'servers', 'graceful.js')], {}, 'self'),
        restartable('the baseline: handover run, reload (SIGHUP)', node, [join(BASELINE, 'bin', 'handover.js'), 'run', '--listen', '127.0.0.1:0', '--', node, join(BASELINE, 'bench', 'servers', 'supervised.js')], {}, 'supervisor'),
      ]
    : [];
  return [
    restartable('bare node:http server, forkExecWithFds on SIGHUP', node, [join(__dirname, 'startup', 'launcher.js')], {}, 'launcher'),
    restartable('GracefulServer, upgrade (SIGHUP)', node, [join(__dirname, 'servers', 'graceful.js')], {}, 'self'),
    restartable('handover run, reload (SIGHUP)', node, [cli, 'run', '--listen', '127.0.0.1:0', '--', node, join(__dirname, 'servers', 'supervised.js')], {}, 'supervisor'),
    ...baseline,
  ];
}

function cacheRows(dirs) {
  const app = join(__dirname, 'startup', 'express-app.js');
  return [
    restartable('bare express app, forkExecWithFds on SIGHUP', node, [join(__dirname, 'startup', 'launcher.js')], { APP: 'express' }, 'launcher'),
    restartable('express, GracefulServer upgrade, no compile cache', node, [app], { COMPILE_CACHE: 'off' }, 'self'),
    restartable('express, GracefulServer upgrade, compile cache', node, [app], { COMPILE_CACHE: dirs.upgrade }, 'self'),
    restartable('express, handover run reload, no compile cache', node, [cli, 'run', '--compile-cache', 'off', '--listen', '127.0.0.1:0', '--', node, app], {}, 'supervisor'),
    restartable('express, handover run reload, compile cache', node, [cli, 'run', '--compile-cache', dirs.supervisor, '--listen', '127.0.0.1:0', '--', node, app], {}, 'supervisor'),
  ];
}

async function main() {
  const env = machine();
  const stamp = timestamp();
  const header = `Run ${stamp}: \`npm run bench:startup\`; ${env.cores} × ${env.cpu} (\`nproc\` ${env.cores}), Linux ${env.kernel}, Node ${process.version}. Load average at the start ${loadavg().map((l) => l.toFixed(2)).join(', ')}.`;
  const out = { machine: env, node: process.version };
  const print = [header, ''];
  if (ONLY.includes('require')) {
    const t = requireTable();
    out.require = t.samples;
    print.push('**1. require + construct**', '', ...t.lines, '');
  }
  if (ONLY.includes('restart')) {
    const t = await restartTable(helloRows(), 1);
    out.restart = t.samples;
    print.push('**2. restart → ready, hello world**', '', ...t.lines, '');
  }
  if (ONLY.includes('cache')) {
    if (!HAS_COMPILE_CACHE) {
      print.push(`**3. compile cache**: not on Node ${process.version} (NODE_COMPILE_CACHE is Node >= 22.1).`, '');
    } else {
      const dirs = { upgrade: mkdtempSync(join(tmpdir(), 'handover-bench-cache-')), supervisor: mkdtempSync(join(tmpdir(), 'handover-bench-cache-')) };
      try {
        const t = await restartTable(cacheRows(dirs), WARM);
        out.cache = t.samples;
        print.push('**3. restart → ready, express app, with and without the compile cache**', '', ...t.lines, '');
      } finally {
        for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  print.push(`Load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}.`);
  console.log(print.join('\n'));
  if (JSON_OUT) {
    const file = resultPath('startup', stamp, 'json');
    writeFileSync(file, JSON.stringify(out, null, 2));
    console.log(`raw figures: ${file}`);
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
