// The GitHub workflows cannot run here, so their shape is pinned instead: they
// parse, they cover the matrix the package promises, and every step is a
// command that runs the same way on a developer's machine (npm ci, npm test,
// or a script of package.json), so a green local run means a green workflow.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const SCRIPTS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

interface Target {
  platform: string;
  arch: string;
  libc: string;
}
const { TARGETS } = createRequire(__filename)('../scripts/check-prebuilds.js') as { TARGETS: Target[] };

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Job {
  name?: string;
  needs?: string | string[];
  'runs-on': string;
  permissions?: Record<string, string>;
  strategy?: { 'fail-fast'?: boolean; matrix: Record<string, unknown> & { include?: Record<string, string>[] } };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

function workflow(file: string): Workflow {
  // parse() throws on a syntax error, and with uniqueKeys on a duplicated key.
  return parse(readFileSync(join(WORKFLOWS, file), 'utf8'), { uniqueKeys: true, prettyErrors: true }) as Workflow;
}

/**
 * The commands of a `run:` step, one by one. A step that runs them in an
 * Alpine container (`docker run … IMAGE sh -c '…'`) is unwrapped; installing
 * the system's build tools there is what .ci/run does with apt-get.
 */
function commands(run: string): string[] {
  const out: string[] = [];
  for (const line of run.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const docker = /^docker run .* sh -c '([^']*)'$/.exec(line);
    if (docker) {
      out.push(...commands(docker[1].replace(/ && /g, '\n')).filter((c) => !/^apk add --no-cache [\w+ -]+$/.test(c)));
      continue;
    }
    out.push(...line.split('&&').map((c) => c.trim()));
  }
  return out;
}

/** npm ci, npm test, or `npm run <a script of package.json>`: nothing a developer cannot run. */
function isLocalCommand(command: string): boolean {
  if (command === 'npm ci' || command === 'npm test' || command === 'npm pack --dry-run') return true;
  if (command === 'npm publish --provenance --access public') return true;
  const script = /^npm run ([\w:-]+)$/.exec(command);
  return script !== null && SCRIPTS.includes(script[1]);
}

function allCommands(wf: Workflow): string[] {
  return Object.values(wf.jobs).flatMap((job) => job.steps.flatMap((step) => (step.run === undefined ? [] : commands(step.run))));
}

describe('.github/workflows/ci.yml', () => {
  const ci = workflow('ci.yml');

  it('tests on every push: Linux and macOS, Node 20, 22 and 24', () => {
    expect(Object.keys(ci.on)).toContain('push');
    expect(ci.on.push ?? {}).not.toHaveProperty('branches');
    const test = ci.jobs.test;
    expect(test.strategy?.matrix.os).toEqual(['ubuntu-latest', 'macos-latest']);
    expect(test.strategy?.matrix.node).toEqual([20, 22, 24]);
    expect(test.strategy?.['fail-fast']).toBe(false);
    expect(test['runs-on']).toBe('${{ matrix.os }}');
    expect(test.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe('${{ matrix.node }}');
    expect(commands(test.steps.map((s) => s.run ?? '').join('\n'))).toEqual(['npm ci', 'npm test', 'npm pack --dry-run']);
  });

  it('runs only commands a developer runs', () => {
    for (const command of allCommands(ci)) expect(isLocalCommand(command), command).toBe(true);
  });
});

describe('.github/workflows/release.yml', () => {
  const release = workflow('release.yml');
  const { prebuild, verify, publish } = release.jobs;
  const verifyMusl = release.jobs['verify-musl'];
  const download = (job: Job): Step | undefined => job.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'));

  it('runs on version tags only', () => {
    expect(release.on).toEqual({ push: { tags: ['v*'] } });
    expect(release.permissions).toEqual({ contents: 'read' });
  });

  it('builds every prebuild on one Linux x64 runner with npm run prebuild:all, checks them all, uploads prebuilds/', () => {
    expect(prebuild['runs-on']).toMatch(/^ubuntu-\d/);
    expect(prebuild['runs-on']).not.toMatch(/-arm$/);
    expect(prebuild.strategy).toBeUndefined();
    expect(prebuild.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe(20);
    expect(allCommands({ ...release, jobs: { prebuild } })).toEqual(['npm ci', 'npm run prebuild:all', 'npm run check:prebuilds']);
    const upload = prebuild.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.with).toEqual({ name: 'prebuilds', path: 'prebuilds/', 'if-no-files-found': 'error' });
  });

  it('runs every prebuild natively: each target has a runner of its own platform and CPU, under Node 20, 22 and 24', () => {
    expect(verify.needs).toBe('prebuild');
    expect(verifyMusl.needs).toBe('prebuild');
    for (const job of [verify, verifyMusl]) {
      expect(job.strategy?.matrix.node).toEqual([20, 22, 24]);
      expect(job.strategy?.['fail-fast']).toBe(false);
      expect(job['runs-on']).toBe('${{ matrix.runner }}');
      expect(download(job)?.with).toEqual({ name: 'prebuilds', path: 'prebuilds' });
      expect(allCommands({ ...release, jobs: { job } })).toEqual(['npm ci', 'npm run test:prebuilds']);
    }
    const glibcAndMac = verify.strategy?.matrix.runner as string[];
    const musl = verifyMusl.strategy?.matrix.runner as string[];
    /** The runner's platform and CPU, from GitHub's names. */
    const runs = (runner: string, t: Target): boolean =>
      t.platform === 'linux'
        ? runner.startsWith('ubuntu-') && runner.endsWith('-arm') === (t.arch === 'arm64')
        : runner.startsWith('macos-') && /intel|macos-13/.test(runner) === (t.arch === 'x64');
    for (const t of TARGETS) {
      const runners = t.libc === 'musl' ? musl : glibcAndMac;
      expect(runners.filter((r) => runs(r, t)), `${t.platform}-${t.arch}-${t.libc}`).toHaveLength(1);
    }
    // musl: in Alpine, the Node of the matrix.
    const docker = verifyMusl.steps.find((s) => s.run?.startsWith('docker run'));
    expect(docker?.run).toContain('node:${{ matrix.node }}-alpine');
    expect(verifyMusl.steps.some((s) => s.uses?.startsWith('actions/setup-node@'))).toBe(false);
    expect(verify.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe('${{ matrix.node }}');
  });

  it('publishes with provenance after checking every prebuild is there and testing on prebuilds only', () => {
    expect(publish.needs).toEqual(['prebuild', 'verify', 'verify-musl']);
    expect(publish.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(download(publish)?.with).toEqual({ name: 'prebuilds', path: 'prebuilds' });
    expect(allCommands({ ...release, jobs: { publish } })).toEqual([
      'npm ci',
      'npm run check:prebuilds',
      'npm run test:prebuilds',
      'npm publish --provenance --access public',
    ]);
  });

  it('runs only commands a developer runs', () => {
    for (const command of allCommands(release)) expect(isLocalCommand(command), command).toBe(true);
    // The scripts the workflows rely on exist.
    expect(SCRIPTS).toEqual(expect.arrayContaining(['prebuild:all', 'check:prebuilds', 'test:prebuilds']));
  });
});
