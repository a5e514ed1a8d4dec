#!/usr/bin/env node
'use strict';
// `npm run bench:spawn:chart`: runs bench/spawn.js (in a process of its own,
// since its resident memory is the variable) at 50, 512, 1024, 2048 and
// 4096 MB and draws spawn latency against the parent's RSS, both methods,
// on a log scale: bench/results/spawn-<stamp>.svg (+ .json, .md). --docs
// also copies the chart to docs/bench/spawn.svg and the table into
// BENCHMARKS.md.
//
//   node bench/spawn-chart.js [--sizes 50,512,1024,2048,4096] [--iterations 300] [--docs]
const { spawn } = require('node:child_process');
const { writeFileSync, copyFileSync, mkdirSync } = require('node:fs');
const { join, relative } = require('node:path');
const { el, text, polyline, linearScale, logScale, niceTicks, shortNumber, svgDocument } = require('./lib/svg');
const { machine, describeMachine, timestamp, resultPath, replaceBlock, ROOT } = require('./lib/report');

function usage(message) {
  process.stderr.write(`${message}\nusage: node bench/spawn-chart.js [--sizes 50,512,1024,2048,4096] [--iterations N] [--docs]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { sizes: '50,512,1024,2048,4096', iterations: null, docs: false };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => (inline !== undefined ? inline : argv[++i] ?? usage(`${name} needs a value`));
    if (name === '--sizes') o.sizes = value();
    else if (name === '--iterations') o.iterations = value();
    else if (name === '--docs') o.docs = true;
    else if (name === '--help' || name === '-h') usage('Spawn latency against parent RSS, as a chart.');
    else usage(`unknown argument ${argv[i]}`);
  }
  return o;
}

let child = null;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    process.exit(130);
  });
}

function runSpawnBench(o) {
  const args = [join(__dirname, 'spawn.js'), '--sizes', o.sizes, '--json'];
  if (o.iterations) args.push('--iterations', o.iterations);
  process.stderr.write(`bench:spawn:chart: node ${relative(ROOT, args[0])} ${args.slice(1).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bench/spawn.js exited with ${code}`))));
  });
}

const SERIES = [
  { method: 'forkExecWithFds', measure: 'call', label: 'forkExecWithFds — call (event loop blocked)', color: '#1f5fa8', dash: null },
  { method: 'spawn', measure: 'call', label: 'child_process.spawn — call (event loop blocked)', color: '#d62728', dash: null },
  { method: 'forkExecWithFds', measure: 'total', label: 'forkExecWithFds — round trip to exit', color: '#1f5fa8', dash: '5,4' },
  { method: 'spawn', measure: 'total', label: 'child_process.spawn — round trip to exit', color: '#d62728', dash: '5,4' },
];

function chart(result, stamp, m) {
  const W = 820;
  const H = 520;
  const M = { top: 116, right: 30, bottom: 56, left: 72 };
  const phases = result.phases;
  const values = phases.flatMap((p) => SERIES.flatMap((s) => [p[s.method][s.measure].median, p[s.method][s.measure].p90]));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const maxRss = Math.max(...phases.map((p) => p.rssMB));
  const xTicks = niceTicks(0, maxRss, 4);
  const xMax = Math.max(maxRss, xTicks[xTicks.length - 1]);
  const x = linearScale([0, xMax], [M.left, W - M.right]);
  const y = logScale([lo, hi], [H - M.bottom, M.top]);
  const body = [];
  body.push(text(M.left, 24, 'Spawn latency against the parent\'s resident memory (/bin/true)', { 'font-size': 16, 'font-weight': 'bold' }));
  body.push(text(M.left, 42, `npm run bench:spawn:chart · median, whiskers to p90 · run ${stamp}`, { 'font-size': 11, fill: '#666' }));
  body.push(text(M.left, 57, `${describeMachine(m).replace(/`/g, '')} · load average at the start ${m.loadAverage.join(', ')}`, { 'font-size': 11, fill: '#666' }));
  // Legend, two columns.
  SERIES.forEach((s, i) => {
    const lx = M.left + (i % 2) * 370;
    const ly = 80 + Math.floor(i / 2) * 17;
    body.push(el('line', { x1: lx, x2: lx + 26, y1: ly - 4, y2: ly - 4, stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash }));
    body.push(text(lx + 32, ly, s.label, { 'font-size': 11 }));
  });
  // Axes and grid.
  for (const t of y.ticks()) {
    body.push(el('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), stroke: Number.isInteger(Math.round(Math.log10(t) * 1e6) / 1e6) ? '#d8d8d8' : '#f0f0f0' }));
    body.push(text(M.left - 6, y(t) + 4, `${shortNumber(t)} ms`, { 'text-anchor': 'end', 'font-size': 10, fill: '#555' }));
  }
  for (const t of xTicks) {
    body.push(el('line', { x1: x(t), x2: x(t), y1: H - M.bottom, y2: H - M.bottom + 4, stroke: '#555' }));
    body.push(text(x(t), H - M.bottom + 17, `${t.toLocaleString('en-US')}`, { 'text-anchor': 'middle', 'font-size': 10, fill: '#555' }));
  }
  body.push(el('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, stroke: '#555' }));
  body.push(el('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, stroke: '#555' }));
  body.push(text((M.left + W - M.right) / 2, H - 14, 'parent RSS (MB)', { 'text-anchor': 'middle', 'font-size': 12 }));
  body.push(text(16, (M.top + H - M.bottom) / 2, 'latency (ms, log scale)', { 'text-anchor': 'middle', 'font-size': 12, transform: `rotate(-90 16 ${(M.top + H - M.bottom) / 2})` }));
  // Series.
  SERIES.forEach((s, k) => {
    const pts = phases.map((p) => [x(p.rssMB), y(p[s.method][s.measure].median)]);
    // Whiskers side by side, not on top of each other.
    const dx = (k - 1.5) * 3;
    body.push(polyline(pts, { stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash }));
    phases.forEach((p, i) => {
      const st = p[s.method][s.measure];
      const [px, py] = pts[i];
      body.push(el('line', { x1: px + dx, x2: px + dx, y1: py, y2: y(st.p90), stroke: s.color, 'stroke-width': 1 }));
      body.push(el('circle', { cx: px, cy: py, r: 3.2, fill: s.dash ? '#fff' : s.color, stroke: s.color, 'stroke-width': 1.5 }));
    });
  });
  // Label the last point of the two "call" series with their value.
  const last = phases[phases.length - 1];
  for (const s of SERIES.filter((z) => z.measure === 'call')) {
    const v = last[s.method].call.median;
    body.push(text(x(last.rssMB) - 8, y(v) - 8, `${v < 1 ? v.toFixed(2) : v.toFixed(1)} ms`, { 'text-anchor': 'end', 'font-size': 11, 'font-weight': 'bold', fill: s.color }));
  }
  return svgDocument(W, H, body, { title: `bench:spawn:chart ${stamp}` });
}

function table(result) {
  const f = (v) => v.toFixed(3);
  const lines = ['| parent RSS MB | forkExecWithFds call ms | spawn call ms | spawn/forkExec | forkExecWithFds round trip ms | spawn round trip ms | n (forkExec / spawn) |', '|---:|---:|---:|---:|---:|---:|---:|'];
  for (const p of result.phases) {
    const fe = p.forkExecWithFds;
    const sp = p.spawn;
    lines.push(`| ${p.rssMB} | ${f(fe.call.median)} | ${f(sp.call.median)} | ${(sp.call.median / fe.call.median).toFixed(1)}× | ${f(fe.total.median)} | ${f(sp.total.median)} | ${fe.call.n} / ${sp.call.n} |`);
  }
  return `${lines.join('\n')}\n\nMedians; p90 and the raw figures are in the .json.`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const stamp = timestamp();
  const m = { ...machine(), wrk: null };
  process.stderr.write(`bench:spawn:chart: load average at the start: ${m.loadAverage.join(', ')}\n`);
  const result = await runSpawnBench(o);
  const files = { svg: resultPath('spawn', stamp, 'svg'), json: resultPath('spawn', stamp, 'json'), md: resultPath('spawn', stamp, 'md') };
  writeFileSync(files.svg, chart(result, stamp, m));
  writeFileSync(files.json, `${JSON.stringify({ stamp, machine: m, ...result }, null, 2)}\n`);
  const md = [`# bench:spawn:chart ${stamp}`, '', `${describeMachine(m)}; load average at the start ${m.loadAverage.join(', ')}.`, '', table(result), '', `Chart: ${relative(ROOT, files.svg)}`, ''].join('\n');
  writeFileSync(files.md, md);
  process.stdout.write(`${md}\n`);
  process.stderr.write(`bench:spawn:chart: wrote ${relative(ROOT, files.svg)}, .json, .md\n`);
  if (o.docs) {
    mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true });
    copyFileSync(files.svg, join(ROOT, 'docs', 'bench', 'spawn.svg'));
    const ok = replaceBlock(join(ROOT, 'BENCHMARKS.md'), 'bench:spawn', [`Run ${stamp}: \`npm run bench:spawn:chart\`; ${describeMachine(m)}; load average at the start ${m.loadAverage.join(', ')}.`, '', table(result)].join('\n'));
    process.stderr.write(`bench:spawn:chart: docs/bench/spawn.svg updated${ok ? ', BENCHMARKS.md table updated' : '; BENCHMARKS.md has no <!-- bench:spawn:begin/end --> markers'}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
