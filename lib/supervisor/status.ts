import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { version } from '../core';
import type { ExitStatus } from '../native';
import { resolveCommand } from './exec';
import { describeExit, type Generation, type GenerationState } from './generation';
import type { SupervisorListener } from './listeners';
import type { ResolvedOptions } from './options';
import { groupRss } from './proc';
import type { Slot } from './slot';

/** Version of the JSON schema of {@link Status}; a change that removes or renames a field raises it. */
export const STATUS_SCHEMA = 1;

/** A generation's state as `handover status` names it. */
export type StatusState = 'starting' | 'probation' | 'serving' | 'draining' | 'exited';

const STATE_NAMES: Record<GenerationState, StatusState> = { starting: 'starting', ready: 'probation', serving: 'serving', stopping: 'draining', exited: 'exited' };

/** One process of the supervised app, in `handover status --json`. */
export interface StatusGeneration {
  generation: number;
  worker: number;
  pid: number;
  state: StatusState;
  /** ISO time it entered `state`. */
  since: string;
  startedAt: string;
  /** ms from its start to READY=1; null while it is not ready. */
  readyMs: number | null;
  /** Resident memory of its process group, bytes; null where it cannot be read. */
  rssBytes: number | null;
}

/** A worker slot and what happened to it. */
export interface StatusWorker {
  worker: number;
  /** Its serving generation, null while it has none (crashed, starting). */
  serving: StatusGeneration | null;
  restarts: number;
  lastExit: { generation: number; pid: number; code: number | null; signal: string | null; at: string; reason: string; description: string } | null;
}

/** The last reload, once there was one. */
export interface StatusReload {
  at: string;
  result: 'success' | 'failure';
  durationMs: number;
  /** Why it failed; null when it succeeded. */
  reason: string | null;
}

/**
 * What `handover status --json` prints (and the control socket's `status`
 * answers): an interface, documented in docs/operations.md; fields are only
 * added within a {@link STATUS_SCHEMA} version.
 */
export interface Status {
  schema: number;
  supervisor: { pid: number; version: string; startedAt: string; uptimeSeconds: number; state: 'starting' | 'serving' | 'reloading' | 'stopping'; control: string | null };
  release: { command: string; args: string[]; executable: string | null; script: string | null };
  listeners: { address: string; name: string; fd: number; kind: string; inherited: boolean }[];
  workers: StatusWorker[];
  /** Every process of the app, serving or not (a successor in probation, an old one draining). */
  generations: StatusGeneration[];
  lastReload: StatusReload | null;
}

/** What {@link buildStatus} reads. */
export interface StatusSource {
  options: ResolvedOptions;
  startedAt: number;
  state: Status['supervisor']['state'];
  control: string | null;
  listeners: readonly SupervisorListener[];
  slots: readonly Slot[];
  generations: readonly Generation[];
  lastReload: StatusReload | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function generation(g: Generation): StatusGeneration {
  const rss = process.platform === 'linux' && g.alive ? groupRss(g.pgid) : 0;
  return {
    generation: g.number,
    worker: g.slot,
    pid: g.pid,
    state: STATE_NAMES[g.state],
    since: iso(g.since),
    startedAt: iso(g.startedAt),
    readyMs: g.readyAt === undefined ? null : g.readyAt - g.startedAt,
    rssBytes: rss > 0 ? rss : null,
  };
}

/**
 * The release a reload would start now: the command as found on PATH, and
 * the real path of its script (the first argument that is a file) — what a
 * `current -> releases/N` symlink points at.
 */
function release(o: ResolvedOptions): Status['release'] {
  let executable: string | null = null;
  try {
    executable = realpathSync(resolveCommand(o.command, o.cwd, (o.env ?? process.env).PATH));
  } catch {
    // not found: a reload would fail with ERR_EXEC
  }
  const first = o.args.find((arg) => !arg.startsWith('-'));
  let script: string | null = null;
  if (first !== undefined) {
    const path = isAbsolute(first) ? first : resolve(o.cwd, first);
    if (existsSync(path)) script = realpathSync(path);
  }
  return { command: o.command, args: [...o.args], executable, script };
}

/** The supervisor's state, as {@link Status}. */
export function buildStatus(source: StatusSource): Status {
  const now = Date.now();
  return {
    schema: STATUS_SCHEMA,
    supervisor: { pid: process.pid, version: version(), startedAt: iso(source.startedAt), uptimeSeconds: Math.round((now - source.startedAt) / 1000), state: source.state, control: source.control },
    release: release(source.options),
    listeners: source.listeners.map((l) => ({ address: l.text, name: l.name, fd: l.fd, kind: l.kind, inherited: l.inherited })),
    workers: source.slots.map((slot) => ({
      worker: slot.id,
      serving: slot.current === null ? null : generation(slot.current),
      restarts: slot.restarts,
      lastExit:
        slot.lastExit === undefined
          ? null
          : { generation: slot.lastExit.generation, pid: slot.lastExit.pid, code: slot.lastExit.code, signal: slot.lastExit.signal, at: iso(slot.lastExit.at), reason: slot.lastExit.reason, description: describeExit(slot.lastExit as ExitStatus) },
    })),
    generations: source.generations.map(generation),
    lastReload: source.lastReload,
  };
}

/** "3h 12m", "45s": a duration for people. */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function mib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** `handover status` for a person: a few lines, then a table of the processes. */
export function formatStatus(status: Status, now = Date.now()): string {
  const s = status.supervisor;
  const lines = [
    `handover ${s.version}, pid ${s.pid}, up ${ago(s.uptimeSeconds * 1000)}, ${s.state}`,
    `release: ${[status.release.command, ...status.release.args].join(' ')}${status.release.script ? ` (${status.release.script})` : ''}`,
    `listeners: ${status.listeners.map((l) => `${l.address} (fd ${l.fd}${l.name !== 'unknown' ? `, ${l.name}` : ''})`).join(', ') || 'none'}`,
  ];
  const r = status.lastReload;
  lines.push(r === null ? 'last reload: none' : `last reload: ${r.at} (${ago(now - Date.parse(r.at))} ago), ${r.result} in ${r.durationMs} ms${r.reason ? `: ${r.reason}` : ''}`);
  const rows = [['WORKER', 'GENERATION', 'PID', 'STATE', 'SINCE', 'READY', 'RSS', 'RESTARTS', 'LAST EXIT']];
  const restarts = new Map(status.workers.map((w) => [w.worker, w]));
  for (const g of status.generations) {
    const w = restarts.get(g.worker);
    const last = w?.lastExit && w.serving?.pid === g.pid ? `${w.lastExit.description} (${w.lastExit.reason}) ${ago(now - Date.parse(w.lastExit.at))} ago` : '-';
    rows.push([String(g.worker), String(g.generation), String(g.pid), g.state, ago(now - Date.parse(g.since)), g.readyMs === null ? '-' : `${g.readyMs} ms`, mib(g.rssBytes), String(w?.restarts ?? 0), last]);
  }
  for (const w of status.workers) {
    if (w.serving === null && !status.generations.some((g) => g.worker === w.worker)) rows.push([String(w.worker), '-', '-', 'down', '-', '-', '-', String(w.restarts), w.lastExit ? `${w.lastExit.description} (${w.lastExit.reason})` : '-']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) lines.push(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}
