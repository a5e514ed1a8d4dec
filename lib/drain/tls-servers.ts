import type * as Https from 'node:https';
import type * as net from 'node:net';
import type * as Tls from 'node:tls';

// node:tls (with node:crypto) and node:https take milliseconds to load, on
// every start of every generation. A server that node:tls made means it is
// loaded already; for the others it is never needed.

/**
 * True for a tls.Server (https, HTTP/2 secure, plain TLS). Only a tls.Server
 * has setSecureContext(): the module is required, to confirm with
 * instanceof, only when the server has it.
 */
export function isTlsServer(server: net.Server): server is Tls.Server {
  if (typeof (server as { setSecureContext?: unknown }).setSecureContext !== 'function') return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return server instanceof (require('node:tls') as typeof Tls).Server;
}

/** True for an https.Server (a tls.Server first, so node:https is loaded only for TLS servers). */
export function isHttpsServer(server: net.Server): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return isTlsServer(server) && server instanceof (require('node:https') as typeof Https).Server;
}
