'use strict';
// The rows of `npm run bench:compare`: one hello-world handler (bench/servers/
// hello.js, mirrored by the Go programs), eight ways to serve and restart it.
// A row prepares once (may return a reason to skip), then for each pass starts
// a server on a given port and returns { restart(), stop() }. restart()
// resolves with { signalAt, readyAt } (epoch ms): the signal (or command), and
// the moment the new process serves.
const { execFile, execFileSync } = require('node:child_process');
const { readFileSync, writeFileSync, mkdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { startServer, stopServer, signalTracked, track, ours, onCleanup } = require('./processes');
const { CACHE, prepareGo, preparePm2 } = require('./setup');

const ROOT = join(__dirname, '..', '..');
const SERVERS = join(ROOT, 'bench', 'servers');
const NODE = process.execPath;
const FIRST_READY_MS = 30_000;
const RESTART_READY_MS = 15_000;

/** The first ready line; a server that never gets there is stopped before the error goes up. */
async function firstReady(server) {
  try {
    return await server.nextReady(new Set(), FIRST_READY_MS);
  } catch (err) {
    await stopServer(server, [server.pid], { graceMs: 1000 });
    throw err;
  }
}

/** A server that replaces itself on `sig` (its new process prints a ready line). */
async function selfReplacing(command, args, sig, { port, logFile }, env = {}) {
  const server = startServer(command, args, { env: { PORT: String(port), ...env }, logFile });
  const known = new Set();
  let current = (await firstReady(server)).pid;
  known.add(current);
  return {
    async restart() {
      const signalAt = Date.now();
      if (!signalTracked(current, sig)) throw new Error(`pid ${current} is gone`);
      const e = await server.nextReady(known, RESTART_READY_MS);
      known.add(e.pid);
      current = e.pid;
      return { signalAt, readyAt: e.at, pid: e.pid };
    },
    stop: () => stopServer(server, [current]),
  };
}

/** A server started once, never restarted. */
async function once(command, args, { port, logFile }) {
  const server = startServer(command, args, { env: { PORT: String(port) }, logFile });
  await firstReady(server);
  return { stop: () => stopServer(server, [server.pid]) };
}

let pm2 = null;
const PM2_APP = 'bench-hello';

function pm2Env() {
  return { ...process.env, PM2_HOME: join(CACHE, 'pm2-home') };
}

function pm2Sync(args, timeout = 30_000) {
  return execFileSync(NODE, [pm2.bin, ...args], { env: pm2Env(), timeout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function pm2Async(args, timeout = 60_000) {
  return new Promise((resolve, reject) => {
    execFile(NODE, [pm2.bin, ...args], { env: pm2Env(), timeout, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`pm2 ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

const pm2Pids = new Set();

/** The pm2 daemon's pid and its workers' pids, remembered for the clean-up. */
function trackPm2() {
  const add = (pid) => {
    if (pid > 0) {
      track(pid);
      pm2Pids.add(pid);
    }
  };
  try {
    add(Number(readFileSync(join(CACHE, 'pm2-home', 'pm2.pid'), 'utf8')));
  } catch {}
  try {
    const out = pm2Sync(['jlist']);
    for (const p of JSON.parse(out.slice(out.indexOf('[')))) add(p.pid);
  } catch {}
}

/** `pm2 kill` (stops the workers and the daemon), then SIGKILL to whatever of them is left. */
function pm2Kill() {
  trackPm2();
  try {
    pm2Sync(['kill']);
  } catch {}
  for (const pid of pm2Pids) if (ours(pid)) signalTracked(pid, 'SIGKILL');
  pm2Pids.clear();
}

async function untilServing(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`nothing serves on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pm2Start({ port, logFile, options }, instances = options.pm2Instances) {
  const home = join(CACHE, 'pm2-home');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  const ecosystem = join(CACHE, 'pm2-ecosystem.json');
  writeFileSync(
    ecosystem,
    JSON.stringify({
      apps: [
        {
          name: PM2_APP,
          script: join(__dirname, 'servers', 'pm2-app.js'),
          exec_mode: 'cluster',
          instances,
          env: { PORT: String(port), ...(instances > 1 ? { COUNT_SERVED: '1' } : {}) },
          out_file: instances > 1 ? servedFile : '/dev/null',
          error_file: logFile,
        },
      ],
    }),
  );
  rmSync(servedFile, { force: true });
  const removeCleanup = onCleanup(pm2Kill);
  try {
    await pm2Async(['start', ecosystem]);
    trackPm2();
    await untilServing(port, FIRST_READY_MS);
  } catch (err) {
    pm2Kill();
    removeCleanup();
    throw err;
  }
  return {
    async restart() {
      const signalAt = Date.now();
      await pm2Async(['reload', PM2_APP]);
      return { signalAt, readyAt: Date.now() };
    },
    async stop() {
      pm2Kill();
      removeCleanup();
    },
    served: () => readServed(servedFile),
  };
}

// pm2 writes its workers' stdout to out_file: their "served" lines.
const servedFile = join(CACHE, 'pm2-served.jsonl');
function readServed(file) {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((e) => e.event === 'served');
  } catch {
    return [];
  }
}

/** Resolves once `n` processes not in `known` have said they are ready; adds them to `known`. */
async function nextReadies(server, known, n, timeoutMs) {
  const found = [];
  while (found.length < n) {
    const e = await server.nextReady(known, timeoutMs);
    known.add(e.pid);
    found.push(e);
  }
  return found;
}

/** Stop (SIGTERM, plain.js exits at once), wait for the exit, start again on the same port. */
async function naive({ port, logFile }) {
  const start = () => startServer(NODE, [join(SERVERS, 'plain.js')], { env: { PORT: String(port) }, logFile });
  let server = start();
  await firstReady(server);
  return {
    async restart() {
      const signalAt = Date.now();
      signalTracked(server.pid, 'SIGTERM');
      const exited = await server.waitExit(10_000);
      await stopServer(server, [], { graceMs: exited ? 0 : 1 });
      server = start();
      const e = await server.nextReady(new Set(), RESTART_READY_MS);
      return { signalAt, readyAt: e.at, pid: e.pid };
    },
    stop: () => stopServer(server, [server.pid]),
  };
}

/** @type {Array<{ id: string, label: string, restarts: boolean, how: string, prepare?: (say: (m: string) => void, options: object) => string | null, start: (ctx: object) => Promise<object> }>} */
const ROWS = [
  {
    id: 'baseline',
    label: 'plain Node, never restarted',
    how: '`node bench/servers/plain.js`, no restarts (the baseline)',
    restarts: false,
    start: (ctx) => once(NODE, [join(SERVERS, 'plain.js')], ctx),
  },
  {
    id: 'graceful',
    label: 'handover GracefulServer',
    how: '`node bench/servers/graceful.js` (`listenAndServe`), SIGHUP to the serving process; ready = its new generation\'s ready line',
    restarts: true,
    start: (ctx) => selfReplacing(NODE, [join(SERVERS, 'graceful.js')], 'SIGHUP', ctx),
  },
  {
    id: 'graceful-ramp',
    label: 'handover GracefulServer, drainRamp 1500',
    how: 'the same with `drainRamp: 1500` (DRAIN_RAMP=1500): for 1.5 s after each upgrade both generations serve',
    restarts: true,
    start: (ctx) => selfReplacing(NODE, [join(SERVERS, 'graceful.js')], 'SIGHUP', ctx, { DRAIN_RAMP: '1500' }),
  },
  {
    id: 'supervisor',
    label: 'handover run (supervisor)',
    how: '`handover run --listen 127.0.0.1:PORT -- node bench/servers/supervised.js`, SIGHUP to the supervisor; ready = the new generation\'s ready line',
    restarts: true,
    async start(ctx) {
      const args = [join(ROOT, 'bin', 'handover.js'), 'run', '--listen', `127.0.0.1:${ctx.port}`, '--', NODE, join(SERVERS, 'supervised.js')];
      const server = startServer(NODE, args, { env: { PORT: String(ctx.port) }, logFile: ctx.logFile });
      const known = new Set([(await firstReady(server)).pid]);
      return {
        async restart() {
          const signalAt = Date.now();
          if (!signalTracked(server.pid, 'SIGHUP')) throw new Error('the supervisor is gone');
          const e = await server.nextReady(known, RESTART_READY_MS);
          known.add(e.pid);
          return { signalAt, readyAt: e.at, pid: e.pid };
        },
        stop: () => stopServer(server, [server.pid], { graceMs: 10_000 }),
      };
    },
  },
  {
    id: 'cluster',
    label: 'node:cluster, 2 workers, never restarted',
    how: '`node bench/compare/servers/cluster-app.js` with NODE_CLUSTER_SCHED_POLICY=none (each worker accepts on the shared socket), no restarts: the multi-core reference',
    restarts: false,
    async start(ctx) {
      const server = startServer(NODE, [join(__dirname, 'servers', 'cluster-app.js')], { env: { PORT: String(ctx.port), NODE_CLUSTER_SCHED_POLICY: 'none', CLUSTER_WORKERS: '2' }, logFile: ctx.logFile });
      await firstReady(server);
      return { stop: () => stopServer(server, [server.pid]), served: () => server.served };
    },
  },
  {
    id: 'workers',
    label: 'handover run --workers 2',
    how: '`handover run --workers 2 --listen 127.0.0.1:PORT -- node bench/servers/supervised.js`, SIGHUP to the supervisor: a rolling reload, one worker at a time; ready = both new workers\' ready lines',
    restarts: true,
    async start(ctx) {
      const args = [join(ROOT, 'bin', 'handover.js'), 'run', '--workers', '2', '--listen', `127.0.0.1:${ctx.port}`, '--', NODE, join(SERVERS, 'supervised.js')];
      const server = startServer(NODE, args, { env: { PORT: String(ctx.port) }, logFile: ctx.logFile });
      const known = new Set();
      await nextReadies(server, known, 2, FIRST_READY_MS);
      return {
        async restart() {
          const signalAt = Date.now();
          if (!signalTracked(server.pid, 'SIGHUP')) throw new Error('the supervisor is gone');
          const ready = await nextReadies(server, known, 2, RESTART_READY_MS);
          return { signalAt, readyAt: ready[1].at, pid: ready[1].pid };
        },
        stop: () => stopServer(server, [server.pid], { graceMs: 10_000 }),
        served: () => server.served,
      };
    },
  },
  {
    id: 'pm2-cluster',
    label: 'pm2 cluster mode, 2 instances, pm2 reload',
    how: 'the pm2 row with `instances: 2`: pm2\'s master accepts and hands each connection to a worker; `pm2 reload` replaces the workers one by one; ready = when `pm2 reload` returns',
    restarts: true,
    prepare(say) {
      const r = preparePm2(say);
      if (r.skip) return r.skip;
      pm2 = r;
      this.version = r.version;
      return null;
    },
    start: (ctx) => pm2Start(ctx, 2),
  },
  {
    id: 'tableflip',
    label: 'cloudflare/tableflip (Go)',
    how: 'bench/compare/go/tableflip: `Upgrader.Listen`, `Ready`, `Upgrade` on SIGHUP, `<-Exit()` then `http.Server.Shutdown`; ready = the new process\'s line after `Ready()`',
    restarts: true,
    prepare(say) {
      const r = prepareGo('tableflip', say);
      this.binary = r.binary;
      return r.skip ?? null;
    },
    start(ctx) {
      return selfReplacing(this.binary, [], 'SIGHUP', ctx);
    },
  },
  {
    id: 'grace',
    label: 'facebookgo/grace (Go)',
    how: 'bench/compare/go/grace: `gracehttp.Serve`, SIGUSR2 to the serving process; ready = the new process\'s line when `http.Server.Serve` starts',
    restarts: true,
    prepare(say) {
      const r = prepareGo('grace', say);
      this.binary = r.binary;
      return r.skip ?? null;
    },
    start(ctx) {
      return selfReplacing(this.binary, [], 'SIGUSR2', ctx);
    },
  },
  {
    id: 'pm2',
    label: 'pm2 cluster mode, pm2 reload',
    how: '`pm2 start` (cluster mode) of bench/compare/servers/pm2-app.js (closes its server on SIGINT, as pm2 documents), `pm2 reload`; ready = when `pm2 reload` returns',
    restarts: true,
    prepare(say) {
      const r = preparePm2(say);
      if (r.skip) return r.skip;
      pm2 = r;
      this.version = r.version;
      return null;
    },
    start: (ctx) => pm2Start(ctx),
  },
  {
    id: 'naive',
    label: 'plain Node, stop + start',
    how: '`node bench/servers/plain.js`: SIGTERM (it exits at once), wait for the exit, start it again on the same port; ready = the new process\'s ready line',
    restarts: true,
    start: (ctx) => naive(ctx),
  },
];

module.exports = { ROWS };
