'use strict';
// What the benchmark reports say about the machine, where they are written,
// and the generated blocks of BENCHMARKS.md.
const { spawnSync } = require('node:child_process');
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const os = require('node:os');

const ROOT = join(__dirname, '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');

function firstLine(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error) return null;
  return `${r.stdout}${r.stderr}`.split('\n')[0].trim() || null;
}

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

/** Cores (as `nproc` counts them), CPU model, kernel, Node, wrk, load average. */
function machine() {
  const nproc = Number(firstLine('nproc', [])) || (os.availableParallelism?.() ?? os.cpus().length);
  const wrk = firstLine('wrk', ['-v']);
  return {
    cores: nproc,
    cpu: cpuModel(),
    kernel: os.release(),
    node: process.version,
    wrk: wrk ? wrk.replace(/\s*\[.*$/, '').replace(/\s*Copyright.*$/, '') : null,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

/** "2 × AMD EPYC, Linux 6.1, Node v20.20.2, wrk 4.1.0" */
function describeMachine(m) {
  return `${m.cores} × ${m.cpu} (\`nproc\` ${m.cores}), Linux ${m.kernel}, Node ${m.node}${m.wrk ? `, ${m.wrk}` : ''}`;
}

/** 20250101-193000 (local time), for bench/results/<name>-<stamp>.* */
function timestamp(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function resultPath(name, stamp, ext) {
  mkdirSync(RESULTS, { recursive: true });
  return join(RESULTS, `${name}-${stamp}.${ext}`);
}

/**
 * Replaces what stands between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
 * in `file` (BENCHMARKS.md); false when the markers are missing.
 */
function replaceBlock(file, name, content) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return false;
  writeFileSync(file, `${text.slice(0, i + begin.length)}\n${content.trim()}\n${text.slice(j)}`);
  return true;
}

module.exports = { ROOT, RESULTS, machine, describeMachine, timestamp, resultPath, replaceBlock };
