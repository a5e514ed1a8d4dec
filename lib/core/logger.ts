import { invalidType } from './errors';

/**
 * Where the library (GracefulServer, Upgrader) reports what an operator
 * must hear about although nothing threw: a failed upgrade, a drain that
 * hit its timeout, an inherited socket nothing claimed. `console` is one, a
 * pino logger another (each call gets one string).
 */
export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

/** The default: one line on stderr, `handover[PID]: message`. */
export const stderrLogger: Logger = {
  warn: (message) => void process.stderr.write(`handover[${process.pid}]: ${message}\n`),
  error: (message) => void process.stderr.write(`handover[${process.pid}]: ${message}\n`),
};

/** A logger that says nothing, for `logger: false`. */
const silent: Logger = { warn: () => {}, error: () => {} };

/** The `logger` option as given (a Logger, false for none, undefined for {@link stderrLogger}), checked. */
export function resolveLogger(name: string, value: unknown): Logger {
  if (value === undefined) return stderrLogger;
  if (value === false) return silent;
  const l = value as Partial<Logger> | null;
  if (l === null || typeof l !== 'object' || typeof l.warn !== 'function' || typeof l.error !== 'function') {
    invalidType(name, 'a logger with warn() and error() (console, pino) or false', value);
  }
  return { warn: (m) => l.warn!(m), error: (m) => l.error!(m) };
}
