#!/usr/bin/env node
'use strict';
// `npm run bench:compare`: one hello-world handler (`/` and /sleep?duration=ms)
// served and restarted eight ways, each under the same wrk load, in one run:
//
//   plain Node, never restarted (the baseline)
//   handover GracefulServer (replaces itself on SIGHUP)
//   handover run, the supervisor (SIGHUP to it)
//   cloudflare/tableflip and facebookgo/grace (Go; Debian's packages)
//   pm2 cluster mode with `pm2 reload`
//   plain Node stopped and started again (the naive way)
//
// Two passes (keep-alive, then `Connection: close`), wrk -t2 -c32 for 15 s,
// 8 restarts at even intervals. Per row: errors by kind, requests/s, p50/p99,
// restart→ready time; req/s over time from bench/compare/timeline.lua.
// Writes bench/results/compare-<stamp>.{md,json,svg}; --docs also copies the
// chart to docs/bench/compare.svg and the tables into BENCHMARKS.md.
//
//   node bench/compare/run.js [--seconds 15] [--restarts 8] [--connections 32]
//     [--threads 2] [--bucket-ms 500] [--only id,id] [--passes keep-alive,close]
//     [--pm2-instances 1] [--docs]
//
// Row ids: baseline graceful graceful-ramp supervisor cluster workers pm2-cluster tableflip grace pm2 naive. Missing
// Go packages are installed with apt-get (as root), pm2 with npm into
// bench/compare/node_modules; a row that cannot be prepared is skipped and
// says why. Every process started is killed at the end, also on an error or
// Ctrl-C. Logs of the servers: bench/.cache/logs/.
const { spawn } = require('node:child_process');
const { writeFileSync, copyFileSync, mkdirSync } = require('node:fs');
const { join, relative } = require('node:path');
const { eachOption, intOption, usageError } = require('../lib/args');
const { parseWrk } = require('../lib/wrk');
const { machine, describeMachine, timestamp, resultPath, replaceBlock, ROOT } = require('../lib/report');
const { installExitHandlers, freePort, track } = require('./processes');
const { logFile, goVersion, prepareWrk } = require('./setup');
const { ROWS } = require('./rows');
const { compareChart } = require('./chart');

const usage = usageError(
  `node bench/compare/run.js [--seconds 15] [--restarts 8] [--connections 32] [--threads 2] [--bucket-ms 500] [--only ${ROWS.map((r) => r.id).join(',')}] [--passes keep-alive,close] [--pm2-instances 1] [--docs]`,
);

function parseArgs(argv) {
  const o = { seconds: 15, restarts: 8, connections: 32, threads: 2, bucketMs: 500, only: null, passes: ['keep-alive', 'close'], pm2Instances: 1, docs: false };
  const int = (name, raw, min) => intOption(usage, name, raw, min);
  eachOption(argv, usage, (name, value) => {
    if (name === '--seconds') o.seconds = int(name, value(), 2);
    else if (name === '--restarts') o.restarts = int(name, value(), 0);
    else if (name === '--connections') o.connections = int(name, value(), 1);
    else if (name === '--threads') o.threads = int(name, value(), 1);
    else if (name === '--bucket-ms') o.bucketMs = int(name, value(), 50);
    else if (name === '--pm2-instances') o.pm2Instances = int(name, value(), 1);
    else if (name === '--only') {
      o.only = value().split(',').filter(Boolean);
      const unknown = o.only.filter((id) => !ROWS.some((r) => r.id === id));
      if (unknown.length) usage(`--only: unknown row ${unknown.join(', ')}`);
    } else if (name === '--passes') {
      o.passes = value().split(',').filter(Boolean);
      if (o.passes.length === 0 || o.passes.some((p) => p !== 'keep-alive' && p !== 'close')) usage('--passes takes keep-alive, close or both');
    } else if (name === '--docs') o.docs = true;
    else if (name === '--help' || name === '-h') usage('Restart behaviour under load: handover against tableflip, grace, pm2 and a naive restart.');
    else return false;
  });
  return o;
}

