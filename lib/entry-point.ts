import { realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, resolve, sep } from 'node:path';

/** How to start the next generation: what this process was started as. */
export interface EntryPoint {
  execPath: string;
  /** argv[0] as the process received it. */
  argv0: string;
  execArgv: string[];
  /** Absolute path of the main script as given (symlinks kept), or null for `node -e` and the REPL. */
  script: string | null;
  args: string[];
  /** The initial working directory, logical (symlinks kept, from $PWD when it is the same directory). */
  cwd: string;
}

/**
 * Captures the entry point at start-up, before the app can chdir. Paths keep
 * their symlinks: a `current -> releases/N` link is followed again by the
 * kernel at each upgrade, so the next generation runs the new release.
 */
export function captureEntryPoint(): EntryPoint {
  const script = process.argv[1] ? resolve(process.argv[1]) : null;
  return {
    execPath: process.execPath,
    argv0: process.argv0 || process.execPath,
    execArgv: [...process.execArgv],
    script,
    args: process.argv.slice(2),
    cwd: logicalCwd(),
  };
}

// getcwd() resolves symlinks (/srv/app/releases/1); the shell's $PWD keeps the
// path the operator used (/srv/app/current). Use $PWD when both are the same
// directory, as shells do.
function logicalCwd(): string {
  const physical = process.cwd();
  const pwd = process.env.PWD;
  if (pwd && isAbsolute(pwd)) {
    try {
      const a = statSync(pwd);
      const b = statSync(physical);
      if (a.dev === b.dev && a.ino === b.ino) return pwd;
    } catch {
      // $PWD is stale
    }
  }
  return physical;
}

/** The argv of the next generation. */
export function nextArgv(entry: EntryPoint): string[] {
  return [entry.argv0, ...entry.execArgv, ...(entry.script ? [entry.script] : []), ...entry.args];
}

const TEMPORARY_MARKERS = [`${sep}.tsx${sep}`, `${sep}tsx-`, `${sep}ts-node`, `${sep}.cache${sep}`, `${sep}.esbuild`];

/**
 * Why the entry point would not survive an upgrade, or null: a script in the
 * temporary directory or in a transpiler's cache (tsx, ts-node, esbuild) may be
 * gone or stale when the next generation starts; so may a missing one.
 */
export function entryPointWarning(entry: EntryPoint): string | null {
  if (entry.script === null) return 'the process has no main script (node -e or a REPL): an upgrade would start the same code without it';
  let real = entry.script;
  try {
    real = realpathSync(entry.script);
  } catch {
    return `the main script ${entry.script} does not exist any more`;
  }
  const tmp = realpathOrSelf(tmpdir());
  for (const path of [entry.script, real]) {
    if (path.startsWith(tmp + sep)) return `the main script ${path} is in the temporary directory: an upgrade may start a stale or missing file`;
    if (TEMPORARY_MARKERS.some((m) => path.includes(m))) return `the main script ${path} looks like a transpiler's cache: run the built output instead, an upgrade may start a stale file`;
  }
  return null;
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
