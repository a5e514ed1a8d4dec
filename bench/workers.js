'use strict';
// `npm run bench:workers`: how evenly connections reach N workers, by the
// way they accept. Each trial starts N workers of bench/servers/supervised.js,
// opens CONNECTIONS keep-alive connections at once with wrk (-c64) for a few
// seconds, stops them, and reads what each worker served; the figure is
// max/min of the connections per worker (and of the requests). Ways:
//
//   shared            `handover run --workers N`: one socket, every worker accepts
//                     on it, libuv accepting one connection at a time
//                     (UV_TCP_SINGLE_ACCEPT=1, what handover sets)
//   shared-greedy     the same with UV_TCP_SINGLE_ACCEPT=0: libuv accepts all it can
//   reuseport         one SO_REUSEPORT socket per worker, bound here; Linux spreads
//                     new connections over them by a hash of their addresses
//
// node bench/workers.js [--trials 10] [--workers 2,3] [--connections 64]
//   [--seconds 3] [--ways shared,shared-greedy,reuseport] [--json]
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { eachOption, intOption, usageError } = require('./lib/args');
const { eachJsonLine } = require('./lib/json-lines');
const { runWrk } = require('./lib/wrk');

const ROOT = join(__dirname, '..');
const handover = require(ROOT);
const { native } = require(join(ROOT, 'dist', 'native', 'binding.js'));

const WAYS = ['shared', 'shared-greedy', 'reuseport'];
const usage = usageError(`node bench/workers.js [--trials 10] [--workers 2,3] [--connections 64] [--seconds 3] [--ways ${WAYS.join(',')}] [--json]`);
const o = { trials: 10, workers: [2, 3], connections: 64, seconds: 3, ways: WAYS, json: false };
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--trials') o.trials = intOption(usage, name, value(), 1);
  else if (name === '--workers') o.workers = value().split(',').map((n) => intOption(usage, name, n, 2));
  else if (name === '--connections') o.connections = intOption(usage, name, value(), 2);
  else if (name === '--seconds') o.seconds = intOption(usage, name, value(), 1);
  else if (name === '--ways') {
    o.ways = value().split(',');
    if (o.ways.some((w) => !WAYS.includes(w))) usage(`--ways takes ${WAYS.join(', ')}`);
  } else if (name === '--json') o.json = true;
  else return false;
  return true;
});

const SERVER = join(ROOT, 'bench', 'servers', 'supervised.js');
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Spawns `argv`, collecting its JSON lines; resolves `ready` once `n` processes said they serve. */
function start(command, args, env, n) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  const served = [];
  let port = 0;
  const ready = new Promise((resolve, reject) => {
    const pids = new Set();
    const timer = setTimeout(() => reject(new Error(`${n} workers were not ready within 20 s`)), 20_000);
    eachJsonLine(child.stdout, (e) => {
      if (e.event === 'served') served.push(e);
      if (e.event !== 'ready') return;
      port = e.port;
      pids.add(e.pid);
      if (pids.size === n) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, ready, served, exited, port: () => port };
}

/** N workers on one socket, under the supervisor. */
function supervised(n, greedy) {
  const args = [join(ROOT, 'bin', 'handover.js'), 'run', '--workers', String(n), '--listen', '127.0.0.1:0', '--', process.execPath, SERVER];
  const run = start(process.execPath, args, { UV_TCP_SINGLE_ACCEPT: greedy ? '0' : '1', HANDOVER_WORKERS: String(n) }, n);
  return { ...run, stop: () => run.child.kill('SIGTERM'), exited: run.exited };
}

/** N workers, each on its own SO_REUSEPORT socket of one address; readiness on a notify socket of ours. */
function reuseport(n) {
  let port = 0;
  const fds = [];
  for (let i = 0; i < n; i++) {
    const fd = native('bench').listenSocket({ family: 'IPv4', type: 'stream', address: '127.0.0.1', port, path: '', backlog: 511, ipv6Only: false, reusePort: true });
    port = handover.inspectFd(fd).port;
    fds.push(fd);
  }
  const address = `@handover-bench-workers/${process.pid}/${Date.now()}`;
  const notify = new handover.NotifyListener(address);
  const served = [];
  let readyCount = 0;
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));
  notify.on('message', (m) => {
    if (m.fields.get('READY') === '1' && ++readyCount === n) resolveReady();
  });
  const workers = fds.map((fd, i) => {
    const env = { ...process.env, LISTEN_FDS: '1', LISTEN_FDNAMES: 'web', NOTIFY_SOCKET: address, HANDOVER_WORKER_ID: String(i), HANDOVER_WORKERS: String(n), PORT: String(port) };
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'ignore', fd] });
    children.add(child);
    eachJsonLine(child.stdout, (e) => e.event === 'served' && served.push(e));
    return child;
  });
  // spawn() passes fd 3 blocking-cleared; the app adopts it by address either way.
  const exited = Promise.all(workers.map((child) => new Promise((resolve) => child.once('exit', resolve)))).then(() => {
    notify.close();
    for (const fd of fds) require('node:fs').closeSync(fd);
  });
  const keepAlive = setInterval(() => {}, 1000);
  return { ready, served, port: () => port, stop: () => workers.forEach((child) => child.kill('SIGTERM')), exited: exited.then(() => clearInterval(keepAlive)) };
}

