'use strict';
// `npm run bench:memory`: heap per idle keep-alive connection, plain
// http.Server against one with a ServerDrainer (what GracefulServer adds).
//
// Each round starts a fresh server process, opens --connections keep-alive
// connections with one request each (the server answers once all have
// arrived, so every connection is open and idle at the end), collects
// garbage, and divides the growth of the heap by the open connections. The
// two kinds alternate; the table shows the median over --rounds rounds.
// Options: --connections N (default 3000), --rounds N (default 3), --json.
const { fork } = require('node:child_process');
const http = require('node:http');
const { join } = require('node:path');
const { eachOption, intOption, usageError } = require('./lib/args');
const { median } = require('./lib/median');

const usage = usageError('node bench/memory.js [--connections 3000] [--rounds 3] [--json]');
const options = { connections: 3000, rounds: 3, json: false };
eachOption(process.argv.slice(2), usage, (name, value) => {
  if (name === '--connections') options.connections = intOption(usage, name, value(), 1);
  else if (name === '--rounds') options.rounds = intOption(usage, name, value(), 1);
  else if (name === '--json') options.json = true;
  else if (name === '--help' || name === '-h') usage('Heap per idle keep-alive connection: plain http.Server against one with a ServerDrainer.');
  else return false;
});

const KINDS = [
  { label: 'plain http.Server', arg: 'plain' },
  { label: 'http.Server + ServerDrainer (GracefulServer)', arg: 'drainer' },
];

/** Bytes of heap per open idle connection in a fresh server of `kind`. */
async function measure(kind) {
  const child = fork(join(__dirname, 'servers', 'idle-memory.js'), [kind.arg], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, EXPECT: String(options.connections) },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const { port } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    });
    const sample = () =>
      new Promise((resolve) => {
        child.once('message', resolve);
        child.send('sample');
      });
    const before = await sample();
    const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
    await Promise.all(
      Array.from(
        { length: options.connections },
        () =>
          new Promise((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port, agent }, (res) => {
                res.resume();
                res.on('end', resolve);
              })
              .on('error', reject);
          }),
      ),
    );
    const after = await sample();
    agent.destroy();
    if (after.connections !== options.connections) throw new Error(`${after.connections} connections open, expected ${options.connections}`);
    return (after.heapUsed - before.heapUsed) / after.connections;
  } finally {
    child.kill();
    await exited;
  }
}

async function main() {
  const perKind = KINDS.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < KINDS.length; i++) perKind[i].push(await measure(KINDS[i]));
  }
  const rows = KINDS.map((kind, i) => ({ server: kind.label, bytesPerConnection: Math.round(median(perKind[i])), rounds: perKind[i].map(Math.round) }));
  if (options.json) {
    process.stdout.write(JSON.stringify({ node: process.version, connections: options.connections, rows }, null, 2) + '\n');
    return;
  }
  console.log(`${options.connections} idle keep-alive connections, heap growth per connection after GC; median of ${options.rounds} rounds; node ${process.version}`);
  console.log('| server | bytes per connection | rounds |');
  console.log('|---|---:|---|');
  for (const row of rows) console.log(`| ${row.server} | ${row.bytesPerConnection} | ${row.rounds.join(', ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
