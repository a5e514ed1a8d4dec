#!/usr/bin/env node
// Part of `npm run build:ts`, after tsc: one file per layer of lib/ —
// dist/core.js, dist/native.js, ... dist/cli.js — each the layer's tsc output
// (dist/<layer>/*.js) bundled by rolldown, with a source map that leads back
// to lib/<layer>/*.ts.
//
// Why: an app that starts a GracefulServer loads six layers; as 45 files,
// Node resolves, reads and compiles each on its own, which cost about 7 ms of
// CPU at every start of every generation on the development VM, against one
// file per layer (`npm run bench:startup`). One file per layer, not one for
// all: the supervisor's and the CLI's layers stay out of a server's start
// (lib/index.ts loads the supervisor on first use), and each layer keeps its
// single instance (one HandoverError class, one addon) whoever loads it.
//
// Nothing requires a bundle by name. Node resolves `require('./native')` to
// ./native.js before ./native/index.js, so tsc's dist/index.js, bin/handover.js
// and any file of dist/<layer>/ that imports another layer's index all land on
// that layer's bundle; inside a bundle, an import of another layer is left as
// `require("./<layer>.js")`. Without the bundles (`tsc` alone), the same
// requires find dist/<layer>/index.js: both work, the bundles are faster.
'use strict';
const { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join, relative, resolve, sep } = require('node:path');

const ROOT = resolve(__dirname, '..');
const LIB = join(ROOT, 'lib');
/** tsc's output directory: dist/, or `--dist DIR` (test/package.test.ts stages the package elsewhere). */
const DIST = process.argv[2] === '--dist' && process.argv[3] ? resolve(process.argv[3]) : join(ROOT, 'dist');

/** The layers: the folders of lib/ (test/architecture.test.ts pins them). */
function layers() {
  return readdirSync(LIB).filter((name) => statSync(join(LIB, name)).isDirectory());
}

/**
 * rolldown plugin: another layer's index becomes an external require of its
 * bundle, and each file of dist/ is read with tsc's source map, so that the
 * bundle's map is composed through it back to lib/.
 */
function layerPlugin(layer, names) {
  return {
    name: 'handover-layers',
    resolveId(source, importer) {
      if (importer === undefined || !source.startsWith('.')) return null;
      const target = relative(DIST, resolve(dirname(importer), source)).split(sep);
      if (target.length === 1 && names.includes(target[0]) && target[0] !== layer) {
        return { id: `./${target[0]}.js`, external: true };
      }
      return null;
    },
    load(id) {
      if (!id.startsWith(DIST + sep) || !id.endsWith('.js')) return null;
      const code = readFileSync(id, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
      const mapFile = `${id}.map`;
      if (!existsSync(mapFile)) return { code, map: null };
      // With the TypeScript in the map: the package ships no lib/.
      const map = JSON.parse(readFileSync(mapFile, 'utf8'));
      map.sourcesContent = map.sources.map((source) => readFileSync(resolve(dirname(mapFile), map.sourceRoot || '', source), 'utf8'));
      return { code, map };
    },
  };
}

async function bundleLayer(rolldown, layer, names) {
  const input = join(DIST, layer, 'index.js');
  const build = await rolldown({
    input,
    platform: 'node',
    // Builtins, and node-gyp-build (a dependency, found in node_modules at run time).
    external: [/^node:/, 'node-gyp-build'],
    plugins: [layerPlugin(layer, names)],
    // Every module of lib/ is kept as tsc wrote it (no module is side-effect free
    // in rolldown's sense: a layer index is its public surface).
    treeshake: false,
    logLevel: 'warn',
  });
  try {
    await build.write({ file: join(DIST, `${layer}.js`), format: 'cjs', sourcemap: true, sourcemapExcludeSources: false });
  } finally {
    await build.close();
  }
  // TypeScript resolves `./native` like Node, to native.js first: without this
  // file a consumer with allowJs would type-check the bundle instead of the
  // declarations in native/.
  writeFileSync(join(DIST, `${layer}.d.ts`), `export * from './${layer}/index';\n`);
}

async function main() {
  const { rolldown } = require('rolldown');
  const names = layers();
  for (const name of names) {
    if (!existsSync(join(DIST, name, 'index.js'))) throw new Error(`dist/${name}/index.js is missing: run tsc -p tsconfig.build.json first`);
    for (const ext of ['.js', '.js.map', '.d.ts']) rmSync(join(DIST, name + ext), { force: true });
  }
  for (const name of names) await bundleLayer(rolldown, name, names);
}

main().catch((err) => {
  process.stderr.write(`bundle: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
