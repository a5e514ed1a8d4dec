import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { closeQuietly } from '../core';
import { dupCloexec } from '../native';

// Giving a Node server or socket its own duplicate of a handed-over fd:
// closing the server then never closes what is handed over, and never
// unlinks a Unix socket path (nodejs/node#19729).

/** Makes `server` listen on its own close-on-exec duplicate of `fd`. */
export function listenOnFd(server: net.Server, fd: number): Promise<void> {
  const own = dupCloexec(fd);
  return new Promise<void>((resolveListen, rejectListen) => {
    const onError = (err: Error) => {
      closeQuietly(own);
      rejectListen(err);
    };
    server.once('error', onError);
    server.listen({ fd: own }, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
}

/** A dgram.Socket bound on its own close-on-exec duplicate of the bound UDP socket `fd`. */
export function bindOnFd(type: 'udp4' | 'udp6', fd: number): Promise<dgram.Socket> {
  const own = dupCloexec(fd);
  // node:dgram is loaded for UDP only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const socket = (require('node:dgram') as typeof dgram).createSocket(type);
  return new Promise<dgram.Socket>((resolveBind, rejectBind) => {
    socket.once('error', (err) => {
      closeQuietly(own);
      rejectBind(err);
    });
    socket.bind({ fd: own }, () => {
      socket.removeAllListeners('error');
      resolveBind(socket);
    });
  });
}
