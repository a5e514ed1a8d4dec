import * as net from 'node:net';

/** A reply of the control socket (see lib/supervisor/control.ts). */
export interface ControlReply {
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

/** What happened when asking: an answer, no socket to ask (so fall back to signals), or no answer in time. */
export type Asked = { reply: ControlReply } | { absent: string } | { timeout: true };

/**
 * Sends one request to the control socket at `path` and resolves with the
 * first reply line. `absent` when nothing listens there (ENOENT,
 * ECONNREFUSED: no supervisor with a control socket); `timeout` when there
 * is no answer within `timeoutMs` (0: wait as long as it takes).
 */
export function askControl(path: string, request: object, timeoutMs: number): Promise<Asked> {
  return new Promise((resolveAsk) => {
    const socket = net.connect(path);
    let buffer = '';
    let done = false;
    const finish = (asked: Asked) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolveAsk(asked);
    };
    const timer = timeoutMs > 0 ? setTimeout(() => finish({ timeout: true }), timeoutMs) : undefined;
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const eol = buffer.indexOf('\n');
      if (eol < 0) return;
      try {
        finish({ reply: JSON.parse(buffer.slice(0, eol)) as ControlReply });
      } catch {
        finish({ reply: { ok: false, error: { code: 'ERR_INVALID_ARG_VALUE', message: `not an answer: ${buffer.slice(0, 80)}` } } });
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTDIR') finish({ absent: `no control socket at ${path}` });
      else finish({ reply: { ok: false, error: { code: err.code ?? 'ERR_EXEC', message: `cannot reach the control socket ${path}: ${err.message}` } } });
    });
    socket.on('close', () => finish({ reply: { ok: false, error: { code: 'ERR_STOPPED', message: `the supervisor closed ${path} without an answer` } } }));
  });
}
