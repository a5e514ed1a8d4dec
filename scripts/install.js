#!/usr/bin/env node
// npm "install" hook. On Windows there is nothing to build: the package loads
// and every call answers ERR_NOT_SUPPORTED, so no compiler is needed. Elsewhere,
// node-gyp-build uses a matching prebuild or compiles the addon.
'use strict';
if (process.platform === 'win32') process.exit(0);
require('node-gyp-build/bin.js');
