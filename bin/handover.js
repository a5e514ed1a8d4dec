#!/usr/bin/env node
'use strict';
// The `handover` command (see `handover --help`); the code is lib/cli/
// (dist/cli.js, its bundle: scripts/bundle.js).
const { main } = require('../dist/cli');

// How to run this very command again, for `handover upgrade-self`: the path
// as given (not resolved), so that a new install at that path is what runs.
const reexec = { file: process.execPath, args: [...process.execArgv, process.argv[1], ...process.argv.slice(2)] };

main(process.argv.slice(2), { reexec }).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`handover: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
