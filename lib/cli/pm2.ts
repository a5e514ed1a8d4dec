import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { ParsedRun, RunOptions } from './commands/run';
import { parseSize, UsageError } from './usage';

/** pm2 app fields handover does something with; every other field is warned about. */
const HONOURED = new Set(['name', 'script', 'args', 'interpreter', 'interpreter_args', 'node_args', 'cwd', 'env', 'instances', 'exec_mode', 'max_memory_restart', 'kill_timeout', 'listen_timeout', 'wait_ready']);

/** Why a pm2 field is not used, for the warning; the default reason otherwise. */
const REASONS: Record<string, string> = {
  watch: 'handover reloads on SIGHUP or handover reload, not on file changes',
  autorestart: 'handover restarts a crashed worker with back-off (--restart never to stop instead)',
  max_restarts: 'handover restarts with exponential back-off, for ever',
  cron_restart: 'reload from cron with handover reload',
  out_file: "the app's output goes to handover's stdout",
  error_file: "the app's output goes to handover's stderr",
  log_file: "the app's output goes to handover's stdout and stderr",
  merge_logs: "the app's output goes to handover's stdout and stderr",
  env_production: 'only "env" is read (pm2 --env production picks env_production)',
};

function words(value: unknown, field: string, file: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new UsageError(`--config ${file}: pm2 field "${field}" must be a string or an array of strings`);
}

/** pm2's `instances` as a worker count: 0 or "max" → 'auto', -N → CPUs − N (at least 1), "4" → 4; undefined if it is none of these. */
export function pm2Instances(value: unknown, cpus = availableParallelism()): number | 'auto' | undefined {
  if (value === 'max') return 'auto';
  const n = typeof value === 'string' && /^-?[0-9]+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) return undefined;
  if (n === 0) return 'auto';
  return n > 0 ? n : Math.max(1, cpus + n);
}

/**
 * The options of one app of a pm2 ecosystem file (`module.exports = { apps:
 * [...] }`): `script`, `args`, `interpreter` (+ `interpreter_args`,
 * `node_args`), `cwd`, `env`, `instances` with `exec_mode: 'cluster'` →
 * workers (as pm2 counts: `max` or 0 → one per CPU, -N → N fewer than the CPUs, at least 1), `max_memory_restart` →
 * --max-memory, `kill_timeout` → --drain-timeout, `listen_timeout` →
 * --ready-timeout, `wait_ready` (handover always waits for READY=1). The
 * listener comes from --listen, else from `env.PORT`. Every other field is
 * warned about, once, with what handover does instead.
 */
export function pm2App(file: string, ecosystem: { apps: unknown[] }, name: string | undefined, warn: (message: string) => void): ParsedRun {
  const apps = ecosystem.apps.filter((a): a is Record<string, unknown> => a !== null && typeof a === 'object');
  const names = apps.map((a, i) => (typeof a.name === 'string' ? a.name : `#${i}`));
  let app: Record<string, unknown> | undefined;
  if (name !== undefined) {
    app = apps.find((a) => a.name === name);
    if (app === undefined) throw new UsageError(`--app ${name}: ${file} has no such app (apps: ${names.join(', ')})`);
  } else if (apps.length === 1) {
    app = apps[0];
  } else {
    throw new UsageError(`--config ${file} has ${apps.length} apps (${names.join(', ')}): pick one with --app NAME`);
  }
  for (const field of Object.keys(app)) {
    if (!HONOURED.has(field)) warn(`ignoring pm2 field "${field}": ${REASONS[field] ?? 'handover has no such setting'}`);
  }
  if (typeof app.script !== 'string' || app.script === '') throw new UsageError(`--config ${file}: the app needs a "script"`);
  const o: RunOptions = { listen: [] };
  if (typeof app.cwd === 'string') o.cwd = isAbsolute(app.cwd) ? app.cwd : resolve(app.cwd);
  const env = app.env;
  if (env !== undefined) {
    if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new UsageError(`--config ${file}: pm2 field "env" must be an object`);
    o.env = { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) };
    const port = (env as Record<string, unknown>).PORT;
    if (port !== undefined && /^[0-9]+$/.test(String(port))) {
      o.listen.push({ kind: 'tcp', port: Number(port), host: undefined, name: undefined });
      warn(`listening on port ${port}, the app's env.PORT (give --listen to choose)`);
    }
  }
  const clustered = app.exec_mode === 'cluster' || app.exec_mode === 'cluster_mode';
  if (app.instances !== undefined) {
    const instances = pm2Instances(app.instances);
    if (instances === undefined) throw new UsageError(`--config ${file}: pm2 field "instances" must be an integer or "max", not ${JSON.stringify(app.instances)}`);
    if (!clustered && instances !== 1) warn('pm2 "instances" without exec_mode "cluster": handover runs them as workers on the shared socket anyway');
    o.workers = instances;
  }
  if (app.max_memory_restart !== undefined) o.maxMemory = parseSize('pm2 field "max_memory_restart"', String(app.max_memory_restart));
  if (app.kill_timeout !== undefined) o.drainTimeout = Number(app.kill_timeout);
  if (app.listen_timeout !== undefined) o.readyTimeout = Number(app.listen_timeout);
  if (app.wait_ready === false) warn('pm2 "wait_ready: false": handover waits for READY=1 anyway (listenAndServe and GracefulServer send it; --ready exec not to wait)');
  const interpreter = typeof app.interpreter === 'string' && app.interpreter !== 'none' ? app.interpreter : app.interpreter === 'none' ? undefined : 'node';
  const script = app.script;
  const args = words(app.args, 'args', file);
  const interpreterArgs = [...words(app.interpreter_args, 'interpreter_args', file), ...words(app.node_args, 'node_args', file)];
  const command = interpreter === undefined ? [script, ...args] : [interpreter === 'node' ? process.execPath : interpreter, ...interpreterArgs, script, ...args];
  return { options: o, command };
}
