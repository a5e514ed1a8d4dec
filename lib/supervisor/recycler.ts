import { HandoverError } from '../core';
import type { Generation } from './generation';
import { MEMORY_CHECK_INTERVAL, RECYCLE_JITTER, type ResolvedOptions } from './options';
import type { Pool } from './pool';
import { groupRss } from './proc';

/** "512 MiB", for logs. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * Recycles workers without a dropped request: one whose process group's RSS
 * passed `maxMemory`, or that has served `maxLifetime`, is replaced exactly
 * as in a reload step (its successor ready first, then it drains). Each
 * worker's limits move by up to {@link RECYCLE_JITTER} (the memory limit
 * down, the lifetime up), drawn when it starts, so that workers started
 * together do not recycle together. One recycling at a time; none during a
 * rolling reload, which replaces every worker anyway.
 */
export class Recycler {
  readonly #pool: Pool;
  readonly #options: ResolvedOptions;
  readonly #limits = new WeakMap<Generation, { memory?: number; until?: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: Pool, options: ResolvedOptions) {
    if (options.maxMemory !== undefined && process.platform !== 'linux') {
      throw new HandoverError('ERR_NOT_SUPPORTED', `maxMemory (--max-memory) reads the process tree's RSS from /proc, which ${process.platform} does not have`);
    }
    this.#pool = pool;
    this.#options = options;
  }

  /** Starts the checks (nothing to do without a limit). */
  start(): void {
    const o = this.#options;
    if (o.maxMemory === undefined && o.maxLifetime === undefined) return;
    const interval = Math.min(MEMORY_CHECK_INTERVAL, o.maxLifetime ?? MEMORY_CHECK_INTERVAL);
    this.#timer = setInterval(() => this.#check(), interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #limitsOf(generation: Generation): { memory?: number; until?: number } {
    let limits = this.#limits.get(generation);
    if (limits === undefined) {
      const o = this.#options;
      limits = {
        memory: o.maxMemory === undefined ? undefined : Math.round(o.maxMemory * (1 - Math.random() * RECYCLE_JITTER)),
        until: o.maxLifetime === undefined ? undefined : (generation.readyAt ?? Date.now()) + Math.round(o.maxLifetime * (1 + Math.random() * RECYCLE_JITTER)),
      };
      this.#limits.set(generation, limits);
    }
    return limits;
  }

  #check(): void {
    const now = Date.now();
    for (const slot of this.#pool.slots) {
      const generation = slot.current;
      if (generation === null || generation.state !== 'serving') continue;
      const limits = this.#limitsOf(generation);
      let reason: string | undefined;
      let kind: 'memory' | 'lifetime' = 'lifetime';
      if (limits.until !== undefined && now >= limits.until) {
        reason = `it has served ${Math.round((now - (generation.readyAt ?? now)) / 1000)} s (--max-lifetime ${Math.round(this.#options.maxLifetime! / 1000)} s)`;
      } else if (limits.memory !== undefined) {
        const rss = groupRss(generation.pgid);
        kind = 'memory';
        if (rss > limits.memory) reason = `its RSS is ${formatBytes(rss)} (--max-memory ${formatBytes(this.#options.maxMemory!)})`;
      }
      // One at a time: the others are looked at again at the next check.
      if (reason !== undefined && this.#pool.recycle(slot, reason, kind)) return;
    }
  }
}
