'use strict';
// The package's entry point (package.json "exports"): the compiled dist/index.js
// plus a `default` that is the module itself, so that all three forms work and
// match the types, in CommonJS and in ES modules:
//
//   const handover = require('handover');
//   import { GracefulServer } from 'handover';
//   import handover from 'handover';
//
// tsc's CommonJS marks dist/index.js with __esModule, and TypeScript's own
// CommonJS output of `import handover from 'handover'` then reads `.default`,
// which dist/index.js does not have: the types allow it, the program crashed.
// This object has no __esModule and has a `default`. Node finds the named
// exports for `import { … }` with cjs-module-lexer, through the spread below.
// Every export is a constant binding, so copying them once loses nothing.
module.exports = { ...require('./dist/index.js') };
module.exports.default = module.exports;
