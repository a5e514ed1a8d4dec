'use strict';
// What the reference rows need, installed on demand: Go and the two Go
// libraries from Debian's packages (apt-get), the two Go programs built into
// bench/.cache/, pm2 from the npm registry into bench/compare/node_modules.
// Each returns null when ready, or the reason its row is skipped.
const { spawnSync } = require('node:child_process');
const { existsSync, statSync, mkdirSync, openSync, closeSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const CACHE = join(ROOT, 'bench', '.cache');
const GOPATH = '/usr/share/gocode';

const GO_PACKAGES = {
  tableflip: ['golang-go', 'golang-github-cloudflare-tableflip-dev'],
  grace: ['golang-go', 'golang-github-facebookgo-grace-dev'],
};
const GO_SOURCES = {
  tableflip: join(GOPATH, 'src', 'github.com', 'cloudflare', 'tableflip'),
  grace: join(GOPATH, 'src', 'github.com', 'facebookgo', 'grace', 'gracehttp'),
};

function logFile(name) {
  mkdirSync(join(CACHE, 'logs'), { recursive: true });
  return join(CACHE, 'logs', name);
}

function run(command, args, { log, env, timeout = 600_000 } = {}) {
  const fd = log ? openSync(log, 'a') : 'ignore';
  try {
    const r = spawnSync(command, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, timeout });
    if (r.error) return r.error.message;
    if (r.status !== 0) return `${command} ${args.join(' ')} exited with ${r.status ?? r.signal}`;
    return null;
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

let aptUpdated = false;
const aptFailures = new Map();

/** apt-get install for whichever of `packages` is missing (apt-get update once). */
function aptInstall(packages, say) {
  const missing = packages.filter((p) => !installed(p));
  if (missing.length === 0) return null;
  const key = missing.join(' ');
  if (aptFailures.has(key)) return aptFailures.get(key);
  const fail = (why) => {
    const message = `${why}; install them with: apt-get install ${key}`;
    aptFailures.set(key, message);
    return message;
  };
  if (spawnSync('apt-get', ['--version']).error) return fail(`${key} not installed and apt-get is not available`);
  if (process.getuid?.() !== 0) return fail(`${key} not installed and not running as root`);
  const log = logFile('apt.log');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    say(`apt-get update (log: ${log})`);
    const err = run('apt-get', ['update'], { log, env });
    if (err) return fail(`apt-get update failed (${err})`);
    aptUpdated = true;
  }
  say(`apt-get install ${key}`);
  const err = run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { log, env });
  if (err) return fail(`apt-get install failed (${err}, see ${log})`);
  return null;
}

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
};

/** Installs what bench/compare/go/NAME needs and builds it; `{ binary }` or `{ skip }`. */
function prepareGo(name, say) {
  const missing = aptInstall(GO_PACKAGES[name], say);
  if (missing) return { skip: missing };
  if (!existsSync(GO_SOURCES[name])) return { skip: `${GO_SOURCES[name]} is missing although its package is installed` };
  const dir = join(__dirname, 'go', name);
  const binary = join(CACHE, 'go', `${name}-hello`);
  if (mtime(binary) > mtime(join(dir, 'main.go'))) return { binary };
  mkdirSync(join(CACHE, 'go'), { recursive: true });
  say(`go build ${name} → ${binary}`);
  const log = logFile(`go-build-${name}.log`);
  const err = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(CACHE, 'go-build'), GOFLAGS: '' },
  });
  if (err.error || err.status !== 0) return { skip: `go build failed: ${err.error?.message ?? err.stderr.trim()}` };
  return { binary };
}

/** pm2 from bench/compare/package.json, installed there; `{ bin, version }` or `{ skip }`. */
function preparePm2(say) {
  const dir = __dirname;
  const bin = join(dir, 'node_modules', 'pm2', 'bin', 'pm2');
  if (!existsSync(bin)) {
    say('npm install --prefix bench/compare (pm2)');
    const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
    const err = run(npm[0], [...npm[1], 'install', '--prefix', dir, '--no-audit', '--no-fund'], { log: logFile('npm-install-pm2.log') });
    if (err || !existsSync(bin)) return { skip: `cannot install pm2 (${err ?? 'bin/pm2 missing'}; see ${logFile('npm-install-pm2.log')})` };
  }
  const version = require(join(dir, 'node_modules', 'pm2', 'package.json')).version;
  return { bin, version };
}

/** wrk itself (Debian's package `wrk`); null when it runs, else why not. */
function prepareWrk(say) {
  if (!spawnSync('wrk', ['-v']).error) return null;
  return aptInstall(['wrk'], say) ?? (spawnSync('wrk', ['-v']).error ? 'wrk is installed but does not run' : null);
}

function goVersion() {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().replace(/^go version /, '') : null;
}

module.exports = { CACHE, logFile, prepareGo, preparePm2, prepareWrk, goVersion };
