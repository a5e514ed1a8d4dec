import * as http from 'node:http';
import { parseAddress } from '../protocol';
import { invalidType, invalidValue } from '../core';
import { GracefulServer, type GracefulServerOptions } from './graceful-server';

/** Options of {@link listenAndServe}: GracefulServer's, plus http.createServer's. */
export interface ListenAndServeOptions extends GracefulServerOptions {
  /** Passed to http.createServer (keepAliveTimeout, requestTimeout...). */
  http?: http.ServerOptions;
}

/**
 * The one-line drop-in (Go's `gracehttp.ListenAndServe`): an http.Server for
 * `handler`, made graceful and listening on `address` — a port (`8080`), Go's
 * `':8080'`, `'127.0.0.1:8080'`, `'[::1]:8080'` or `'unix:/path'`.
 * Resolves once it listens; the process says it is ready on the next turn.
 */
export async function listenAndServe(address: string | number, handler: http.RequestListener, options: ListenAndServeOptions = {}): Promise<GracefulServer> {
  if (typeof handler !== 'function') invalidType('handler', 'a function (req, res)', handler);
  let spec;
  if (typeof address === 'number') spec = parseAddress(String(address));
  else if (typeof address === 'string') spec = parseAddress(address);
  else invalidType('address', 'a port number or an address string', address);
  if (spec.kind === 'udp') invalidValue('address', 'must be a stream address (HTTP does not run over UDP)', address);
  const { http: httpOptions, ...graceful } = options;
  const server = http.createServer(httpOptions ?? {}, handler);
  const gs = new GracefulServer(server, graceful);
  await gs.listen(spec.kind === 'unix' ? { path: spec.path, name: spec.name } : { port: spec.port, host: spec.host, name: spec.name });
  return gs;
}
