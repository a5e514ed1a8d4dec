'use strict';
// Every process the comparison starts, and the guarantee that none outlives
// it — on success, on an error, on Ctrl-C. Servers are started in their own
// process group (the self-replacing ones keep it across generations); every
// pid they announce on a ready line is remembered with its start time, so
// that a pid recycled by another process on this shared machine is never
// signalled.
const { spawn } = require('node:child_process');
const { readFileSync, openSync, closeSync } = require('node:fs');
const net = require('node:net');
const { eachJsonLine } = require('../lib/json-lines');

/** pid → start time (field 22 of /proc/pid/stat); 'gone' when it had already exited. */
const tracked = new Map();
/** Process groups led by a child we spawned detached. */
const groups = new Set();
const cleanups = [];

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); pgrp is field 5, starttime field 22.
    return { state: fields[0], pgrp: Number(fields[2]), start: fields[19] };
  } catch {
    return null;
  }
}

function track(pid) {
  if (!pid || tracked.has(pid)) return;
  tracked.set(pid, stat(pid)?.start ?? 'gone');
}

/** The tracked process is still the one we started (and not a zombie). */
function ours(pid) {
  const s = stat(pid);
  if (!s || s.state === 'Z') return false;
  return s.start === tracked.get(pid);
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Sends `sig` to a tracked pid unless it has gone (or its pid was recycled). */
function signalTracked(pid, sig) {
  return ours(pid) && signal(pid, sig);
}

/**
 * SIGKILLs everything that is left, synchronously (usable in an 'exit'
 * handler). A group is killed only while one of its known members is alive:
 * the kernel never reuses a pid while it names a live group, so the group is
 * still ours then.
 */
function killAll() {
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {}
  }
  for (const g of groups) {
    const alive = [...tracked.keys()].some((pid) => ours(pid) && stat(pid)?.pgrp === g);
    if (alive) signal(-g, 'SIGKILL');
  }
  for (const pid of tracked.keys()) if (ours(pid)) signal(pid, 'SIGKILL');
  groups.clear();
}

/** Registers a synchronous clean-up (pm2 kill) run by killAll(). */
function onCleanup(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

let installed = false;
/** Kill everything on exit, on an uncaught error and on SIGINT/SIGTERM/SIGHUP. */
function installExitHandlers() {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench:compare: ${sig}, stopping every process it started\n`);
      killAll();
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig] ?? 0));
    });
  }
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read it, close. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a server in its own process group. Its stdout is read for JSON
 * `{"event":"ready","pid":…}` lines (the self-replacing servers' later
 * generations write to the same pipe); stderr goes to `logFile`.
 */
function startServer(command, args, { env = {}, logFile, cwd } = {}) {
  const err = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', err] });
  if (typeof err === 'number') closeSync(err);
  track(child.pid);
  groups.add(child.pid);
  const readies = [];
  let waiters = [];
  let exited = null;
  const exitWaiters = [];
  child.on('error', (e) => {
    exited = { error: e };
    waiters.forEach((w) => w());
    exitWaiters.splice(0).forEach((w) => w(exited));
  });
  child.on('exit', (code, sig) => {
    exited = { code, signal: sig };
    waiters.forEach((w) => w());
    exitWaiters.splice(0).forEach((w) => w(exited));
  });
  const served = [];
  eachJsonLine(child.stdout, (e) => {
    if (e.event === 'served') served.push(e);
    if (e.event !== 'ready' || !e.pid) return;
    track(e.pid);
    readies.push({ ...e, at: Date.now() });
    waiters = waiters.filter((w) => !w());
  });

  /** The first ready line from a pid not in `known` (a new generation), within `timeoutMs`. */
  const nextReady = (known, timeoutMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== check);
        reject(new Error(`no ready line from a new process within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        const e = readies.find((r) => !known.has(r.pid));
        if (e) {
          clearTimeout(timer);
          resolve(e);
          return true;
        }
        // The direct child is gone and nothing new was announced: it failed.
        // (Self-replacing servers' first process exits normally after handing
        // over; only a first start with no ready line at all is fatal.)
        if (exited && readies.length === 0) {
          clearTimeout(timer);
          reject(new Error(`exited before it was ready (${JSON.stringify(exited)})`));
          return true;
        }
        return false;
      };
      if (!check()) waiters.push(check);
    });

  const waitExit = (timeoutMs) =>
    new Promise((resolve) => {
      if (exited) return resolve(exited);
      const timer = setTimeout(() => resolve(null), timeoutMs);
      exitWaiters.push((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });

  return { child, pid: child.pid, readies, served, nextReady, waitExit, get exited() {
    return exited;
  } };
}

/** Waits until none of `pids` is alive (or recycled), up to `timeoutMs`. */
async function waitGone(pids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pids.every((pid) => !ours(pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Stops a server: `sig` to `pids` (the current generation, or the
 * supervisor), up to `graceMs` for everything it started to go, then SIGKILL
 * to its process group and to whatever of its pids remains.
 */
async function stopServer(server, pids, { sig = 'SIGTERM', graceMs = 5000 } = {}) {
  for (const pid of pids) signalTracked(pid, sig);
  const family = [server.pid, ...server.readies.map((r) => r.pid)];
  await waitGone(family, graceMs);
  const alive = family.filter((pid) => ours(pid));
  if (alive.some((pid) => stat(pid)?.pgrp === server.pid)) signal(-server.pid, 'SIGKILL');
  for (const pid of alive) signal(pid, 'SIGKILL');
  groups.delete(server.pid);
  await waitGone(family, 2000);
}

module.exports = { track, tracked, ours, signalTracked, killAll, onCleanup, installExitHandlers, freePort, startServer, stopServer, waitGone };
