'use strict';
// Just enough SVG for the benchmark charts, without dependencies: elements as
// strings, linear and log scales with readable ticks, and a document wrapper.

/** Escapes text for an SVG text node or attribute. */
function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const round = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/\.?0+$/, ''));

/** `<name attr="…">children</name>`; numbers are rounded to 2 decimals, null/undefined attributes left out. */
function el(name, attrs = {}, children = null) {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== null && v !== undefined && v !== false)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? round(v) : esc(v)}"`)
    .join('');
  if (children === null || children === undefined) return `<${name}${a}/>`;
  return `<${name}${a}>${Array.isArray(children) ? children.join('') : children}</${name}>`;
}

/** A text element; `text` is escaped. */
function text(x, y, value, attrs = {}) {
  return el('text', { x, y, ...attrs }, esc(value));
}

/** A polyline through [x, y] points. */
function polyline(points, attrs = {}) {
  return el('polyline', { points: points.map(([x, y]) => `${round(x)},${round(y)}`).join(' '), fill: 'none', ...attrs });
}

/** Round tick values (1, 2, 2.5, 5 × 10^n) covering [min, max] with about `count` steps. */
function niceTicks(min, max, count = 5) {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Maps [d0, d1] onto [r0, r1]; `.ticks(n)` gives round values inside the domain. */
function linearScale([d0, d1], [r0, r1]) {
  const f = (v) => r0 + ((v - d0) / (d1 - d0 || 1)) * (r1 - r0);
  f.ticks = (n = 5) => niceTicks(d0, d1, n);
  f.domain = [d0, d1];
  return f;
}

/** Log10 scale; `.ticks()` gives 1, 2, 5 × 10^n inside the domain. */
function logScale([d0, d1], [r0, r1]) {
  const l0 = Math.log10(d0);
  const l1 = Math.log10(d1);
  const f = (v) => r0 + ((Math.log10(v) - l0) / (l1 - l0 || 1)) * (r1 - r0);
  f.ticks = () => {
    const ticks = [];
    for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= d0 * 0.999 && v <= d1 * 1.001) ticks.push(Number(v.toPrecision(12)));
      }
    }
    return ticks;
  };
  f.domain = [d0, d1];
  return f;
}

/** 1234 → "1.2k", 25000 → "25k", 0.05 → "0.05". */
function shortNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${round(Number((v / 1e6).toPrecision(3)))}M`;
  if (a >= 1e3) return `${round(Number((v / 1e3).toPrecision(3)))}k`;
  return round(Number(v.toPrecision(3)));
}

/** A standalone SVG document with a white background and a system font. */
function svgDocument(width, height, body, { title } = {}) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    title ? el('title', {}, esc(title)) : '',
    el('rect', { x: 0, y: 0, width, height, fill: '#fff' }),
    ...(Array.isArray(body) ? body : [body]),
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { esc, el, text, polyline, niceTicks, linearScale, logScale, shortNumber, svgDocument };
