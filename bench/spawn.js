#!/usr/bin/env node
// Spawn latency against the parent's resident memory:
// forkExecWithFds('/bin/true') vs child_process.spawn('/bin/true').
//
// The headline is the time of the call itself — until the pid is known —
// because that is the time the event loop is blocked. child_process.spawn
// returns once libuv's uv_spawn has forked (the 'spawn' event only follows on
// the next tick), so fork's page-table copy is inside that call. The round
// trip (call + exec + exit + reap) is reported too.
//
//   node bench/spawn.js [--sizes 50,2048] [--iterations 300] [--json]
//
// --sizes        parent RSS targets in MB, measured in increasing order; the
//                memory is real (Buffers filled in 64 MB chunks), not reserved
// --iterations   timed forkExecWithFds calls per size (default 300); spawn
//                gets the same count, capped at whatever fits in ~6 s per
//                size (at least 30)
// --json         print one JSON document instead of the table
'use strict';

const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const os = require('node:os');
const { forkExecWithFds, waitPid } = require('../dist');
const { eachOption, intOption, usageError } = require('./lib/args');

const CHUNK = 64 * 1024 * 1024;
const FILE = '/bin/true';
const MB = 1024 * 1024;
const SPAWN_BUDGET_MS = 6000;
const MIN_SPAWN_ITERATIONS = 30;

const usage = usageError('node bench/spawn.js [--sizes 50,2048] [--iterations N] [--json]');

function parseArgs(argv) {
  const options = { sizes: [50, 2048], iterations: 300, json: false };
  eachOption(argv, usage, (name, value) => {
    if (name === '--json') options.json = true;
    else if (name === '--sizes') {
      const raw = value();
      const sizes = raw.split(',').map((s) => Number(s.trim()));
      if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s <= 0)) usage(`--sizes must be positive integers (MB), got ${raw}`);
      options.sizes = [...new Set(sizes)].sort((a, b) => a - b);
    } else if (name === '--iterations') options.iterations = intOption(usage, name, value(), 1);
    else if (name === '--help' || name === '-h') usage('Spawn latency against parent RSS.');
    else return false;
  });
  return options;
}

const now = () => process.hrtime.bigint();
const ms = (from, to) => Number(to - from) / 1e6;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest rank.
  const rank = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return { n: sorted.length, median: rank(0.5), p90: rank(0.9), min: sorted[0], max: sorted[sorted.length - 1] };
}

async function forkExecOnce() {
  const t0 = now();
  const pid = forkExecWithFds(FILE, ['true']);
  const t1 = now();
  const status = await waitPid(pid);
  const t2 = now();
  if (status.code !== 0) throw new Error(`${FILE} ended with ${JSON.stringify(status)}`);
  return { call: ms(t0, t1), total: ms(t0, t2) };
}

function spawnOnce() {
  return new Promise((resolve, reject) => {
    const t0 = now();
    // stdio 'inherit' is what forkExecWithFds does by default (fds 0, 1, 2);
    // 'pipe' would add three socketpairs to the cost.
    const child = spawn(FILE, [], { stdio: 'inherit' });
    const t1 = now();
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const t2 = now();
      if (code !== 0) reject(new Error(`${FILE} ended with code ${code}, signal ${signal}`));
      else resolve({ call: ms(t0, t1), total: ms(t0, t2) });
    });
  });
}

async function measure(once, iterations) {
  const call = [];
  const total = [];
  for (let i = 0; i < iterations; i++) {
    const r = await once();
    call.push(r.call);
    total.push(r.total);
  }
  return { call: stats(call), total: stats(total) };
}

const ballast = [];

function rssMB() {
  return process.memoryUsage().rss / MB;
}

// Grows the resident set to about targetMB with touched, referenced Buffers.
function growTo(targetMB) {
  while (rssMB() < targetMB) {
    const missing = (targetMB - rssMB()) * MB;
    const size = Math.max(MB, Math.min(CHUNK, Math.ceil(missing / MB) * MB));
    ballast.push(Buffer.alloc(size).fill(1));
  }
}

async function phase(targetMB, iterations, log) {
  growTo(targetMB);
  const rss = rssMB();
  log(`RSS ${rss.toFixed(0)} MB (target ${targetMB} MB): warming up`);

  for (let i = 0; i < 200; i++) await forkExecOnce();
  let warm = 0;
  for (let i = 0; i < 3; i++) warm = Math.max(warm, (await spawnOnce()).total);
  const spawnIterations = Math.min(iterations, Math.max(MIN_SPAWN_ITERATIONS, Math.floor(SPAWN_BUDGET_MS / Math.max(warm, 0.01))));

  log(`RSS ${rss.toFixed(0)} MB: ${iterations} x forkExecWithFds`);
  const forkExec = await measure(forkExecOnce, iterations);
  log(`RSS ${rss.toFixed(0)} MB: ${spawnIterations} x child_process.spawn`);
  const spawned = await measure(spawnOnce, spawnIterations);
  return { targetMB, rssMB: Math.round(rss), rssAfterMB: Math.round(rssMB()), forkExecWithFds: forkExec, spawn: spawned };
}

function readOr(path, fallback) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function environment() {
  return {
    node: process.version,
    libuv: process.versions.uv,
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    transparentHugepages: readOr('/sys/kernel/mm/transparent_hugepage/enabled', 'n/a'),
  };
}

const fmt = (v) => v.toFixed(3);

function table(result) {
  const header = ['RSS MB', 'method', 'measure', 'n', 'median ms', 'p90 ms', 'spawn/forkExec'];
  const rows = [];
  for (const p of result.phases) {
    for (const measureName of ['call', 'total']) {
      const label = measureName === 'call' ? 'call (pid known)' : 'round trip to exit';
      const f = p.forkExecWithFds[measureName];
      const s = p.spawn[measureName];
      rows.push([String(p.rssMB), 'forkExecWithFds', label, String(f.n), fmt(f.median), fmt(f.p90), '']);
      rows.push([String(p.rssMB), 'child_process.spawn', label, String(s.n), fmt(s.median), fmt(s.p90), `${(s.median / f.median).toFixed(1)}x`]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = new Set([1, 2]);
  const line = (cells) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const log = options.json ? () => {} : (message) => process.stderr.write(`${message}\n`);
  const started = now();
  const result = { command: `node bench/spawn.js ${process.argv.slice(2).join(' ')}`.trim(), ...environment(), unit: 'ms', iterations: options.iterations, phases: [] };
  for (const size of options.sizes) result.phases.push(await phase(size, options.iterations, log));
  result.durationSeconds = Math.round(ms(started, now()) / 100) / 10;

  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const e = result;
  console.log(`${e.node} (libuv ${e.libuv}), ${e.platform}/${e.arch}, kernel ${e.kernel}, ${e.cpus} x ${e.cpu}, THP ${e.transparentHugepages}`);
  console.log(`/bin/true; "call" = the spawn call itself (until the pid is known, the event loop is blocked); "round trip" = until the child is reaped\n`);
  console.log(table(result));
  console.log(`\n${result.durationSeconds} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
