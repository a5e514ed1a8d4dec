import type { EventEmitter } from 'node:events';

/**
 * Keeps `listener` first among the listeners of `event` on `emitter`, but only
 * while the application has listeners of its own for that event.
 *
 * For some events the mere presence of a listener changes what Node does:
 * an http.Server with an 'upgrade' (or 'connect') listener hands the socket
 * over instead of answering the request; with a 'checkContinue' listener it no
 * longer answers `Expect: 100-continue` itself; adding a 'request' listener to
 * an HTTP/2 server installs the compatibility layer, which would leave
 * every stream of a 'stream'-API application unanswered. A drainer that only
 * wants to observe such an event must therefore never be its only listener.
 */
export function observeWhileListened(emitter: EventEmitter, event: string, listener: (...args: never[]) => void): void {
  const fn = listener as (...args: unknown[]) => void;
  const mine = (): boolean => emitter.rawListeners(event).includes(fn);
  const sync = (): void => {
    const attached = mine();
    const others = emitter.listenerCount(event) - (attached ? 1 : 0);
    if (others > 0 && !attached) emitter.prependListener(event, fn);
    else if (others === 0 && attached) emitter.removeListener(event, fn);
  };
  // 'newListener' runs before the application's listener is added: prepend ours
  // now so that it runs first. (Our own prepend re-enters here; mine() is then
  // already true.)
  emitter.on('newListener', (name: string | symbol, added: unknown) => {
    if (name === event && added !== fn && !mine()) emitter.prependListener(event, fn);
  });
  emitter.on('removeListener', (name: string | symbol) => {
    if (name === event) sync();
  });
  sync();
}
