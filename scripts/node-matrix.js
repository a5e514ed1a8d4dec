#!/usr/bin/env node
// npm run test:node-matrix [-- [20] [22] [24] [--refresh] [vitest arguments]]
//
// The test suite under other Node majors, against the addon this Node (the
// project's own, 20) built: the proof that one N-API prebuild serves every
// supported Node. The other Nodes are the plain binaries the npm registry
// publishes as node-<platform>-<arch>@<major>, installed once under
// .cache/node-matrix/ (gitignored; --refresh fetches the newest again). This
// Node's own major, if listed, runs with this Node: a baseline.
//
// Each run: <node>/bin/node node_modules/vitest/vitest.mjs run, with that
// node's directory first on PATH (so `node` in child processes and npm scripts
// is the same binary as process.execPath) and PREBUILDS_ONLY=1 (so
// node-gyp-build loads prebuilds/, never build/). A run still going after
// NODE_MATRIX_TIMEOUT minutes (default 20) is killed with its workers: a test
// blocked in a system call never reaches vitest's own timeouts.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } = require('node:fs');
const { delimiter, dirname, join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const CACHE = join(ROOT, '.cache', 'node-matrix');
const DEFAULT_MAJORS = ['22', '24'];
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

function run(command, args, options = {}) {
  console.log(`\n$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function npm(args) {
  // The npm that runs this script, else the one on PATH.
  const cli = process.env.npm_execpath;
  const status = cli ? run(process.execPath, [cli, ...args]) : run('npm', args);
  if (status !== 0) throw new Error(`npm ${args.join(' ')} exited with ${status}`);
}

/** The node binary of `major`, installed from the npm registry on first use. */
function nodeBinary(major, refresh) {
  if (major === process.versions.node.split('.')[0]) return process.execPath;
  const prefix = join(CACHE, `node-${major}`);
  const bin = join(prefix, 'node_modules', NODE_PACKAGE, 'bin', 'node');
  if (refresh) rmSync(prefix, { recursive: true, force: true });
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    npm(['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${NODE_PACKAGE}@${major}`]);
  }
  return bin;
}

function versions(bin) {
  const out = spawnSync(bin, ['-p', 'JSON.stringify([process.version, process.versions.napi, process.versions.modules])'], { encoding: 'utf8' });
  const [version, napi, abi] = JSON.parse(out.stdout);
  return { version, napi, abi };
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
}

/** One line per failure: the test (or the file, when it failed to load) and the first line of why. */
function failures(report) {
  const lines = [];
  for (const file of report.testResults ?? []) {
    const name = relative(ROOT, file.name);
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const test of failed) {
      const why = (test.failureMessages?.[0] ?? '').split('\n')[0];
      lines.push(`${name} > ${test.fullName}: ${why}`);
    }
    if (failed.length === 0 && file.status === 'failed') lines.push(`${name}: ${(file.message ?? '').split('\n')[0]}`);
  }
  return lines;
}

/** vitest under `bin`, in a process group of its own so that a timeout kills its workers too. */
function vitest(bin, args, env, minutes) {
  console.log(`\n$ ${[bin, ...args].join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(bin, args, { cwd: ROOT, env, stdio: 'inherit', detached: true });
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      console.error(`\nnode-matrix: still running after ${minutes} min: killing the run`);
      killGroup();
    }, minutes * 60_000);
    // Detached, the group gets no ^C from the terminal: pass it on.
    const interrupt = (signal) => {
      killGroup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('SIGINT', interrupt);
      process.removeListener('SIGTERM', interrupt);
      done(signal === null ? code : `killed (${signal})`);
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  const refresh = args.includes('--refresh');
  const majors = args.filter((a) => /^\d+$/.test(a));
  if (majors.length === 0) majors.push(...DEFAULT_MAJORS);
  const passThrough = args.filter((a) => a !== '--refresh' && !/^\d+$/.test(a));
  const minutes = Number(process.env.NODE_MATRIX_TIMEOUT ?? 20);

  const builder = versions(process.execPath);
  // The one build every Node below loads: compiled by this Node, written where a
  // release puts it (node-gyp rebuilds build/ on the way, as build:native does).
  npm(['run', 'build:ts']);
  npm(['run', 'prebuild']);
  const checked = spawnSync(process.execPath, [join(__dirname, 'check-prebuilds.js'), '--current'], { cwd: ROOT, encoding: 'utf8' });
  if (checked.status !== 0) throw new Error(`no usable prebuild for this machine:\n${checked.stderr}`);
  const addon = join(ROOT, checked.stdout.match(/loads (\S+)/)[1]);
  const digest = sha256(addon);
  // prebuildify leaves build/Release without the addon; put the same binary
  // back so that the working tree still loads build/ as after build:native.
  mkdirSync(join(ROOT, 'build', 'Release'), { recursive: true });
  copyFileSync(addon, join(ROOT, 'build', 'Release', 'handover.node'));

  const results = [];
  for (const major of majors) {
    const bin = nodeBinary(major, refresh);
    const node = versions(bin);
    const outputFile = join(CACHE, `results-node-${major}.json`);
    rmSync(outputFile, { force: true });
    const env = {
      ...process.env,
      PATH: `${dirname(bin)}${delimiter}${process.env.PATH}`,
      PREBUILDS_ONLY: '1',
    };
    const vitestArgs = ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${outputFile}`, ...passThrough];
    const status = await vitest(bin, vitestArgs, env, minutes);
    const report = existsSync(outputFile) ? JSON.parse(readFileSync(outputFile, 'utf8')) : {};
    results.push({ major, node: { ...node, bin }, status, report });
  }

  const unchanged = sha256(addon) === digest;
  console.log('\nnode-matrix summary');
  console.log(`  addon: ${relative(ROOT, addon)} (sha256 ${digest}…), built by Node ${builder.version} (N-API ${builder.napi}, ABI ${builder.abi})${unchanged ? '' : ' — CHANGED during the run'}`);
  let ok = unchanged;
  for (const { node, status, report } of results) {
    const total = report.numTotalTests ?? 0;
    const line = `${report.numPassedTests ?? 0} passed, ${report.numFailedTests ?? 0} failed, ${report.numPendingTests ?? 0} skipped of ${total}`;
    const outcome = status === 0 ? 'ok' : typeof status === 'string' ? `FAILED, ${status}` : 'FAILED';
    console.log(`  Node ${node.version} (N-API ${node.napi}, ABI ${node.abi})${node.bin === process.execPath ? ' [this Node]' : ''}: ${outcome} — ${line}`);
    for (const failure of failures(report)) console.log(`    ✗ ${failure}`);
    if (status !== 0) ok = false;
  }
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