const say = (m) => process.stderr.write(`bench:compare: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** wrk with timeline.lua: the usual totals plus responses per bucket. */
function runWrk({ url, seconds, connections, threads, keepAlive, startMs, bucketMs }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', join(__dirname, 'timeline.lua')];
  if (!keepAlive) args.push('-H', 'Connection: close');
  args.push(url, '--', String(startMs), String(bucketMs));
  return new Promise((resolve, reject) => {
    const wrk = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(wrk.pid);
    let out = '';
    let err = '';
    wrk.stdout.on('data', (d) => (out += d));
    wrk.stderr.on('data', (d) => (err += d));
    wrk.on('error', (e) => reject(new Error(`cannot run wrk (apt-get install wrk): ${e.message}`)));
    wrk.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}${err}`));
      const timeline = [];
      for (const m of out.matchAll(/^TIMELINE (\d+) (\d+) (\d+)$/gm)) timeline[Number(m[1])] = { responses: Number(m[2]), non2xx: Number(m[3]) };
      const full = Math.floor((seconds * 1000) / bucketMs);
      const buckets = Array.from({ length: full }, (_, i) => timeline[i] ?? { responses: 0, non2xx: 0 });
      resolve({ ...parseWrk(out), timeline: { bucketMs, responses: buckets.map((b) => b.responses), non2xx: buckets.map((b) => b.non2xx) }, raw: out });
    });
  });
}

/** The handler answers both paths as bench/servers/hello.js does. */
async function checkHandler(port) {
  const get = async (path) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return `${res.status} ${await res.text()}`;
  };
  const a = await get('/');
  const b = await get('/sleep?duration=20');
  if (a !== '200 hello world\n' || b !== '200 slept\n') throw new Error(`unexpected answers: ${JSON.stringify([a, b])}`);
}

async function runRow(row, pass, o) {
  const keepAlive = pass === 'keep-alive';
  const port = await freePort();
  const log = logFile(`${row.id}-${pass}.log`);
  say(`${row.label}, ${pass}: port ${port} (log: ${relative(ROOT, log)})`);
  const server = await row.start({ port, logFile: log, options: o });
  const restarts = [];
  let result;
  try {
    await checkHandler(port);
    const startMs = Date.now();
    const load = runWrk({ url: `http://127.0.0.1:${port}/`, seconds: o.seconds, connections: o.connections, threads: o.threads, keepAlive, startMs, bucketMs: o.bucketMs });
    let loadDone = false;
    load.then(
      () => (loadDone = true),
      () => (loadDone = true),
    );
    if (row.restarts && o.restarts > 0) {
      const every = (o.seconds * 1000) / (o.restarts + 1);
      for (let i = 1; i <= o.restarts; i++) {
        await sleep(startMs + every * i - Date.now());
        // A restart that slipped (the previous one took longer than the
        // interval) still runs if it can finish under load.
        if (loadDone || Date.now() > startMs + o.seconds * 1000 - 500) break;
        const at = Date.now();
        try {
          const r = await server.restart();
          restarts.push({ at: r.signalAt - startMs, readyAt: r.readyAt - startMs, ms: r.readyAt - r.signalAt, pid: r.pid ?? null });
        } catch (err) {
          restarts.push({ at: at - startMs, failed: err.message });
          say(`${row.label}: restart ${i} failed: ${err.message}`);
        }
      }
    }
    result = await load;
  } finally {
    await server.stop();
  }
  const balance = server.served ? balanceOf(server.served()) : null;
  const done = restarts.filter((r) => !r.failed);
  const ms = done.map((r) => r.ms).sort((a, b) => a - b);
  return {
    id: row.id,
    label: row.label,
    pass,
    ...result,
    restartsPlanned: row.restarts ? o.restarts : 0,
    restarts,
    readyMs: ms.length ? { median: ms[Math.floor((ms.length - 1) / 2)], max: ms[ms.length - 1], mean: Math.round(ms.reduce((a, b) => a + b, 0) / ms.length) } : null,
    balance,
  };
}

