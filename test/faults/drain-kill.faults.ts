// Fault: the old generation is SIGKILLed in the middle of its drain (the OOM
// killer, an operator's kill -9). The new generation must serve on with no
// port gap: it shares the very listening socket, so the kernel's accept queue
// never goes away. Only what the killed process itself held is lost.
import { afterAll, afterEach, expect, it } from 'vitest';
import { cleanupRuns, removeScratch } from '../helpers/generations';
import { cleanupSupervisors } from '../helpers/supervisor';
import { describeLoad, gone, Load, outcome, readyOf, report, servingPid, since, startGraceful, startSupervisor, stopLoads, upgrade, ZERO_ERRORS } from './harness';

afterEach(async () => {
  await stopLoads();
  await cleanupRuns();
  await cleanupSupervisors();
});
afterAll(() => removeScratch());

const MUST = 'the new generation serves on; the connect loop never gets ECONNREFUSED; no keep-alive client error; only the request held on the killed pid is lost; the next upgrade/reload works';

it('GracefulServer: the old generation SIGKILLed mid-drain', async (context) => {
  const row = report(context, { order: 10, scenario: 'Old generation SIGKILLed mid-drain', model: 'GracefulServer', must: MUST });
  // drainRamp 0: during a ramp the old generation still accepts, and what it has
  // accepted dies with it (SIGKILL's cost); the row is about the drain after that.
  const run = startGraceful({ options: { drainTimeout: 60_000, drainRamp: 0 } });
  const first = await readyOf(run, null);
  const load = new Load(first.port);
  await load.servedMore(first.pid);
  // A request the old generation never answers keeps its drain going.
  const held = outcome(first.port, '/never?id=held');
  await run.next({ event: 'request', pid: first.pid });
  const second = await upgrade(run, first);
  // Mid-drain: every load connection has left it; the held request remains.
  await run.next((e) => e.event === 'drain-stats' && e.pid === first.pid && e.connections === 1 && e.requests === 1);
  await load.servedMore(second.pid);
  const killedAt = Date.now();
  run.signal(first.pid, 'SIGKILL');
  const heldOutcome = await held;
  await run.next({ event: 'parent-exited', pid: second.pid });
  await gone(run, first.pid);
  const noticed = since(killedAt);
  // Load for a while on the survivor alone, then a normal upgrade.
  await load.servedMore(second.pid, 400);
  const third = await upgrade(run, second);
  await load.servedMore(third.pid);
  const totals = await load.stop();
  row.result = `held request on the killed pid: ${heldOutcome}; new generation saw its parent exit after ${noticed} ms; ${describeLoad(totals)}; next upgrade: pid ${second.pid} -> ${third.pid}`;
  expect(heldOutcome).toBe('ECONNRESET');
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
  // What servedMore() counted: both clients' answers from the survivor.
  expect((totals.keepAlive.byBody[String(second.pid)] ?? 0) + (totals.connectLoop.byBody[String(second.pid)] ?? 0)).toBeGreaterThan(400);
});

it('supervisor: the old generation SIGKILLed mid-drain', async (context) => {
  const row = report(context, { order: 11, scenario: 'Old generation SIGKILLed mid-drain', model: 'supervisor', must: MUST });
  // drainRamp 0: during a ramp the old generation still accepts, and what it has
  // accepted dies with it (SIGKILL's cost); the row is about the drain after that.
  const run = startSupervisor({ options: { drainTimeout: 60_000, drainRamp: 0 } });
  const port = await run.port();
  const pid1 = await servingPid(run, 1);
  const load = new Load(port);
  await load.servedMore(pid1);
  const held = outcome(port, '/never?id=held');
  await run.event({ event: 'request', pid: pid1 });
  const mark = run.logs.length;
  run.signal('SIGHUP');
  const pid2 = await servingPid(run, 2, mark);
  await run.event({ event: 'draining', pid: pid1 });
  await run.event({ event: 'drain-stats', pid: pid1, connections: 1, requests: 1 });
  await load.servedMore(pid2);
  process.kill(pid1, 'SIGKILL'); // a generation of ours: alive (it drains), so not a reused pid
  const heldOutcome = await held;
  const exited = await run.log(new RegExp(`generation 1 \\(pid ${pid1}\\) exited \\(killed by SIGKILL\\)`), mark);
  await load.servedMore(pid2, 400);
  const mark2 = run.logs.length;
  run.signal('SIGHUP');
  const pid3 = await servingPid(run, 3, mark2);
  await load.servedMore(pid3);
  const totals = await load.stop();
  row.result = `held request on the killed pid: ${heldOutcome}; supervisor: "${exited[0].replace(/^handover\[\d+\]: /, '')}"; ${describeLoad(totals)}; next reload: pid ${pid2} -> ${pid3}`;
  expect(heldOutcome).toBe('ECONNRESET');
  expect(totals.keepAlive.errors, totals.keepAlive.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(totals.connectLoop.errors, totals.connectLoop.samples.join('\n')).toEqual(ZERO_ERRORS);
  expect(run.logsMatching(/crashed|restarting/)).toEqual([]);
});
