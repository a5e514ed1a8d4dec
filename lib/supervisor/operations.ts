import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HandoverError } from '../core';
import { parseAddress } from '../protocol';
import { ControlServer, type ControlRequest } from './control';
import { controlPath } from './control-path';
import { Metrics } from './metrics';
import type { ResolvedOptions } from './options';
import { buildStatus, type Status, type StatusReload, type StatusSource } from './status';
import type { Supervisor } from './supervisor';

/** What the operations face needs from the supervisor: its public API and its state. */
export interface Operated {
  supervisor: Supervisor;
  options: ResolvedOptions;
  /** The supervisor's state, for {@link buildStatus}. */
  source(): Omit<StatusSource, 'options' | 'control' | 'lastReload'>;
  /** True while /readyz should answer 200: serving, and not shutting down. */
  ready(): boolean;
}

/**
 * The supervisor's operations face, each part optional: the control socket
 * (`handover reload|status|stop|scale`), Prometheus metrics at `/metrics`,
 * and `/livez` + `/readyz` for probes.
 */
export class Operations {
  readonly #operated: Operated;
  readonly #metrics: Metrics | null;
  #control: ControlServer | null = null;
  readonly #servers: Server[] = [];

  #lastReload: StatusReload | null = null;

  constructor(operated: Operated) {
    this.#operated = operated;
    this.#metrics = operated.options.metrics !== undefined ? new Metrics(operated.supervisor) : null;
    operated.supervisor.on('rolled', ({ error, durationMs }: { error: Error | null; durationMs: number }) => {
      this.#lastReload = { at: new Date().toISOString(), result: error ? 'failure' : 'success', durationMs, reason: error ? error.message : null };
    });
  }

  /** The supervisor's {@link Status} now. */
  status(): Status {
    return buildStatus({ ...this.#operated.source(), options: this.#operated.options, control: this.controlPath, lastReload: this.#lastReload });
  }

  /**
   * Opens what the options ask for: the control socket (at `control`, or the
   * derived path — which, should it not work, is logged and left out:
   * signals still work), the metrics and the health servers.
   */
  async open(): Promise<void> {
    const o = this.#operated.options;
    if (o.control !== false) {
      const path = controlPath({ control: typeof o.control === 'string' ? o.control : undefined, pidFile: o.pidFile, pid: process.pid });
      try {
        await this.openControl(path);
      } catch (err) {
        if (typeof o.control === 'string') throw err;
        o.log(`no control socket (${(err as Error).message}): handover reload/status/stop fall back to signals`, { level: 'warn', event: 'control-failed' });
      }
    }
    await this.openHttp(o.metrics, o.health);
  }

  /** The control socket's path, once it listens. */
  get controlPath(): string | null {
    return this.#control?.path ?? null;
  }

  /** Opens the control socket at `path`. */
  async openControl(path: string): Promise<void> {
    this.#control = await ControlServer.open(path, (request) => this.#command(request), this.#operated.options.log);
    this.#operated.options.log(`control socket: ${path}`, { event: 'control', path });
  }

  /** Serves /metrics (when asked for), /livez and /readyz (when `health`) on the given addresses; one server when they are the same. */
  async openHttp(metrics: string | undefined, health: string | undefined): Promise<void> {
    const routes = new Map<string, Set<string>>();
    if (metrics !== undefined) routes.set(metrics, new Set(['/metrics']));
    if (health !== undefined) routes.set(health, new Set([...(routes.get(health) ?? []), '/livez', '/readyz']));
    for (const [address, paths] of routes) {
      const server = createServer((req, res) => this.#http(paths, req, res));
      const spec = parseAddress(address);
      if (spec.kind !== 'tcp') throw new HandoverError('ERR_INVALID_ARG_VALUE', `${address}: metrics and health are served over TCP`);
      await new Promise<void>((resolveListen, rejectListen) => {
        server.once('error', rejectListen);
        server.listen({ port: spec.port, host: spec.host }, () => {
          server.off('error', rejectListen);
          resolveListen();
        });
      });
      server.unref();
      this.#servers.push(server);
      const bound = server.address() as { address: string; port: number };
      this.#operated.options.log(`serving ${[...paths].join(', ')} on ${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`, { event: 'http', paths: [...paths], address: bound.address, port: bound.port });
    }
  }

  /** Closes everything (the control socket last: a `stop` request is answered before). */
  async close(): Promise<void> {
    // Answers being written now (a `stop` request's) go first.
    await new Promise((resolveTurn) => setImmediate(resolveTurn));
    for (const server of this.#servers.splice(0)) {
      server.close();
      server.closeAllConnections();
    }
    await this.#control?.close();
  }

  // Connections the draining generations said they still have (X_HANDOVER_DRAINING=).
  #drainingConnections(): number {
    return this.#operated.source().generations.reduce((sum, g) => sum + (g.state === 'stopping' ? g.drainingConnections : 0), 0);
  }

  #http(paths: Set<string>, req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (!paths.has(path)) return send(404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET only\n');
    if (path === '/metrics') return send(200, this.#metrics!.render(this.status(), this.#drainingConnections()), 'text/plain; version=0.0.4; charset=utf-8');
    if (path === '/livez') return send(200, 'ok\n');
    const ready = this.#operated.ready();
    return send(ready ? 200 : 503, ready ? 'ready\n' : `not ready: ${this.status().supervisor.state}\n`);
  }

  async #command(request: ControlRequest): Promise<unknown> {
    const { supervisor } = this.#operated;
    switch (request.command) {
      case 'status':
        return this.status();
      case 'reload': {
        const outcome = supervisor.reload();
        if (request.wait === false) {
          outcome.catch(() => {}); // reported by the supervisor's log and events
          return { started: true };
        }
        await outcome;
        return { status: this.status() };
      }
      case 'stop': {
        const signal = (request.signal ?? 'SIGTERM') as NodeJS.Signals;
        if (!['SIGTERM', 'SIGINT', 'SIGQUIT'].includes(signal)) throw new HandoverError('ERR_INVALID_ARG_VALUE', `stop takes SIGTERM, SIGINT or SIGQUIT, not ${String(signal)}`);
        // 'stopped' comes with the exit code just before the socket closes; exited only after.
        const stopped = new Promise<number>((resolveStopped) => supervisor.once('stopped', resolveStopped));
        if (request.final !== undefined && typeof request.final !== 'boolean') throw new HandoverError('ERR_INVALID_ARG_TYPE', 'stop\'s "final" must be true or false');
        void supervisor.stop(signal, { final: request.final === true });
        return { exitCode: await stopped };
      }
      case 'scale': {
        const workers = request.workers;
        if (typeof workers !== 'number') throw new HandoverError('ERR_INVALID_ARG_TYPE', 'scale needs "workers": a number');
        supervisor.scale(workers);
        return { workers };
      }
      default:
        throw new HandoverError('ERR_INVALID_ARG_VALUE', `unknown command ${JSON.stringify(request.command)} (commands: status, reload, stop, scale)`);
    }
  }
}
