#!/usr/bin/env node
// npm "prepack" hook: empty dist/ so that the "prepare" build that follows
// leaves only what lib/ compiles to today. tsc never deletes an output whose
// source was renamed or removed, and such a file would ship in the tarball.
'use strict';
const { rmSync } = require('node:fs');
const { join } = require('node:path');

rmSync(join(__dirname, '..', 'dist'), { recursive: true, force: true });
