// Prints the fault-injection report at the end of `npm run test:faults` and
// writes it to bench/results/faults-<timestamp>.md (gitignored): one row per
// test — scenario, what must hold, what was measured (the `fault` row a test
// attached with report() in harness.ts), the test's outcome — then the total
// run time and a last look for any process of the suite left behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node' with { 'resolution-mode': 'import' };
import { markedProcesses } from '../helpers/proc';
import type { FaultRow } from './harness';

const ROOT = resolve(__dirname, '../..');
const SUITE_MARK = 'HANDOVER_FAULTS_SUITE';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

// This process runs vitest's workers, not the suite's processes: zombies of
// its own (a worker not reaped yet) are not the suite's.
function leftovers(): { live: number[]; zombies: number[] } {
  return markedProcesses(SUITE_MARK, '1');
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

export default class FaultReporter implements Reporter {
  #started = Date.now();

  onInit(): void {
    this.#started = Date.now();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const elapsed = Date.now() - this.#started;
    const rows: { row: FaultRow; test: TestCase }[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        // Left out by -t or .skip: not part of this run's report.
        if (test.result().state === 'skipped' || test.result().state === 'pending') continue;
        const row = test.meta().fault ?? { order: 999, scenario: test.fullName, model: '-', must: '-', result: '-' };
        rows.push({ row, test });
      }
    }
    rows.sort((a, b) => a.row.order - b.row.order || a.row.scenario.localeCompare(b.row.scenario));

    const lines: string[] = [];
    lines.push('| # | Scenario | Model | What must hold | Result (measured) | Outcome | Time |');
    lines.push('|---|---|---|---|---|---|---:|');
    let passed = 0;
    rows.forEach(({ row, test }, i) => {
      const result = test.result();
      let outcome: string = result.state;
      if (result.state === 'passed') {
        outcome = 'pass';
        passed++;
      } else if (result.state === 'failed') {
        const message = result.errors?.[0]?.message?.split('\n')[0] ?? '';
        outcome = `**FAIL**: ${message.slice(0, 200)}`;
      }
      const seconds = ((test.diagnostic()?.duration ?? 0) / 1000).toFixed(1);
      lines.push(`| ${i + 1} | ${cell(row.scenario)} | ${row.model} | ${cell(row.must)} | ${cell(row.result)} | ${cell(outcome)} | ${seconds} s |`);
    });
    const left = leftovers();
    const cpu = cpus();
    const header = [
      `# Fault injection: ${new Date().toISOString()}`,
      '',
      `\`npm run test:faults\` on Node ${process.version}, linux ${release()}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}; ` +
        `${passed} of ${rows.length} scenarios hold; total run time ${minutes(elapsed)} (${Math.round(elapsed / 1000)} s).`,
      `Processes of the suite left at the end: ${left.live.length} running, ${left.zombies.length} zombies.`,
      '',
    ];
    const text = [...header, ...lines, ''].join('\n');
    const dir = join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `faults-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
    writeFileSync(file, text);
    process.stdout.write(`\n${text}\nwritten to ${file}\n`);
  }
}
