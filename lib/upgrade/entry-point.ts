import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';

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
  const cwd = logicalCwd();
  return {
    execPath: process.execPath,
    argv0: process.argv0 || process.execPath,
    execArgv: [...process.execArgv],
    script: process.argv[1] ? logicalScript(resolve(process.argv[1]), cwd) : null,
    args: process.argv.slice(2),
    cwd,
  };
}

// Node makes argv[1] absolute against getcwd(), which has resolved the
// symlinks: `cd /srv/app/current && node server.js` yields
// /srv/app/releases/1/server.js, and an upgrade would restart release 1 for
// ever. A script typed relative is relative to the logical cwd instead.
function logicalScript(script: string, cwd: string): string {
  const physical = process.cwd();
  if (cwd === physical) return script;
  const typed = typedArgument(script, physical);
  if (typed !== undefined) return isAbsolute(typed) ? typed : resolve(cwd, typed);
  // No /proc (macOS): a script below the physical cwd was most likely typed relative.
  return script.startsWith(physical + sep) ? resolve(cwd, script.slice(physical.length + 1)) : script;
}

// The argument as it was typed, from the kernel's copy of argv (Linux).
function typedArgument(script: string, physical: string): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync('/proc/self/cmdline', 'utf8').split('\0');
  } catch {
    return undefined;
  }
  return argv.slice(1).find((arg) => arg !== '' && resolve(physical, arg) === script);
}

// getcwd() resolves symlinks (/srv/app/releases/1); the shell's $PWD keeps the
// path the operator used (/srv/app/current). Use $PWD when both are the same
// directory, as shells do.
function logicalCwd(): string {
  const physical = process.cwd();
  const pwd = process.env.PWD;
  if (pwd && isAbsolute(pwd)) {
    try {
      // One realpath(3) answers the usual case; comparing inodes also
      // accepts a $PWD through a bind mount of the same directory.
      if (realpathSync.native(pwd) === physical) return pwd;
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
    real = realpathSync.native(entry.script);
  } catch {
    return `the main script ${entry.script} does not exist any more`;
  }
  const tmp = realpathOrSelf(tmpdir());
  for (const path of [entry.script, real]) {
    if (path.startsWith(tmp + sep) && !insideProject(path, tmp)) {
      return `the main script ${path} is in the temporary directory, outside any project: an upgrade may start a stale or missing file`;
    }
    if (TEMPORARY_MARKERS.some((m) => path.includes(m))) return `the main script ${path} looks like a transpiler's cache: run the built output instead, an upgrade may start a stale file`;
  }
  return null;
}

// A checkout under /tmp (CI runners do that) is a project, not an artefact:
// some directory between the script and the temporary directory has a package.json.
function insideProject(path: string, tmp: string): boolean {
  for (let dir = dirname(path); dir.length > tmp.length && dir.startsWith(tmp + sep); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return true;
  }
  return false;
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}
