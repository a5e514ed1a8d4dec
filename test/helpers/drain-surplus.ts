/**
 * ServerDrainer for the drain tests: the real one, except that every
 * instance made in a test is checked after it — its drain counter never saw
 * a done() without an add() (a connection released twice, say): surplus 0.
 */
import { afterEach, expect } from 'vitest';
import { counterSurplus, ServerDrainer as RealServerDrainer } from '../../lib/drain/server-drainer';

const made: RealServerDrainer[] = [];

export class ServerDrainer extends RealServerDrainer {
  constructor(...args: ConstructorParameters<typeof RealServerDrainer>) {
    super(...args);
    made.push(this);
  }
}

export function expectNoSurplus(drainer: RealServerDrainer): void {
  expect(counterSurplus(drainer), 'done() calls the drain counter ignored at 0').toBe(0);
}

afterEach(() => {
  for (const drainer of made.splice(0)) expectNoSurplus(drainer);
});