/**
 * Requests and connections per worker slot (every process that served in
 * the slot, across reloads), and max/min of each across the slots.
 */
function balanceOf(served) {
  const byWorker = {};
  for (const e of served) {
    const w = (byWorker[e.worker ?? '?'] ??= { requests: 0, connections: 0, processes: 0 });
    w.requests += e.requests;
    w.connections += e.connections;
    w.processes++;
  }
  const workers = Object.values(byWorker);
  if (workers.length < 2) return workers.length ? { byWorker, requestsRatio: 1, connectionsRatio: 1 } : null;
  const ratio = (key) => Math.max(...workers.map((w) => w[key])) / Math.max(1, Math.min(...workers.map((w) => w[key])));
  return { byWorker, requestsRatio: ratio('requests'), connectionsRatio: ratio('connections') };
}

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n) => (n === null || n === undefined ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const totalErrors = (e) => e.connect + e.read + e.write + e.timeout + e.non2xx;

function markdownTables(report) {
  const lines = [];
  for (const pass of report.options.passes) {
    const rows = report.rows.filter((r) => r.pass === pass);
    const base = rows.find((r) => r.id === 'baseline' && r.rps);
    lines.push(`**${pass === 'keep-alive' ? 'keep-alive' : '`Connection: close`'}**`, '');
    lines.push('| server | restarts | errors | connect | read | write | timeout | non-2xx | req/s | vs baseline | p50 ms | p99 ms | restart→ready ms, median (max) |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      if (r.skipped || r.error) {
        lines.push(`| ${r.label} | ${r.skipped ? `skipped: ${r.skipped}` : `failed: ${r.error}`} ${'| '.repeat(11)}|`);
        continue;
      }
      const e = r.errors;
      const done = r.restarts.filter((x) => !x.failed).length;
      const restarts = r.restartsPlanned ? `${done}/${r.restartsPlanned}` : '-';
      const ready = r.readyMs ? `${fmtInt(r.readyMs.median)} (${fmtInt(r.readyMs.max)})` : '-';
      const vs = base ? `${((100 * r.rps) / base.rps).toFixed(0)}%` : '-';
      lines.push(`| ${r.label} | ${restarts} | **${fmtInt(totalErrors(e))}** | ${fmtInt(e.connect)} | ${fmtInt(e.read)} | ${fmtInt(e.write)} | ${fmtInt(e.timeout)} | ${fmtInt(e.non2xx)} | ${fmtInt(r.rps)} | ${vs} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${ready} |`);
    }
    lines.push('');
    const balanced = rows.filter((r) => r.balance);
    if (balanced.length > 0) {
      lines.push('Spread over the workers (every process of a worker slot, across reloads): requests and connections per worker, max/min.', '');
      for (const r of balanced) {
        const each = Object.entries(r.balance.byWorker).map(([w, v]) => `worker ${w}: ${fmtInt(v.requests)} requests, ${fmtInt(v.connections)} connections`).join('; ');
        lines.push(`- ${r.label}: ${each}; requests ${r.balance.requestsRatio.toFixed(2)}×, connections ${r.balance.connectionsRatio.toFixed(2)}×`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

function markdown(report, files) {
  const m = report.machine;
  const o = report.options;
  return [
    `# bench:compare ${report.stamp}`,
    '',
    `\`${report.command}\` — wrk -t${o.threads} -c${o.connections} -d${o.seconds}s, ${o.restarts} restarts at even intervals, hello world on 127.0.0.1.`,
    '',
    `Machine: ${describeMachine(m)}; ${report.go ? `Go ${report.go}` : 'Go not installed'}; ${report.pm2 ? `pm2 ${report.pm2}` : 'pm2 not installed'}.`,
    `Load average at the start: ${m.loadAverage.join(', ')}; at the end: ${report.loadAverageEnd.join(', ')}. Duration ${Math.round(report.durationSeconds)} s.`,
    '',
    markdownTables(report),
    `Chart: ${files.svg}`,
    '',
  ].join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  installExitHandlers();
  const noWrk = prepareWrk(say);
  if (noWrk) throw new Error(`cannot run wrk: ${noWrk}`);
  const started = Date.now();
  const stamp = timestamp();
  const report = { stamp, command: `node bench/compare/run.js ${process.argv.slice(2).join(' ')}`.trim(), machine: machine(), options: o, rows: [] };
  say(`load average at the start: ${report.machine.loadAverage.join(', ')}`);
  const rows = ROWS.filter((r) => !o.only || o.only.includes(r.id));
  const skipped = new Map();
  for (const row of rows) {
    if (!row.prepare) continue;
    const reason = row.prepare(say, o);
    if (reason) {
      skipped.set(row.id, reason);
      say(`${row.label}: skipped: ${reason}`);
    }
  }
  report.go = goVersion();
  report.pm2 = rows.find((r) => r.version)?.version ?? null;
  report.rows = [];
  for (const pass of o.passes) {
    for (const row of rows) {
      if (skipped.has(row.id)) {
        report.rows.push({ id: row.id, label: row.label, pass, skipped: skipped.get(row.id) });
        continue;
      }
      try {
        const r = await runRow(row, pass, o);
        const e = r.errors;
        say(`  ${fmtInt(r.rps)} req/s, errors ${totalErrors(e)} (connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}, non-2xx ${e.non2xx}), p99 ${fmtMs(r.p99)} ms${r.readyMs ? `, restart→ready median ${r.readyMs.median} ms` : ''}`);
        report.rows.push(r);
      } catch (err) {
        say(`${row.label}, ${pass}: failed: ${err.stack ?? err}`);
        report.rows.push({ id: row.id, label: row.label, pass, error: String(err.message ?? err).split('\n')[0] });
      }
    }
  }
  report.loadAverageEnd = require('node:os')
    .loadavg()
    .map((l) => Number(l.toFixed(2)));
  report.durationSeconds = (Date.now() - started) / 1000;
  report.rowsHow = Object.fromEntries(rows.map((r) => [r.id, r.how]));

  const files = { md: resultPath('compare', stamp, 'md'), json: resultPath('compare', stamp, 'json'), svg: resultPath('compare', stamp, 'svg') };
  const svg = compareChart(report);
  writeFileSync(files.svg, svg);
  writeFileSync(files.json, `${JSON.stringify({ ...report, rows: report.rows.map(({ raw, ...r }) => ({ ...r, wrk: raw })) }, null, 2)}\n`);
  const md = markdown(report, { svg: relative(ROOT, files.svg) });
  writeFileSync(files.md, md);
  process.stdout.write(`${md}\n`);
  say(`wrote ${relative(ROOT, files.md)}, .json, .svg`);

  if (o.docs) {
    mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true });
    copyFileSync(files.svg, join(ROOT, 'docs', 'bench', 'compare.svg'));
    const block = [
      `Run ${report.stamp}: \`npm run bench:compare\`; ${describeMachine(report.machine)}; ${report.go ? `Go ${report.go}` : 'no Go'}; ${report.pm2 ? `pm2 ${report.pm2}` : 'no pm2'}. Load average at the start ${report.machine.loadAverage.join(', ')}, at the end ${report.loadAverageEnd.join(', ')}.`,
      '',
      markdownTables(report),
    ].join('\n');
    const ok = replaceBlock(join(ROOT, 'BENCHMARKS.md'), 'bench:compare', block);
    say(`docs/bench/compare.svg updated${ok ? ', BENCHMARKS.md table updated' : '; BENCHMARKS.md has no <!-- bench:compare:begin/end --> markers'}`);
  }
}

main().catch((err) => {
  say(err.stack ?? String(err));
  process.exitCode = 1;
});