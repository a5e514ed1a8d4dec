import { hostname } from 'node:os';

/** How the supervisor writes its log: one line per event, as text or as pino-style JSON. */
export type LogFormat = 'text' | 'json';

/**
 * What a log line may carry besides its text: a level (info by default), the
 * event's name, and its fields — in JSON they are the record's fields; in
 * text only the message is written.
 */
export interface LogFields {
  level?: 'info' | 'warn' | 'error';
  event?: string;
  [field: string]: unknown;
}

/** Writes one event: `line` is what a person reads, `fields` what a machine does. */
export type Log = (line: string, fields?: LogFields) => void;

/** pino's numeric levels. */
const LEVELS = { info: 30, warn: 40, error: 50 } as const;

/**
 * Makes anything that came from outside safe on one log line: control
 * characters (newlines, escape sequences) become `\n`, `\x1b` and so on, so
 * a notification's payload can neither forge a line nor drive a terminal.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * The supervisor's log on `write` (stderr): `handover[PID]: line` in text;
 * in JSON one object per line with pino's field names — `level` (30, 40,
 * 50), `time` (epoch ms), `pid`, `hostname`, `msg` — plus the event's fields,
 * so that pino-pretty and log shippers read it.
 */
export function makeLog(format: LogFormat, write: (text: string) => void = (text) => void process.stderr.write(text)): Log {
  if (format === 'text') return (line) => write(`handover[${process.pid}]: ${line}\n`);
  const host = hostname();
  return (line, fields = {}) => {
    const { level = 'info', ...rest } = fields;
    write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: host, name: 'handover', msg: line, ...rest })}\n`);
  };
}
