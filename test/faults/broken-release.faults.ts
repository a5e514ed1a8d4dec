// Fault: a bad deploy lands before an upgrade — the script deleted or
// replaced by one that does not parse, the node binary deleted, replaced by
// garbage or left without its execute bit. Each upgrade (or reload) must fail
// with an error that says what is wrong, while the old generation serves on
// under load; putting the release right makes the next upgrade work.
import { chmodSync, copyFileSync, linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch, scratchDir } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, FAULT_APP, Load, nth, readyOf, report, servingPid, startGraceful, startSupervisor, stopLoads, upgrade, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

/** What node prints when it cannot load the script. */
const CHILD_ERROR = /SyntaxError[^\n]*|Error: Cannot find module[^\n]*/;

/** A release directory: a node binary (hard link or copy) and the app script, both ours to break. */
function release(): { dir: string; node: string; script: string; putNode(): void; putScript(): void } {
  const dir = scratchDir('faults-release-');
  const node = join(dir, 'node');
  const script = join(dir, 'app.js');
  const putNode = () => {
    try {
      unlinkSync(node);
    } catch {
      // not there
    }
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
    }
  };
  const putScript = () => copyFileSync(FAULT_APP, script);
  putNode();
  putScript();
  return { dir, node, script, putNode, putScript };
}

/** The faults, in order; each leaves the release broken until `repair`. */
function faults(r: ReturnType<typeof release>): { name: string; apply(): void; repair(): void }[] {
  const replaceNode = (content: string, mode: number) => {
    unlinkSync(r.node); // never write through the hard link into the real node
    writeFileSync(r.node, content);
    chmodSync(r.node, mode);
  };
  return [
    { name: 'script deleted', apply: () => unlinkSync(r.script), repair: r.putScript },
    { name: 'script replaced by one that does not parse', apply: () => writeFileSync(r.script, 'this is not javascript (\n'), repair: r.putScript },
    { name: 'node binary deleted', apply: () => unlinkSync(r.node), repair: r.putNode },
    { name: 'node binary replaced by garbage', apply: () => replaceNode('\x7fELF garbage, not a binary\n', 0o755), repair: r.putNode },
    { name: 'node binary without its execute bit', apply: () => replaceNode('#!/bin/sh\nexit 0\n', 0o644), repair: r.putNode },
  ];
}

