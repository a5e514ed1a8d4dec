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
// This object has no __esModule and has a `default`.
//
// Each export is copied as it is defined, getter and all: the supervisor's
// exports load lib/supervisor on first use (lib/index.ts), and a copy of
// their values would load it at every require. Node finds the named exports
// for `import { … }` with cjs-module-lexer, which follows a call of this
// name (TypeScript's own helper for `export *`) into dist/index.js.
function __exportStar(from, to) {
  for (const name of Object.keys(from)) Object.defineProperty(to, name, Object.getOwnPropertyDescriptor(from, name));
}
__exportStar(require('./dist/index.js'), exports);
module.exports.default = module.exports;
