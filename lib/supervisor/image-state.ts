import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandoverError } from '../core';
import { type ExitStatus, native } from '../native';
import type { GenerationState } from './generation';
import type { OperationsState } from './operations';
import type { ResourceState } from './resources';

// What a supervisor hands to the image it re-executes itself as (`handover
// upgrade-self`): versioned JSON in an unlinked file whose fd the new image
// inherits. The schema is an interface between releases: a field is only
// ever added while `schema` stays the same, and an image refuses a schema
// newer than its own (the pre-flight run finds that out before the exec).

/** The schema this release writes and the newest it reads. */
export const STATE_SCHEMA = 1;
/** The fd of the state, in the re-exec'd image's environment. */
export const STATE_FD_ENV = 'HANDOVER_STATE_FD';
/** The same for the pre-flight run: read and check the state, then exit (0 when it can be adopted). */
export const CHECK_STATE_FD_ENV = 'HANDOVER_CHECK_STATE_FD';

/** One generation (see Generation.snapshot). */
export interface GenerationSnapshot {
  number: number;
  pid: number;
  pgid: number;
  slot: number;
  named: boolean;
  state: GenerationState;
  since: number;
  startedAt: number;
  readyAt: number | undefined;
  why: string | undefined;
  announcedStopping: boolean;
  successor: number | undefined;
  drainingConnections: number;
  stopSignal: NodeJS.Signals | undefined;
  signalled: number[];
  /** A SIGKILL that is due: when, after which signal. */
  kill: { signal: NodeJS.Signals; at: number } | undefined;
}

/** One worker slot (see Slot.snapshot). */
export interface SlotSnapshot {
  id: number;
  restarts: number;
  lastExit: (ExitStatus & { generation: number; pid: number; at: number; reason: string }) | undefined;
  backoff: number;
  /** The number of its serving generation. */
  current: number | null;
  /** The numbers of all its live generations. */
  generations: number[];
  /** Removed by a scale-down; its generations drain. */
  closing: boolean;
}

/** Everything the re-exec'd image takes over. */
export interface SupervisorState {
  schema: number;
  /** The handover version that wrote it. */
  version: string;
  pid: number;
  startedAt: number;
  /** Re-executions so far, this one included. */
  execs: number;
  /** Generations started so far (the next is count + 1). */
  count: number;
  resources: ResourceState;
  slots: SlotSnapshot[];
  generations: GenerationSnapshot[];
  operations: OperationsState;
}

/** `state` as JSON in a file that is already unlinked: its fd (close-on-exec, to be kept by the exec). */
export function writeState(state: SupervisorState): number {
  const dir = mkdtempSync(join(tmpdir(), 'handover-state-'));
  const path = join(dir, 'state.json');
  const fd = openSync(path, 'wx+', 0o600);
  try {
    unlinkSync(path);
    rmdirSync(dir);
    const bytes = Buffer.from(JSON.stringify(state));
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads and checks the state at `fd` (then closed). Throws ERR_INVALID_ARG_VALUE naming what is wrong. */
export function readState(fd: number): SupervisorState {
  let text: string;
  try {
    const size = fstatSync(fd).size;
    const bytes = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    text = bytes.subarray(0, read).toString('utf8');
  } catch (err) {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `cannot read the supervisor's state at fd ${fd}: ${(err as Error).message}`, { cause: err });
  } finally {
    try {
      closeSync(fd);
    } catch {
      // not open
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HandoverError('ERR_INVALID_ARG_VALUE', `the supervisor's state is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return checkState(value);
}

/** `value` as a SupervisorState this release can adopt, or an ERR_INVALID_ARG_VALUE saying why not. */
export function checkState(value: unknown): SupervisorState {
  const bad = (what: string) => new HandoverError('ERR_INVALID_ARG_VALUE', `the supervisor's state ${what}`);
  if (value === null || typeof value !== 'object') throw bad('is not an object');
  const state = value as Partial<SupervisorState>;
  if (!Number.isInteger(state.schema)) throw bad('has no schema number');
  if (state.schema! > STATE_SCHEMA) throw bad(`has schema ${state.schema}, written by handover ${String(state.version)}: this release reads schema ${STATE_SCHEMA} and older`);
  for (const key of ['pid', 'startedAt', 'execs', 'count'] as const) if (!Number.isInteger(state[key])) throw bad(`has no ${key}`);
  const resources = state.resources;
  if (!resources || !Array.isArray(resources.listeners) || !Array.isArray(resources.paths)) throw bad('has no listeners');
  for (const l of resources.listeners) if (!Number.isInteger(l.fd) || typeof l.name !== 'string' || typeof l.text !== 'string') throw bad(`has a listener without fd, name and text: ${JSON.stringify(l)}`);
  if (!Array.isArray(state.slots) || state.slots.length === 0) throw bad('has no worker slots');
  for (const s of state.slots) if (!Number.isInteger(s.id) || !Array.isArray(s.generations)) throw bad(`has a slot without id and generations: ${JSON.stringify(s)}`);
  if (!Array.isArray(state.generations)) throw bad('has no generations');
  for (const g of state.generations) if (!Number.isInteger(g.number) || !Number.isInteger(g.pid) || !Number.isInteger(g.pgid) || typeof g.state !== 'string') throw bad(`has a generation without number, pid, pgid and state: ${JSON.stringify(g)}`);
  if (!state.operations || typeof state.operations !== 'object') throw bad('has no operations');
  return state as SupervisorState;
}

/** The pre-flight's check: this image loads its addon and reads the state at `fd`. Throws what stops it. */
export function checkImage(fd: number): SupervisorState {
  native('upgrade-self pre-flight');
  return readState(fd);
}