it('GracefulServer: script or binary deleted or broken before an upgrade', async (context) => {
  const row = report(context, {
    order: 30,
    scenario: 'Script / node binary deleted or replaced by a broken one before an upgrade',
    model: 'GracefulServer',
    must: "each upgrade fails with a clear error ('upgrade-failed': code, cause, the child's own stderr); the old generation serves on (0 client errors, 0 refused); repaired, the next upgrade works",
  });
  const r = release();
  const run = startGraceful({}, { node: r.node, script: r.script });
  const first = await readyOf(run, null);
  const load = new Load(first.port);
  await load.servedMore(first.pid);
  const results: string[] = [];
  const failures: Record<string, unknown>[] = [];
  for (const [i, fault] of faults(r).entries()) {
    fault.apply();
    const stderrBefore = run.stderr.length;
    run.signal(first.pid, 'SIGHUP');
    const failed = await nth(run, i, { event: 'upgrade-failed', pid: first.pid });
    let childSaid = '';
    if (failed.code === 'ERR_CHILD_EXITED') {
      // The child's stderr is ours (inherited fd 2); it may trail the event by a moment.
      await expect.poll(() => run.stderr.slice(stderrBefore), { timeout: 5000 }).toMatch(CHILD_ERROR);
      childSaid = CHILD_ERROR.exec(run.stderr.slice(stderrBefore))![0];
    }
    failures.push({ fault: fault.name, code: failed.code, causeCode: failed.causeCode, exitCode: failed.exitCode, childSaid });
    results.push(`${fault.name}: ${failed.code}${failed.causeCode ? ` (${failed.causeCode})` : ''} "${failed.message}"${childSaid ? `, child's stderr: "${childSaid.replace(r.dir, '<release>')}"` : ''}`);
    await load.servedMore(first.pid, 50);
    fault.repair();
  }
  const second = await upgrade(run, first);
  await load.servedMore(second.pid);
  const totals = await load.stop();
  row.result = `${results.join('; ')}. Old pid served throughout: ${describeLoad(totals)}; repaired: upgrade to pid ${second.pid}`.replaceAll(r.dir, '<release>');
  expect(failures).toEqual([
    { fault: 'script deleted', code: 'ERR_CHILD_EXITED', causeCode: undefined, exitCode: 1, childSaid: expect.stringMatching(/Cannot find module/) },
    { fault: 'script replaced by one that does not parse', code: 'ERR_CHILD_EXITED', causeCode: undefined, exitCode: 1, childSaid: expect.stringMatching(/SyntaxError/) },
    { fault: 'node binary deleted', code: 'ERR_EXEC', causeCode: 'ENOENT', exitCode: undefined, childSaid: '' },
    { fault: 'node binary replaced by garbage', code: 'ERR_EXEC', causeCode: 'ENOEXEC', exitCode: undefined, childSaid: '' },
    { fault: 'node binary without its execute bit', code: 'ERR_EXEC', causeCode: 'EACCES', exitCode: undefined, childSaid: '' },
  ]);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});

it('supervisor: script or binary deleted or broken before a reload', async (context) => {
  const row = report(context, {
    order: 31,
    scenario: 'Script / node binary deleted or replaced by a broken one before a reload',
    model: 'supervisor',
    must: "each reload fails with a clear log line ('reload failed: ...; generation 1 goes on serving', the child's own stderr); the old generation serves on (0 client errors, 0 refused); repaired, the next reload works",
  });
  const r = release();
  const run = startSupervisor({}, [], { node: r.node, script: r.script });
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid1);
  const results: string[] = [];
  const lines: string[] = [];
  for (const fault of faults(r)) {
    fault.apply();
    const mark = run.logs.length;
    run.signal('SIGHUP');
    const failed = await run.log(/reload failed: (.*)$/, mark);
    const childSaid = run.logs.slice(mark).find((l) => CHILD_ERROR.test(l));
    lines.push(failed[1]);
    results.push(`${fault.name}: "${failed[1]}"${childSaid ? `, child's stderr: "${childSaid.trim()}"` : ''}`);
    await load.servedMore(pid1, 50);
    fault.repair();
  }
  const mark = run.logs.length;
  run.signal('SIGHUP');
  const pidNext = await servingPid(run, Number((await run.log(/generation ([0-9]+) started/, mark))[1]), mark);
  await load.servedMore(pidNext);
  const totals = await load.stop();
  row.result = `${results.join('; ')}. Old pid served throughout: ${describeLoad(totals)}; repaired: reload to pid ${pidNext}`.replaceAll(r.dir, '<release>');
  const serving = `generation 1 \\(pid ${pid1}\\) goes on serving`;
  expect(lines[0]).toMatch(new RegExp(`^generation [0-9]+ \\(pid [0-9]+\\) exited before it was ready: exit code 1; ${serving}$`));
  expect(lines[1]).toMatch(new RegExp(`^generation [0-9]+ \\(pid [0-9]+\\) exited before it was ready: exit code 1; ${serving}$`));
  expect(lines[2]).toMatch(new RegExp(`^cannot start generation [0-9]+: ENOENT: no such file or directory, execve '${r.node}'; ${serving}$`));
  expect(lines[3]).toMatch(new RegExp(`^cannot start generation [0-9]+: ENOEXEC: exec format error, execve '${r.node}'; ${serving}$`));
  expect(lines[4]).toMatch(new RegExp(`^cannot start generation [0-9]+: EACCES: permission denied, execve '${r.node}'; ${serving}$`));
  expect(results[0]).toMatch(/Cannot find module/);
  expect(results[1]).toMatch(/SyntaxError/);
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
});
