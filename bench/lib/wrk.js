'use strict';
// Runs wrk (Debian package `wrk`) and parses what it prints.
const { spawn } = require('node:child_process');

function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const ms = (value, unit) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 }[unit] ?? 1);
  const p = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([0-9.]+)(us|ms|s|m)`, 'm').exec(text);
    return m ? ms(m[1], m[2]) : null;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([0-9.]+)/),
    p50: p(50),
    p99: p(99),
    errors: {
      connect: sock ? Number(sock[1]) : 0,
      read: sock ? Number(sock[2]) : 0,
      write: sock ? Number(sock[3]) : 0,
      timeout: sock ? Number(sock[4]) : 0,
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    },
  };
}

/**
 * Runs wrk against `url` for `seconds`; resolves with the parsed result and
 * raw text. `cpu`: run it on that CPU only (`taskset -c`).
 */
function runWrk({ url, seconds, connections = 32, threads = 2, keepAlive = true, cpu }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s'];
  if (!keepAlive) args.push('-H', 'Connection: close');
  args.push(url);
  const [command, argv] = cpu === undefined ? ['wrk', args] : ['taskset', ['-c', String(cpu), 'wrk', ...args]];
  return new Promise((resolve, reject) => {
    const wrk = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    wrk.stdout.on('data', (d) => (out += d));
    wrk.on('error', (err) => reject(new Error(`cannot run wrk (apt-get install wrk): ${err.message}`)));
    wrk.on('exit', (code) => (code === 0 ? resolve({ ...parseWrk(out), raw: out }) : reject(new Error(`wrk exited with ${code}: ${out}`))));
  });
}

module.exports = { runWrk, parseWrk };
