'use strict';
// `npm run bench:restart`: the same hello-world handler, side by side in one
// run, under wrk (32 connections) with keep-alive and without:
//   plain http.Server, no restarts (the baseline)
//   GracefulServer, no restarts
//   GracefulServer, 8 upgrades in 15 s
//   supervisor, 8 reloads in 15 s (`handover run` with SIGHUP to the supervisor)
// Prints errors by kind, requests/s and p99 latency per row.
// Options: --seconds N (default 15), --upgrades N (default 8), --json,
// --verbose (the supervisor's log on stderr)
const { spawn } = require('node:child_process');
const { createInterface } = require('node:readline');
const { join } = require('node:path');
const { runWrk } = require('./lib/wrk');

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const SECONDS = opt('seconds', 15);
const UPGRADES = opt('upgrades', 8);
const JSON_OUT = argv.includes('--json');

const started = new Set();
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

/**
 * Starts a server script (under `handover run` when `supervised`); `ready()`
 * resolves with each generation's ready event in turn.
 */
function startServer(script, supervised = false) {
  const app = join(__dirname, 'servers', script);
  const args = supervised ? [join(__dirname, '..', 'bin', 'handover.js'), 'run', '--listen', '127.0.0.1:0', '--', process.execPath, app] : [app];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', supervised && !argv.includes('--verbose') ? 'ignore' : 'inherit'] });
  if (supervised) started.add(child.pid);
  const events = [];
  let waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const e = JSON.parse(line);
      started.add(e.pid);
      events.push(e);
      waiters = waiters.filter((w) => !w(e));
    } catch {}
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
  // The supervisor reloads and stops on behalf of its generations.
  return { child, readyAfter, signalTarget: supervised ? () => child.pid : null };
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

async function row(label, script, upgrades, keepAlive, supervised = false) {
  const server = startServer(script, supervised);
  const first = await server.readyAfter(0);
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
  await stop(server.signalTarget ? server.signalTarget() : current.pid);
  return { label, keepAlive, upgrades, ...result, readyMs: times.length ? Math.round(times.reduce((a, b) => a + b) / times.length) : null };
}

let t0 = Date.now();
(async () => {
  const rows = [];
  for (const keepAlive of [true, false]) {
    for (const [label, script, upgrades, supervised] of [
      ['plain http.Server, no restarts', 'plain.js', 0],
      ['GracefulServer, no restarts', 'graceful.js', 0],
      [`GracefulServer, ${UPGRADES} upgrades`, 'graceful.js', UPGRADES],
      [`supervisor, ${UPGRADES} reloads`, 'supervised.js', UPGRADES, true],
    ]) {
      t0 = Date.now();
      rows.push(await row(label, script, upgrades, keepAlive, supervised));
    }
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(rows.map(({ raw, ...r }) => r), null, 2));
    return;
  }
  console.log(`wrk -t2 -c32 -d${SECONDS}s, hello world, 127.0.0.1; node ${process.version}`);
  console.log('| pass | server | requests | errors (connect/read/write/timeout/non-2xx) | req/s | vs baseline | p99 ms | upgrade→ready ms |');
  console.log('|---|---|---:|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const base = rows.find((b) => b.keepAlive === r.keepAlive && b.upgrades === 0);
    const e = r.errors;
    console.log(
      `| ${r.keepAlive ? 'keep-alive' : 'Connection: close'} | ${r.label} | ${r.requests} | ${e.connect + e.read + e.write + e.timeout + e.non2xx} (${e.connect}/${e.read}/${e.write}/${e.timeout}/${e.non2xx}) | ${Math.round(r.rps)} | ${((100 * r.rps) / base.rps).toFixed(1)}% | ${r.p99?.toFixed(2)} | ${r.readyMs ?? '-'} |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
