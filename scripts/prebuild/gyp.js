// What binding.gyp asks node-gyp to build on one OS: sources, defines, include
// directories and compiler and linker flags, with its dependencies' direct
// settings (node-addon-api's) merged in as gyp merges them. The cross-builds of
// prebuild-all.js compile from this, so binding.gyp stays the one list.
//
// Only the parts of gyp that binding.gyp uses are understood; anything else is
// an error that names it, never silently dropped, so that a new key in
// binding.gyp cannot build differently here and under node-gyp.
'use strict';
const { execSync, spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { dirname, isAbsolute, join, resolve } = require('node:path');

/** gyp files are Python literals; Python reads them exactly as gyp does. */
function loadGyp(path) {
  const out = spawnSync('python3', ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(open(sys.argv[1]).read())))', path], { encoding: 'utf8' });
  if (out.error) throw new Error(`reading ${path} needs python3 (as node-gyp does): ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${path} is not a gyp file: ${out.stderr.trim()}`);
  return JSON.parse(out.stdout);
}

/** gyp's `<!(command)`: the command's output, run from the gyp file's directory. */
function expand(value, dir) {
  const start = value.indexOf('<!(');
  if (start < 0) return value;
  let depth = 0;
  for (let i = start + 2; i < value.length; i++) {
    if (value[i] === '(') depth++;
    else if (value[i] === ')' && --depth === 0) {
      const output = execSync(value.slice(start + 3, i), { cwd: dir, encoding: 'utf8' }).trim();
      return value.slice(0, start) + output + expand(value.slice(i + 1), dir);
    }
  }
  throw new Error(`unbalanced <!( in ${JSON.stringify(value)}`);
}

/** `OS=="linux"`, `OS!='mac'`: the only conditions binding.gyp and node-addon-api use. */
function holds(condition, os) {
  const match = /^\s*OS\s*(==|!=)\s*(['"])(\w+)\2\s*$/.exec(condition);
  if (!match) throw new Error(`gyp condition ${JSON.stringify(condition)} is not understood by scripts/prebuild/gyp.js`);
  return (match[1] === '==') === (match[3] === os);
}

const LIST_KEYS = new Set(['sources', 'defines', 'include_dirs', 'cflags', 'cflags_cc', 'ldflags', 'libraries', 'dependencies']);
const XCODE_KEYS = new Set([
  'MACOSX_DEPLOYMENT_TARGET',
  'CLANG_CXX_LANGUAGE_STANDARD',
  'CLANG_CXX_LIBRARY',
  'GCC_ENABLE_CPP_EXCEPTIONS',
  'OTHER_CFLAGS',
  'OTHER_CPLUSPLUSFLAGS',
  'OTHER_LDFLAGS',
]);
/** Keys that only matter to other generators (Windows) or to gyp itself. */
const IGNORED_KEYS = new Set(['target_name', 'type', 'msvs_settings']);

/**
 * Merges the gyp dict `from` into the flat settings `into` for `os`, the way
 * gyp does: lists append, `key!` lists remove, conditions and `includes`
 * are resolved in place. `dir` is where relative paths of `from` start.
 */
function merge(into, from, os, dir) {
  for (const [key, value] of Object.entries(from)) {
    if (key === 'conditions') {
      for (const [condition, then, otherwise] of value) {
        const chosen = holds(condition, os) ? then : otherwise;
        if (chosen) merge(into, chosen, os, dir);
      }
    } else if (key === 'includes') {
      for (const file of value) merge(into, loadGyp(resolve(dir, file)), os, dir);
    } else if (key === 'xcode_settings') {
      for (const [name, setting] of Object.entries(value)) {
        if (!XCODE_KEYS.has(name)) throw new Error(`xcode_settings.${name} is not understood by scripts/prebuild/gyp.js`);
        into.xcode[name] = setting;
      }
    } else if (key.endsWith('!') && LIST_KEYS.has(key.slice(0, -1))) {
      into.removed[key.slice(0, -1)].push(...value);
    } else if (LIST_KEYS.has(key)) {
      const values = value.map((v) => expand(v, dir));
      if (key === 'include_dirs') into[key].push(...values.map((v) => (isAbsolute(v) ? v : resolve(dir, v))));
      else if (key === 'sources') into[key].push(...values.map((v) => resolve(dir, v)));
      else into[key].push(...values);
    } else if (key === 'direct_dependent_settings') {
      // Applies to the targets that depend on this one, not to this one.
    } else if (!IGNORED_KEYS.has(key)) {
      throw new Error(`gyp key ${JSON.stringify(key)} is not understood by scripts/prebuild/gyp.js`);
    }
  }
}

function emptySettings() {
  const lists = Object.fromEntries([...LIST_KEYS].map((k) => [k, []]));
  return { ...lists, xcode: {}, removed: Object.fromEntries([...LIST_KEYS].map((k) => [k, []])) };
}

/**
 * The settings of `targetName` in the gyp file at `gypPath` for `os` ('linux'
 * or 'mac', gyp's names), its dependencies' direct_dependent_settings merged in.
 * Sources and include directories come back as absolute paths.
 *
 * @returns {{ sources: string[], defines: string[], include_dirs: string[], cflags: string[],
 *   cflags_cc: string[], ldflags: string[], libraries: string[], xcode: Record<string, unknown> }}
 */
function targetSettings(gypPath, targetName, os) {
  const dir = dirname(resolve(gypPath));
  const gyp = loadGyp(gypPath);
  const target = (gyp.targets ?? []).find((t) => t.target_name === targetName);
  if (!target) throw new Error(`${gypPath} has no target ${targetName}`);
  const own = emptySettings();
  merge(own, target, os, dir);

  // A dependency is "path/to/file.gyp:target"; its direct settings are merged
  // into the dependent target after the target's own, as gyp does.
  const settings = emptySettings();
  merge(settings, { ...target, dependencies: [] }, os, dir);
  for (const dependency of own.dependencies) {
    const [file, name] = dependency.split(':');
    const depPath = isAbsolute(file) ? file : join(dir, file);
    const depGyp = loadGyp(depPath);
    const dep = (depGyp.targets ?? []).find((t) => t.target_name === name);
    if (!dep) throw new Error(`${depPath} has no target ${name}`);
    merge(settings, dep.direct_dependent_settings ?? {}, os, dirname(depPath));
  }

  const out = {};
  for (const key of LIST_KEYS) {
    if (key === 'dependencies') continue;
    const removed = new Set([...settings.removed[key]]);
    out[key] = [...new Set(settings[key])].filter((v) => !removed.has(v));
  }
  // The target's own xcode settings win over a dependency's scalar ones: a
  // dependency's deployment target (node-addon-api says 10.7) does not lower ours.
  out.xcode = { ...settings.xcode, ...own.xcode };
  out.removed = settings.removed;
  return out;
}

module.exports = { targetSettings, loadGyp };
