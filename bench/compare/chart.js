'use strict';
// The chart of `npm run bench:compare`: one small multiple per row and pass,
// requests/s over time (from timeline.lua's buckets), each restart marked from
// its signal to the new process's readiness, buckets with non-2xx responses
// in red. Socket errors have no timeline (wrk does not show them to Lua):
// their totals are in each panel's title.
//
// Re-draws a saved run without running it again:
//   node bench/compare/chart.js bench/results/compare-<stamp>.json [out.svg]
const { el, text, polyline, linearScale, niceTicks, shortNumber, svgDocument } = require('../lib/svg');

const WIDTH = 1100;
const MARGIN = { top: 116, left: 58, right: 14, bottom: 20 };
const GAP_X = 52;
const PANEL_H = 74;
const TITLE_H = 30;
const GAP_Y = 14;

const COLORS = { line: '#1f5fa8', fill: '#dbe7f5', restart: '#e07b00', ready: '#fbe3c4', error: '#d62728', grid: '#e6e6e6', axis: '#666', muted: '#888' };

const totalErrors = (e) => e.connect + e.read + e.write + e.timeout + e.non2xx;

function errorSummary(r) {
  const e = r.errors;
  const kinds = ['connect', 'read', 'write', 'timeout', 'non2xx'].filter((k) => e[k] > 0).map((k) => `${k === 'non2xx' ? 'non-2xx' : k} ${e[k].toLocaleString('en-US')}`);
  return kinds.length ? `${totalErrors(e).toLocaleString('en-US')} errors (${kinds.join(', ')})` : '0 errors';
}

