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
// --reference    also time, at each size: glibc's posix_spawn of /bin/true
//                from a C program of the same RSS (bench/spawn/reference.c,
//                built with cc into bench/.cache/), plain and with
//                forkExecWithFds' attributes; the addon's spawn called
//                directly (no JavaScript validation); and forkExecWithFds
//                given its environment as an array (no copy of process.env):
//                where forkExecWithFds' time goes
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { mkdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const os = require('node:os');
const { forkExecWithFds, waitPid } = require('../dist');
const { native } = require('../dist/native');
const { eachOption, intOption, usageError } = require('./lib/args');

const CHUNK = 64 * 1024 * 1024;
const FILE = '/bin/true';
const MB = 1024 * 1024;
const SPAWN_BUDGET_MS = 6000;
const MIN_SPAWN_ITERATIONS = 30;

const usage = usageError('node bench/spawn.js [--sizes 50,2048] [--iterations N] [--reference] [--json]');

function parseArgs(argv) {
  const options = { sizes: [50, 2048], iterations: 300, json: false, reference: false };
  eachOption(argv, usage, (name, value) => {
    if (name === '--json') options.json = true;
    else if (name === '--reference') options.reference = true;
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

// The addon's spawn with the request forkExecWithFds would build, prepared
// once: what the native call costs without the JavaScript around it.
let rawRequest;
async function rawSpawnOnce() {
  rawRequest ??= { file: FILE, argv: ['true'], envp: Object.entries(process.env).map(([k, v]) => `${k}=${v}`), files: [0, 1, 2], setsid: false, setpgid: false, pgid: 0, pdeathsig: 0, listenPid: false };
  const t0 = now();
  const pid = native('bench').spawn(rawRequest);
  const t1 = now();
  await waitPid(pid);
  return { call: ms(t0, t1), total: ms(t0, now()) };
}

// forkExecWithFds given the environment as an array: its validation, without
// reading process.env (each entry of which is a call into C++).
async function envArrayOnce() {
  const t0 = now();
  const pid = forkExecWithFds(FILE, ['true'], { env: rawRequest.envp });
  const t1 = now();
  await waitPid(pid);
  return { call: ms(t0, t1), total: ms(t0, now()) };
}

const REFERENCE = join(__dirname, '.cache', 'spawn-reference');

/** bench/spawn/reference.c built with cc, or null (with the reason on stderr) when there is no cc. */
function buildReference(log) {
  mkdirSync(join(__dirname, '.cache'), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-o', REFERENCE, join(__dirname, 'spawn', 'reference.c')], { encoding: 'utf8' });
  if (r.status === 0) return REFERENCE;
  log(`no posix_spawn reference: cc ${r.error ? r.error.message : r.stderr}`);
  return null;
}

/** The C program's two forms at `targetMB`: { 'posix_spawn': stats, 'posix_spawn, same attributes': stats }. */
function reference(binary, targetMB, iterations) {
  const r = spawnSync(binary, [String(targetMB), String(iterations), FILE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${binary} failed: ${r.stderr}`);
  const forms = {};
  for (const line of r.stdout.trim().split('\n')) {
    const f = JSON.parse(line);
    forms[f.form] = { rssMB: f.rssMB, calls: f.calls };
  }
  return forms;
}

/**
 * forkExecWithFds, the addon's spawn alone, forkExecWithFds with an env array
 * and the C program's two forms, in ROUNDS rounds of `iterations / ROUNDS`
 * calls each, the order of the four alternating from round to round: the
 * machine's noise falls on all of them alike.
 */
const ROUNDS = 10;
async function referencePhase(binary, rss, iterations) {
  const per = Math.max(1, Math.floor(iterations / ROUNDS));
  const calls = { forkExecWithFds: [], nativeSpawn: [], envArray: [], posix_spawn: [], 'posix_spawn, same attributes': [] };
  const steps = {
    forkExecWithFds: async () => calls.forkExecWithFds.push(...(await measureCalls(forkExecOnce, per))),
    nativeSpawn: async () => calls.nativeSpawn.push(...(await measureCalls(rawSpawnOnce, per))),
    envArray: async () => calls.envArray.push(...(await measureCalls(envArrayOnce, per))),
    reference: async () => {
      const forms = reference(binary, rss, per);
      for (const [name, f] of Object.entries(forms)) calls[name].push(...f.calls);
    },
  };
  const names = Object.keys(steps);
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) await steps[name]();
  }
  return Object.fromEntries(Object.entries(calls).map(([name, c]) => [name, stats(c)]));
}

async function measureCalls(once, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await once()).call);
  return out;
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

async function phase(targetMB, iterations, log, referenceBinary) {
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
  const result = { targetMB, rssMB: Math.round(rss), rssAfterMB: Math.round(rssMB()), forkExecWithFds: forkExec, spawn: spawned };
  if (referenceBinary) {
    log(`RSS ${rss.toFixed(0)} MB: forkExecWithFds, the addon's spawn alone, forkExecWithFds with an env array, posix_spawn from C, interleaved`);
    result.reference = await referencePhase(referenceBinary, Math.round(rss), iterations);
  }
  return result;
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

/** The call's median and p90 at each size: forkExecWithFds and its parts against posix_spawn. */
function referenceTable(result) {
  const lines = [
    '| parent RSS MB | forkExecWithFds | forkExecWithFds, env as an array | addon spawn alone | posix_spawn (C) | posix_spawn (C), same attributes | forkExecWithFds / posix_spawn, same attributes |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cell = (s) => `${fmt(s.median)} (p90 ${fmt(s.p90)})`;
  for (const p of result.phases) {
    const r = p.reference;
    const same = r['posix_spawn, same attributes'];
    lines.push(`| ${p.rssMB} | ${cell(r.forkExecWithFds)} | ${cell(r.envArray)} | ${cell(r.nativeSpawn)} | ${cell(r.posix_spawn)} | ${cell(same)} | ${(r.forkExecWithFds.median / same.median).toFixed(2)}× |`);
  }
  lines.push('', `Interleaved: ${ROUNDS} rounds, the order alternating; the call's median (and p90), ms.`);
  return lines.join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const log = options.json ? () => {} : (message) => process.stderr.write(`${message}\n`);
  const started = now();
  const result = { command: `node bench/spawn.js ${process.argv.slice(2).join(' ')}`.trim(), ...environment(), unit: 'ms', iterations: options.iterations, phases: [] };
  const referenceBinary = options.reference ? buildReference(log) : null;
  for (const size of options.sizes) result.phases.push(await phase(size, options.iterations, log, referenceBinary));
  result.durationSeconds = Math.round(ms(started, now()) / 100) / 10;

  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const e = result;
  console.log(`${e.node} (libuv ${e.libuv}), ${e.platform}/${e.arch}, kernel ${e.kernel}, ${e.cpus} x ${e.cpu}, THP ${e.transparentHugepages}`);
  console.log(`/bin/true; "call" = the spawn call itself (until the pid is known, the event loop is blocked); "round trip" = until the child is reaped\n`);
  console.log(table(result));
  if (referenceBinary) console.log(`\n${referenceTable(result)}`);
  console.log(`\n${result.durationSeconds} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
