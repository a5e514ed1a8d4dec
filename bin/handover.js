#!/usr/bin/env node
'use strict';
// The `handover` command (see `handover --help`); the code is lib/cli/
// (dist/cli.js, its bundle: scripts/bundle.js).
const { main } = require('../dist/cli');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`handover: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
