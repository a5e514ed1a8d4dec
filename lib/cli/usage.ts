import { readFileSync } from 'node:fs';

/** Exit code of a command-line mistake (as getopt-based tools use). */
export const USAGE_EXIT_CODE = 2;

/** A mistake on the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A duration as --help writes it: `1m`, `30s`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Parses a duration: `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Returns ms. */
export function parseDuration(option: string, text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${option}: not a duration: ${JSON.stringify(text)} (use e.g. 500ms, 30s, 2m or a number of seconds)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  const ms = Math.round(Number(match[1]) * factor);
  if (ms > 2 ** 31 - 1) throw new UsageError(`${option}: ${text} is too long (at most about 24 days)`);
  return ms;
}

/** Parses a size: `512M`, `1.5G`, `300MiB`, `64k`, or a number of bytes (K, M, G: 1024-based, as RSS is counted). */
export function parseSize(option: string, text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${option}: not a size: ${JSON.stringify(text)} (use e.g. 512M, 1G or a number of bytes)`);
  const factor = 1024 ** ('bkmgt'.indexOf((match[2] ?? 'b').toLowerCase()));
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < 1 || !Number.isSafeInteger(bytes)) throw new UsageError(`${option}: ${text} is not a usable size`);
  return bytes;
}

/** The largest pid the kernel hands out (Linux: /proc/sys/kernel/pid_max; macOS: 99998). */
export function maxPid(): number {
  try {
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    if (Number.isInteger(max) && max > 0) return max;
  } catch {
    // not Linux
  }
  return process.platform === 'darwin' ? 99_998 : 4_194_304;
}

/**
 * "the address has port 99999, but a port is a number from 0 to 65535":
 * what a validation error of the library says, without the API's
 * `The "x" argument` frame.
 */
export function argumentProblem(err: unknown): string {
  const e = err as { message: string; reason?: string };
  const subject = /^The "(?:options\.)?([^"]+)" argument /.exec(e.message)?.[1];
  if (e.reason !== undefined && subject !== undefined) return `the ${subject} ${e.reason}`;
  return e.message;
}