function panel(r, x0, y0, w, xScaleFor, yMax) {
  const parts = [];
  const plotTop = y0 + TITLE_H;
  const x = xScaleFor(x0, w);
  const y = linearScale([0, yMax], [plotTop + PANEL_H, plotTop]);
  parts.push(text(x0, y0 + 12, r.label, { 'font-weight': 'bold', 'font-size': 12 }));
  if (r.skipped || r.error) {
    parts.push(el('rect', { x: x0, y: plotTop, width: w, height: PANEL_H, fill: '#f7f7f7', stroke: COLORS.grid }));
    parts.push(text(x0 + 8, plotTop + PANEL_H / 2 + 4, `${r.skipped ? 'skipped' : 'failed'}: ${(r.skipped ?? r.error).slice(0, 90)}`, { fill: COLORS.muted, 'font-size': 11 }));
    return parts;
  }
  const done = r.restarts.filter((z) => !z.failed);
  const stats = `${Math.round(r.rps).toLocaleString('en-US')} req/s · ${errorSummary(r)}${r.restartsPlanned ? ` · ${done.length}/${r.restartsPlanned} restarts` : ''}`;
  parts.push(text(x0, y0 + 25, stats, { 'font-size': 11, fill: totalErrors(r.errors) > 0 ? COLORS.error : '#2a7a2a' }));

  // Grid and y labels.
  for (const t of y.ticks(2)) {
    parts.push(el('line', { x1: x0, x2: x0 + w, y1: y(t), y2: y(t), stroke: COLORS.grid }));
    parts.push(text(x0 - 5, y(t) + 4, shortNumber(t), { 'text-anchor': 'end', 'font-size': 10, fill: COLORS.axis }));
  }
  // Restarts: shaded from the signal to readiness, a line at the signal.
  for (const z of r.restarts) {
    const xs = x(z.at / 1000);
    if (z.failed) {
      parts.push(el('line', { x1: xs, x2: xs, y1: plotTop, y2: plotTop + PANEL_H, stroke: COLORS.error, 'stroke-dasharray': '3,2' }));
      continue;
    }
    parts.push(el('rect', { x: xs, y: plotTop, width: Math.max(1, x(z.readyAt / 1000) - xs), height: PANEL_H, fill: COLORS.ready }));
    parts.push(el('line', { x1: xs, x2: xs, y1: plotTop, y2: plotTop + PANEL_H, stroke: COLORS.restart, 'stroke-width': 1.5 }));
  }
  // Requests/s per bucket, as steps.
  const { bucketMs, responses, non2xx } = r.timeline;
  const perSecond = 1000 / bucketMs;
  const pts = [];
  responses.forEach((n, i) => {
    const v = Math.min(n * perSecond, yMax);
    pts.push([x((i * bucketMs) / 1000), y(v)], [x(((i + 1) * bucketMs) / 1000), y(v)]);
  });
  if (pts.length) {
    const area = [[pts[0][0], y(0)], ...pts, [pts[pts.length - 1][0], y(0)]];
    parts.push(el('polygon', { points: area.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '), fill: COLORS.fill }));
    parts.push(polyline(pts, { stroke: COLORS.line, 'stroke-width': 1.3 }));
  }
  // Buckets with non-2xx responses: a red bar under the axis.
  non2xx.forEach((n, i) => {
    if (n > 0) parts.push(el('rect', { x: x((i * bucketMs) / 1000), y: plotTop + PANEL_H + 1, width: Math.max(2, x(bucketMs / 1000) - x(0)), height: 5, fill: COLORS.error }));
  });
  // Frame and x ticks.
  parts.push(el('line', { x1: x0, x2: x0 + w, y1: y(0), y2: y(0), stroke: COLORS.axis }));
  for (const t of x.ticks(3)) {
    parts.push(el('line', { x1: x(t), x2: x(t), y1: y(0), y2: y(0) + 3, stroke: COLORS.axis }));
    parts.push(text(x(t), y(0) + 15, `${t}s`, { 'text-anchor': 'middle', 'font-size': 10, fill: COLORS.axis }));
  }
  return parts;
}

/** The whole chart as an SVG document. */
function compareChart(report) {
  const o = report.options;
  const passes = o.passes;
  const ids = [...new Set(report.rows.map((r) => r.id))];
  const colW = (WIDTH - MARGIN.left - MARGIN.right - GAP_X * (passes.length - 1)) / passes.length;
  const rowH = TITLE_H + PANEL_H + 18 + GAP_Y;
  const height = MARGIN.top + ids.length * rowH + MARGIN.bottom;
  const xScaleFor = (x0, w) => linearScale([0, o.seconds], [x0, x0 + w]);
  const body = [];

  const m = report.machine;
  body.push(text(MARGIN.left, 22, `Restarts under load: requests/s over time (per ${o.bucketMs} ms), ${o.restarts} restarts in ${o.seconds} s`, { 'font-size': 16, 'font-weight': 'bold' }));
  body.push(text(MARGIN.left, 40, `npm run bench:compare · wrk -t${o.threads} -c${o.connections} -d${o.seconds}s · hello world on 127.0.0.1 · run ${report.stamp}`, { 'font-size': 11, fill: COLORS.axis }));
  body.push(text(MARGIN.left, 55, `${m.cores} × ${m.cpu}, Linux ${m.kernel}, Node ${m.node}${report.go ? `, Go ${report.go.split(' ')[0].replace(/^go/, '')}` : ''}${report.pm2 ? `, pm2 ${report.pm2}` : ''} · load average at the start ${m.loadAverage.join(', ')}`, { 'font-size': 11, fill: COLORS.axis }));
  // Legend.
  const ly = 74;
  let lx = MARGIN.left;
  body.push(el('rect', { x: lx, y: ly - 9, width: 22, height: 10, fill: COLORS.fill, stroke: COLORS.line }));
  body.push(text(lx + 28, ly, 'requests/s', { 'font-size': 11 }));
  lx += 110;
  body.push(el('line', { x1: lx + 4, x2: lx + 4, y1: ly - 11, y2: ly + 2, stroke: COLORS.restart, 'stroke-width': 1.5 }));
  body.push(el('rect', { x: lx + 4, y: ly - 11, width: 14, height: 13, fill: COLORS.ready }));
  body.push(text(lx + 24, ly, 'restart signal (or command), shaded until the new process serves', { 'font-size': 11 }));
  lx += 390;
  body.push(el('rect', { x: lx, y: ly - 6, width: 14, height: 5, fill: COLORS.error }));
  body.push(text(lx + 20, ly, 'non-2xx responses in that interval', { 'font-size': 11 }));
  body.push(text(MARGIN.left, ly + 17, 'Socket errors (connect/read/write/timeout) are totals only — in each title. Same y scale within a column.', { 'font-size': 11, fill: COLORS.axis }));

  passes.forEach((pass, c) => {
    const x0 = MARGIN.left + c * (colW + GAP_X);
    const rows = report.rows.filter((r) => r.pass === pass);
    const peak = Math.max(1, ...rows.filter((r) => r.timeline).flatMap((r) => r.timeline.responses.map((n) => (n * 1000) / r.timeline.bucketMs)));
    const step = niceTicks(0, peak, 4)[1] ?? peak;
    const yMax = Math.ceil(peak / step) * step;
    body.push(text(x0 + colW / 2, MARGIN.top - 2, pass === 'keep-alive' ? 'keep-alive' : 'Connection: close', { 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 'bold', fill: '#333' }));
    ids.forEach((id, i) => {
      const r = rows.find((z) => z.id === id);
      if (r) body.push(...panel(r, x0, MARGIN.top + 8 + i * rowH, colW, xScaleFor, yMax));
    });
  });
  return svgDocument(WIDTH, height, body, { title: `bench:compare ${report.stamp}` });
}

module.exports = { compareChart };

if (require.main === module) {
  const { readFileSync, writeFileSync } = require('node:fs');
  const [input, output] = process.argv.slice(2);
  if (!input) {
    process.stderr.write('usage: node bench/compare/chart.js bench/results/compare-<stamp>.json [out.svg]\n');
    process.exit(2);
  }
  const out = output ?? input.replace(/\.json$/, '.svg');
  writeFileSync(out, compareChart(JSON.parse(readFileSync(input, 'utf8'))));
  process.stderr.write(`wrote ${out}\n`);
}
