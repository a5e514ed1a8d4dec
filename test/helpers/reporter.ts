// The reporter child (test/fixtures/report-fds.c, compiled once per test
// process) and the helpers that run it and read its report.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitStatus, ForkExecAttributes } from '../../lib/index';
import { reap, start, tempDir } from './children';
import { fixtureBinary } from './compile';

/** One fd of the child, as it saw it. */
export interface ReportedFd {
  fd: number;
  /** readlink(/proc/self/fd/N). */
  target: string;
  /** The octal "flags" of /proc/self/fdinfo/N, parsed (0o2000000 = FD_CLOEXEC, 0o4000 = O_NONBLOCK). */
  flags: number;
  /** fcntl(F_GETFD). */
  fdflags: number;
}

/** What the reporter saw of itself. */
export interface Report {
  fds: ReportedFd[];
  SigIgn: string;
  SigBlk: string;
  SigCgt: string;
  SigPnd: string;
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  cwd: string;
  env: string[];
  argv: string[];
}

let reports: string | undefined;
let counter = 0;

/** The compiled reporter. */
export function reporterPath(): string {
  return fixtureBinary('report-fds');
}

/** A started reporter: its pid and the file it writes its report to. */
export interface PendingReport {
  pid: number;
  out: string;
}

/** Starts the reporter with forkExecWithFds and `attr`. */
export function startReporter(attr?: ForkExecAttributes, extraArgs: string[] = []): PendingReport {
  const path = reporterPath();
  reports ??= tempDir('handover-reports-');
  const out = join(reports, `report-${++counter}.json`);
  const pid = start(path, ['report-fds', out, ...extraArgs], attr);
  return { pid, out };
}

/** Waits for a started reporter and reads its report; it must have exited 0. */
export async function readReport(pending: PendingReport): Promise<Report> {
  const status: ExitStatus = await reap(pending.pid);
  if (status.code !== 0) throw new Error(`report-fds exited with ${JSON.stringify(status)}`);
  return JSON.parse(readFileSync(pending.out, 'utf8')) as Report;
}

/** Runs the reporter with `attr` and returns its report. */
export async function runReporter(attr?: ForkExecAttributes, extraArgs: string[] = []): Promise<Report> {
  return readReport(startReporter(attr, extraArgs));
}

/** The child's fd table as { fd: target }. */
export function fdTable(report: Report): Record<number, string> {
  return Object.fromEntries(report.fds.map((f) => [f.fd, f.target]));
}

/** The child's environment as an object. */
export function envObject(report: Report): Record<string, string> {
  return Object.fromEntries(report.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}
