'use strict';
// One start measured from the inside, for `npm run bench:startup`: the time
// (wall and CPU) from before `require('node:http')` to a constructed server —
// `http.createServer()` alone (PROBE=bare) or wrapped in a GracefulServer
// (PROBE=handover: require('handover'); PROBE=handover-esm: import(), whose
// time includes the ES module loader's own start) — and
// which of handover's files and addons that loaded. One JSON line on stdout.
const start = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const { join, relative } = require('node:path');

// HANDOVER_ROOT: another checkout of handover to load (bench/startup.js --baseline).
const ROOT = process.env.HANDOVER_ROOT || join(__dirname, '..', '..');
const mode = process.env.PROBE;

function report() {
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const { user, system } = process.cpuUsage(cpu0);
  const files = Object.keys(require.cache).filter((k) => k.startsWith(ROOT) && !k.includes('node_modules') && k !== __filename).map((k) => relative(ROOT, k));
  process.stdout.write(`${JSON.stringify({ wallMs, cpuMs: (user + system) / 1000, bootMs: performance.now() - wallMs, files })}\n`);
}

const http = require('node:http');
const server = http.createServer((req, res) => res.end('hello world'));
if (mode === 'bare') {
  report();
} else if (mode === 'handover') {
  const { GracefulServer } = require(ROOT);
  new GracefulServer(server, { upgradeSignals: false, shutdownSignals: false });
  report();
} else if (mode === 'handover-esm') {
  import(require('node:url').pathToFileURL(join(ROOT, 'index.js')).href).then(({ GracefulServer }) => {
    new GracefulServer(server, { upgradeSignals: false, shutdownSignals: false });
    report();
  });
} else {
  throw new Error(`PROBE=${mode}?`);
}
