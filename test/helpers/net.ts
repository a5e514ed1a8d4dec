/** Small socket look-ups shared by the tests. */
import { connect, createServer, type NetConnectOpts } from 'node:net';

/** 'connected', or the error code of one connection attempt (ECONNREFUSED...). */
export function connectOutcome(target: number | { port: number; host: string } | { path: string }): Promise<string> {
  const options = typeof target === 'number' ? { port: target, host: '127.0.0.1' } : target;
  return new Promise((resolveOutcome) => {
    const socket = connect(options as NetConnectOpts);
    socket.once('connect', () => {
      socket.destroy();
      resolveOutcome('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolveOutcome(err.code ?? err.message));
  });
}

/** A TCP port on 127.0.0.1 nobody listens on right now (bound to port 0, then closed), for tools that cannot report theirs. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as { port: number };
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}
