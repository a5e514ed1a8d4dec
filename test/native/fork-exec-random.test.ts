// forkExecWithFds against randomized fd tables: every table is checked entry
// by entry against the expected mapping (files[i] becomes fd i, nothing else
// reaches the child). Seeded: HANDOVER_TEST_SEED=<n> reproduces a failure.
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dupCloexec, inspectFd, setCloexec } from '../../lib/index';
import { cleanup, removeTempDirs, tempDir } from '../helpers/children';
import { targetsOf } from '../helpers/fds';
import { FDINFO_CLOEXEC, FDINFO_NONBLOCK, openFds, zombieChildren } from '../helpers/proc';
import { readReport, reporterPath, startReporter, type Report } from '../helpers/reporter';

const SEED = Number(process.env.HANDOVER_TEST_SEED ?? 0x5eed2024) >>> 0;
const TABLES = 256;
const BATCH = 32;
/** Table lengths and the pool's fd numbers stay below this. */
const SPAN = 64;

/** mulberry32: small, fast, good enough to shuffle fd tables. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PoolFd {
  fd: number;
  target: string;
  nonblocking: boolean;
  cloexec: boolean;
}

let dir: string;
let pool: PoolFd[] = [];

beforeAll(() => {
  reporterPath();
  dir = tempDir();
  // Distinct files at random free fd numbers below SPAN (so that tables reach
  // them and sources collide with targets), some O_NONBLOCK, some without
  // FD_CLOEXEC (they must reach a child only through the table), plus stdio.
  const random = prng(SEED ^ 0x9e3779b9);
  const used = new Set(openFds());
  const free = Array.from({ length: SPAN - 3 }, (_, i) => i + 3).filter((fd) => !used.has(fd));
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [free[i], free[j]] = [free[j], free[i]];
  }
  const wanted = free.slice(0, 16);
  wanted.forEach((number, k) => {
    const path = join(dir, `pool-${k}`);
    writeFileSync(path, '');
    const opened = openSync(path, constants.O_RDONLY | (k % 3 === 0 ? constants.O_NONBLOCK : 0));
    const fd = opened === number ? opened : dupCloexec(opened, number);
    if (fd !== opened) closeSync(opened);
    if (k % 4 === 1) setCloexec(fd, false);
  });
  for (const fd of [0, 1, 2, ...openFds().filter((fd) => fd >= 3 && fd < SPAN && !used.has(fd))]) {
    const info = inspectFd(fd);
    pool.push({ fd, target: targetsOf([fd]).get(fd)!, nonblocking: info.nonblocking, cloexec: info.cloexec });
  }
});

afterEach(async () => {
  await cleanup();
});

afterAll(() => {
  for (const { fd } of pool) if (fd > 2) closeSync(fd);
  pool = [];
  removeTempDirs();
});

/** A random table: lengths 0..SPAN (short ones often), some null, some files[i] = i. */
function randomTable(random: () => number): (number | null)[] {
  const length = random() < 0.3 ? Math.floor(random() * 6) : Math.floor(random() * (SPAN + 1));
  const inPool = new Set(pool.map((p) => p.fd));
  return Array.from({ length }, (_, i) => {
    const r = random();
    if (r < 0.15) return null;
    if (r < 0.3 && inPool.has(i)) return i;
    return pool[Math.floor(random() * pool.length)].fd;
  });
}

function check(table: (number | null)[], report: Report, label: string): void {
  const byFd = new Map(pool.map((p) => [p.fd, p]));
  const expected = table.flatMap((fd, i) => (fd === null ? [] : [{ fd: i, target: byFd.get(fd)!.target, nonblocking: byFd.get(fd)!.nonblocking }]));
  const actual = report.fds.map((f) => ({ fd: f.fd, target: f.target, nonblocking: (f.flags & FDINFO_NONBLOCK) !== 0 }));
  expect(actual, label).toEqual(expected);
  for (const f of report.fds) expect(f.flags & FDINFO_CLOEXEC, `${label}: fd ${f.fd} is close-on-exec`).toBe(0);
}

describe(`randomized fd tables (seed ${SEED}; rerun with HANDOVER_TEST_SEED=${SEED})`, () => {
  it(`${TABLES} tables map files[i] to fd i exactly`, async () => {
    expect(pool.length).toBeGreaterThanOrEqual(16);
    const random = prng(SEED);
    const fdsBefore = openFds();
    const flagsBefore = pool.map((p) => inspectFd(p.fd));
    const coverage = { collisions: 0, identityCloexec: 0, duplicates: 0, nulls: 0, short: 0, empty: 0 };

    for (let done = 0; done < TABLES; done += BATCH) {
      const tables = Array.from({ length: BATCH }, () => randomTable(random));
      // Children of a batch run at once; each is checked on its own.
      const pending = tables.map((files) => startReporter({ files, env: [] }));
      for (const [k, files] of tables.entries()) {
        const label = `seed ${SEED}, table #${done + k}: ${JSON.stringify(files)}`;
        check(files, await readReport(pending[k]), label);

        const sources = files.filter((fd): fd is number => fd !== null);
        if (files.some((fd, i) => fd !== null && fd !== i && fd < files.length)) coverage.collisions++;
        if (files.some((fd, i) => fd === i && i > 2 && pool.find((p) => p.fd === fd)?.cloexec)) coverage.identityCloexec++;
        if (new Set(sources).size < sources.length) coverage.duplicates++;
        if (files.includes(null)) coverage.nulls++;
        if (files.length < 3) coverage.short++;
        if (files.length === 0) coverage.empty++;
      }
    }

    // The parent is untouched: same fds (once the last pidfds of waitPid are
    // closed, which happens on the loop iteration after the promise resolves),
    // same flags.
    await expect.poll(() => openFds()).toEqual(fdsBefore);
    expect(pool.map((p) => inspectFd(p.fd))).toEqual(flagsBefore);
    expect(zombieChildren()).toEqual([]);
    // The tables did exercise the hard cases.
    expect(coverage.collisions, JSON.stringify(coverage)).toBeGreaterThan(TABLES / 4);
    expect(coverage.identityCloexec, JSON.stringify(coverage)).toBeGreaterThan(10);
    expect(coverage.duplicates, JSON.stringify(coverage)).toBeGreaterThan(TABLES / 4);
    expect(coverage.nulls, JSON.stringify(coverage)).toBeGreaterThan(TABLES / 4);
    expect(coverage.short, JSON.stringify(coverage)).toBeGreaterThan(10);
    expect(coverage.empty, JSON.stringify(coverage)).toBeGreaterThan(0);
  });
});
