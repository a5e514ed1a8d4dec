'use strict';
// Every process a benchmark starts is killed when the benchmark exits,
// whatever happens (an error, Ctrl-C): add its pid to the set this returns.

/** A Set of pids; each still in it at exit gets SIGKILL. */
function killAtExit() {
  const pids = new Set();
  process.on('exit', () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  });
  return pids;
}

module.exports = { killAtExit };
