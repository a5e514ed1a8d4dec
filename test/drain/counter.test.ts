import { describe, expect, it } from 'vitest';
import { DrainCounter } from '../../lib/drain/counter';

describe('DrainCounter', () => {
  it('counts add() and done() and never goes negative', () => {
    const counter = new DrainCounter();
    expect(counter.count).toBe(0);
    counter.add();
    counter.add(3);
    expect(counter.count).toBe(4);
    for (let i = 0; i < 6; i++) counter.done();
    expect(counter.count).toBe(0);
    expect(counter.surplus).toBe(2);
    counter.add();
    expect(counter.count).toBe(1);
  });

  it('ignores done() at zero without throwing, counting it in surplus', () => {
    const counter = new DrainCounter();
    expect(() => counter.done()).not.toThrow();
    expect(counter.count).toBe(0);
    expect(counter.surplus).toBe(1);
  });

  it('rejects bad add() arguments with HandoverError codes', () => {
    const counter = new DrainCounter();
    for (const bad of [0, -1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => counter.add(bad), String(bad)).toThrow(expect.objectContaining({ name: 'HandoverError', code: 'ERR_INVALID_ARG_VALUE' }));
    }
    for (const bad of ['1', null, {}, 1n]) {
      expect(() => counter.add(bad as unknown as number), String(bad)).toThrow(expect.objectContaining({ name: 'HandoverError', code: 'ERR_INVALID_ARG_TYPE' }));
    }
    expect(() => counter.add('2' as unknown as number)).toThrow(/The "n" argument must be of type number\. Received type string \("2"\)/);
    counter.add(Number.MAX_SAFE_INTEGER);
    expect(() => counter.add(1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(counter.count).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects bad wait() timeouts', () => {
    const counter = new DrainCounter();
    expect(() => counter.wait(-1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => counter.wait(NaN)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => counter.wait('1' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('wait() at zero resolves true at once', async () => {
    const counter = new DrainCounter();
    await expect(counter.wait()).resolves.toBe(true);
    await expect(counter.wait(0)).resolves.toBe(true);
  });

  it('wait() resolves false on timeout and leaves the count alone', async () => {
    const counter = new DrainCounter();
    counter.add();
    await expect(counter.wait(0)).resolves.toBe(false);
    const started = performance.now();
    await expect(counter.wait(30)).resolves.toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(counter.count).toBe(1);
  });

  it('wakes every waiter with true when the count reaches zero', async () => {
    const counter = new DrainCounter();
    counter.add(2);
    const waits = [counter.wait(), counter.wait(60_000), counter.wait(Infinity)];
    const settled: boolean[] = [];
    for (const wait of waits) void wait.then((value) => settled.push(value));
    counter.done();
    await Promise.resolve();
    expect(settled).toEqual([]);
    counter.done();
    await expect(Promise.all(waits)).resolves.toEqual([true, true, true]);
  });

  it('a timed-out waiter does not disturb the others', async () => {
    const counter = new DrainCounter();
    counter.add();
    const short = counter.wait(10);
    const long = counter.wait(60_000);
    await expect(short).resolves.toBe(false);
    counter.done();
    await expect(long).resolves.toBe(true);
  });

  it('track() returns an idempotent release', async () => {
    const counter = new DrainCounter();
    const first = counter.track();
    const second = counter.track();
    expect(counter.count).toBe(2);
    first();
    first();
    first();
    expect(counter.count).toBe(1);
    expect(counter.surplus).toBe(0);
    const waited = counter.wait();
    second();
    second();
    await expect(waited).resolves.toBe(true);
    expect(counter.count).toBe(0);
    expect(counter.surplus).toBe(0);
  });

  it('does not keep the process alive while waiting (unref timer)', async () => {
    const refTimers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = refTimers();
    const counter = new DrainCounter();
    const release = counter.track();
    const waited = counter.wait(60_000);
    expect(refTimers()).toBe(before);
    release();
    await expect(waited).resolves.toBe(true);
  });
});
