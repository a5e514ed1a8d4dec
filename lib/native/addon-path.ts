import { existsSync } from 'node:fs';
import { join } from 'node:path';

// node-gyp-build finds the addon by reading directories and parsing file
// names, after Node has resolved and compiled node-gyp-build itself: about
// 2 ms of every start on the development VM, against 0.5 ms for opening the
// addon. When the answer can only be one of the two files that handover's
// own builds make, that file is opened directly; anything else (a variable
// that steers node-gyp-build, another runtime, another file) is left to
// node-gyp-build.

/** The variables node-gyp-build reads to choose another file. */
const STEERING = ['PREBUILDS_ONLY', 'HANDOVER_PREBUILD', 'npm_config_arch', 'npm_config_platform', 'LIBC', 'ARM_VERSION'];

/**
 * The file node-gyp-build would load from the package at `root`, when it is
 * `build/Release/handover.node` (node-gyp's build, its first choice) or this
 * platform's release prebuild (`prebuilds/<platform>-<arch>/handover.<libc>.node`,
 * scripts/check-prebuilds.js); undefined when node-gyp-build must decide.
 */
export function knownAddonPath(root: string): string | undefined {
  if (STEERING.some((name) => process.env[name] !== undefined)) return undefined;
  if (process.versions.electron !== undefined || (process.versions as { nw?: string }).nw !== undefined) return undefined;
  const built = join(root, 'build', 'Release', 'handover.node');
  if (existsSync(built)) return built;
  if (existsSync(join(root, 'build', 'Release'))) return undefined; // another build: node-gyp-build takes its first .node
  const libc = process.platform === 'linux' && existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  const prebuild = join(root, 'prebuilds', `${process.platform}-${process.arch}`, `handover.${libc}.node`);
  return existsSync(prebuild) ? prebuild : undefined;
}
