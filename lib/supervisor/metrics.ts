import type { EventEmitter } from 'node:events';
import type { Status } from './status';

/** Upper bounds (seconds) of the reload-duration histogram's buckets. */
const RELOAD_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The supervisor's Prometheus metrics, in the text exposition format
 * (version 0.0.4). Written here rather than with prom-client, the standard
 * library, because loading prom-client measured 150–220 ms and 12 MB more
 * RSS in the supervisor (Node 20, this machine) for a dozen series that
 * take a few lines to write; the format is checked by a separate parser in
 * the tests.
 */
export class Metrics {
  readonly #reloads = { success: 0, failure: 0 };
  readonly #durations = { buckets: RELOAD_BUCKETS.map(() => 0), sum: 0, count: 0 };
  readonly #restarts = new Map<string, number>();

  /** Counts what `events` (the supervisor) reports: reloads, their durations, restarts and recyclings. */
  constructor(events: EventEmitter) {
    events.on('rolled', ({ error, durationMs }: { error: unknown; durationMs: number }) => {
      this.#reloads[error ? 'failure' : 'success']++;
      const seconds = durationMs / 1000;
      RELOAD_BUCKETS.forEach((le, i) => {
        if (seconds <= le) this.#durations.buckets[i]++;
      });
      this.#durations.sum += seconds;
      this.#durations.count++;
    });
    events.on('crash', (crash: { readyAt?: number }) => this.#count(crash.readyAt === undefined ? 'failed-start' : 'crash'));
    events.on('recycling', ({ kind }: { kind: string }) => this.#count(`recycle-${kind}`));
  }

  #count(reason: string): void {
    this.#restarts.set(reason, (this.#restarts.get(reason) ?? 0) + 1);
  }

  /** The exposition of everything, for GET /metrics. */
  render(status: Status, drainingConnections: number): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) out.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    };
    metric('handover_supervisor_start_time_seconds', 'gauge', 'When the supervisor started, in seconds since the epoch.', [[{}, Date.parse(status.supervisor.startedAt) / 1000]]);
    metric('handover_reloads_total', 'counter', 'Reloads, by result (a failed one was rolled back).', [
      [{ result: 'success' }, this.#reloads.success],
      [{ result: 'failure' }, this.#reloads.failure],
    ]);
    const name = 'handover_reload_duration_seconds';
    out.push(`# HELP ${name} From a reload's start to its end: every worker replaced, or the roll stopped.`, `# TYPE ${name} histogram`);
    RELOAD_BUCKETS.forEach((le, i) => out.push(`${name}_bucket{le="${le}"} ${this.#durations.buckets[i]}`));
    out.push(`${name}_bucket{le="+Inf"} ${this.#durations.count}`, `${name}_sum ${formatValue(this.#durations.sum)}`, `${name}_count ${this.#durations.count}`);
    metric(
      'handover_restarts_total',
      'counter',
      'Workers started again outside a reload, by reason: crash, failed-start, recycle-memory, recycle-lifetime.',
      ['crash', 'failed-start', 'recycle-memory', 'recycle-lifetime'].map((reason) => [{ reason }, this.#restarts.get(reason) ?? 0]),
    );
    const states = ['starting', 'probation', 'serving', 'draining'] as const;
    metric('handover_generations', 'gauge', 'Processes of the app, by state.', states.map((state) => [{ state }, status.generations.filter((g) => g.state === state).length]));
    metric('handover_workers', 'gauge', 'Worker slots.', [[{}, status.workers.length]]);
    metric(
      'handover_worker_rss_bytes',
      'gauge',
      "Resident memory of each serving worker's process group.",
      status.workers.filter((w) => w.serving?.rssBytes != null).map((w) => [{ worker: String(w.worker), generation: String(w.serving!.generation) }, w.serving!.rssBytes!]),
    );
    metric('handover_draining_connections', 'gauge', 'Connections the draining generations said they still have open.', [[{}, drainingConnections]]);
    return `${out.join('\n')}\n`;
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(6)));
}