const ratio = (values) => Math.max(...values) / Math.max(1, Math.min(...values));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function trial(way, n) {
  const run = way === 'reuseport' ? reuseport(n) : supervised(n, way === 'shared-greedy');
  await run.ready;
  const wrk = await runWrk({ url: `http://127.0.0.1:${run.port()}/`, seconds: o.seconds, connections: o.connections, threads: 2 });
  run.stop();
  await run.exited;
  const connections = run.served.map((e) => e.connections);
  const requests = run.served.map((e) => e.requests);
  if (run.served.length !== n) throw new Error(`${way}: ${run.served.length} of ${n} workers said what they served`);
  return { connections, requests, rps: wrk.rps, errors: Object.values(wrk.errors).reduce((a, b) => a + b, 0) };
}

async function main() {
  const results = [];
  for (const n of o.workers) {
    for (const way of o.ways) {
      const trials = [];
      for (let t = 0; t < o.trials; t++) {
        // Interleave nothing else: one trial at a time, each from a fresh start.
        trials.push(await trial(way, n));
        process.stderr.write(`bench:workers: ${way}, ${n} workers, trial ${t + 1}: connections ${trials.at(-1).connections.join('/')}\n`);
      }
      const connRatios = trials.map((t) => ratio(t.connections));
      results.push({
        way,
        workers: n,
        trials,
        connectionsRatioMedian: median(connRatios),
        connectionsRatioMax: Math.max(...connRatios),
        within15: connRatios.filter((r) => r <= 1.5).length,
        requestsRatioMedian: median(trials.map((t) => ratio(t.requests))),
        rpsMedian: median(trials.map((t) => t.rps)),
        errors: trials.reduce((a, t) => a + t.errors, 0),
      });
    }
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ options: o, results }, null, 2)}\n`);
    return;
  }
  const lines = [
    `\`node bench/workers.js --trials ${o.trials} --workers ${o.workers.join(',')} --connections ${o.connections} --seconds ${o.seconds}\`: wrk -t2 -c${o.connections} -d${o.seconds}s per trial, ${process.version}, ${require('node:os').cpus().length} CPUs`,
    '',
    '| workers | way | connections max/min, median | worst | trials within 1.5× | requests max/min, median | req/s, median | errors |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.workers} | ${r.way} | ${r.connectionsRatioMedian.toFixed(2)} | ${r.connectionsRatioMax.toFixed(2)} | ${r.within15}/${r.trials.length} | ${r.requestsRatioMedian.toFixed(2)} | ${Math.round(r.rpsMedian)} | ${r.errors} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:workers: ${err.stack ?? err}\n`);
  process.exit(1);
});
