// The package's public surface: every name `index.js` exports at run time and
// every name `dist/index.d.ts` declares, with what it is. A change to either
// list is a change to the API (DESIGN.md fixes the names): make it here, on
// purpose, and in the README. Runs against the built package (pretest builds dist/).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');

/** [name, 'value' | 'type' | 'value+type', typeof the runtime value]. */
const SURFACE: [string, string, string?][] = [
  ["BindSocketOptions", "type"],
  ["BoundSocket", "type"],
  ["DEFAULT_DRAIN_IDLE_TIMEOUT", "value", "number"],
  ["DEFAULT_DRAIN_RAMP", "value", "number"],
  ["DEFAULT_DRAIN_TIMEOUT", "value", "number"],
  ["DEFAULT_FILES", "value", "object"],
  ["DEFAULT_PROBATION", "value", "number"],
  ["DEFAULT_READY_TIMEOUT", "value", "number"],
  ["DEFAULT_RELOAD_PARALLEL", "value", "number"],
  ["DEFAULT_RESTART_BACKOFF", "value", "number"],
  ["DEFAULT_RESTART_BACKOFF_MAX", "value", "number"],
  ["DEFAULT_SHUTDOWN_SIGNALS", "value", "object"],
  ["DEFAULT_SUPERVISOR_DRAIN_TIMEOUT", "value", "number"],
  ["DEFAULT_UPGRADE_SIGNALS", "value", "object"],
  ["DEFAULT_UPGRADE_TIMEOUT", "value", "number"],
  ["DEFAULT_WORKERS", "value", "number"],
  ["DrainCounter", "value+type", "function"],
  ["DrainResult", "type"],
  ["ERROR_CODES", "value", "object"],
  ["ExitStatus", "type"],
  ["FAILED_CHILD_GRACE", "value", "number"],
  ["FAILED_GENERATION_GRACE", "value", "number"],
  ["FORWARDED_SIGNALS", "value", "object"],
  ["FdInfo", "type"],
  ["ForkExecAttributes", "type"],
  ["Generation", "value+type", "function"],
  ["GenerationState", "type"],
  ["GracefulServer", "value+type", "function"],
  ["GracefulServerOptions", "type"],
  ["HandoverError", "value+type", "function"],
  ["HandoverErrorCode", "type"],
  ["Inheritance", "type"],
  ["InheritedFd", "type"],
  ["LISTEN_FDS_START", "value", "number"],
  ["ListenAndServeOptions", "type"],
  ["ListenSpec", "type"],
  ["MAX_FILES", "value", "number"],
  ["NotifyFields", "type"],
  ["NotifyListener", "value+type", "function"],
  ["NotifyMessage", "type"],
  ["PacketSpec", "type"],
  ["REAP_GRACE_MS", "value", "number"],
  ["ReadyMode", "type"],
  ["RestartPolicy", "type"],
  ["ServerDrainer", "value+type", "function"],
  ["ServerDrainerOptions", "type"],
  ["Supervisor", "value+type", "function"],
  ["SupervisorListener", "type"],
  ["SupervisorOptions", "type"],
  ["SystemError", "type"],
  ["Upgrader", "value+type", "function"],
  ["UpgraderOptions", "type"],
  ["WaitPidOptions", "type"],
  ["ZombieReaper", "value+type", "function"],
  ["ZombieReaperOptions", "type"],
  ["becomeSubreaper", "value", "function"],
  ["bindSocket", "value", "function"],
  ["dupCloexec", "value", "function"],
  ["forkExecWithFds", "value", "function"],
  ["formatAddress", "value", "function"],
  ["formatNotify", "value", "function"],
  ["inspectFd", "value", "function"],
  ["listenAndServe", "value", "function"],
  ["listenOnFd", "value", "function"],
  ["parseAddress", "value", "function"],
  ["parseListenArgs", "value", "function"],
  ["parseNotify", "value", "function"],
  ["sdNotify", "value", "function"],
  ["setCloexec", "value", "function"],
  ["signalName", "value", "function"],
  ["signalNumber", "value", "function"],
  ["systemError", "value", "function"],
  ["takeInheritedFds", "value", "function"],
  ["waitPid", "value", "function"],
  ["writePidFile", "value", "function"],
];

/** The supervisor layer's names: the ones `handover/server` (server.js, server.d.ts) leaves out. */
const SUPERVISOR_ONLY = new Set(['Supervisor', 'Generation', 'ZombieReaper', 'FAILED_GENERATION_GRACE', 'DEFAULT_READY_TIMEOUT', 'DEFAULT_SUPERVISOR_DRAIN_TIMEOUT', 'DEFAULT_PROBATION', 'DEFAULT_RESTART_BACKOFF', 'DEFAULT_RESTART_BACKOFF_MAX', 'DEFAULT_WORKERS', 'DEFAULT_RELOAD_PARALLEL', 'FORWARDED_SIGNALS', 'REAP_GRACE_MS', 'becomeSubreaper', 'SupervisorOptions', 'SupervisorListener', 'GenerationState', 'RestartPolicy', 'ReadyMode', 'ZombieReaperOptions']);

/** The names a .d.ts file exports, each with whether it is a value, a type or both, sorted. */
function declaredBy(file: string): string[][] {
  const program = ts.createProgram([file], { noEmit: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  return checker
    .getExportsOfModule(module)
    .map((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const value = (target.flags & ts.SymbolFlags.Value) !== 0;
      const type = (target.flags & ts.SymbolFlags.Type) !== 0;
      return [symbol.name, value && type ? 'value+type' : value ? 'value' : 'type'];
    })
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('public surface', () => {
  it('index.js exports exactly the values of the surface, and itself as default', () => {
    const api = createRequire(__filename)(join(ROOT, 'index.js')) as Record<string, unknown>;
    const values = SURFACE.filter(([, kind]) => kind !== 'type');
    expect(Object.keys(api).sort()).toEqual([...values.map(([name]) => name), 'default'].sort());
    for (const [name, , type] of values) expect([name, typeof api[name]]).toEqual([name, type]);
    expect(api.default).toBe(api);
  });

  it('dist/index.d.ts declares exactly the surface', () => {
    expect(declaredBy(join(ROOT, 'dist', 'index.d.ts'))).toEqual(SURFACE.map(([name, kind]) => [name, kind]));
  });

  it("handover/server exports the same values minus the supervisor layer's, each the very same, and itself as default", () => {
    const load = createRequire(__filename);
    const api = load(join(ROOT, 'index.js')) as Record<string, unknown>;
    const server = load(join(ROOT, 'server.js')) as Record<string, unknown>;
    const values = SURFACE.filter(([name, kind]) => kind !== 'type' && !SUPERVISOR_ONLY.has(name)).map(([name]) => name);
    expect(Object.keys(server).sort()).toEqual([...values, 'default'].sort());
    for (const name of values) expect([name, server[name] === api[name]]).toEqual([name, true]);
    expect(server.default).toBe(server);
  });

  it("server.d.ts declares the surface minus the supervisor layer's", () => {
    expect(declaredBy(join(ROOT, 'server.d.ts'))).toEqual(SURFACE.filter(([name]) => !SUPERVISOR_ONLY.has(name)).map(([name, kind]) => [name, kind]));
  });

  it('package.json exports handover/server with its types, and packs both files', () => {
    const pkg = createRequire(__filename)(join(ROOT, 'package.json')) as { exports: Record<string, unknown>; files: string[] };
    expect(pkg.exports['./server']).toEqual({ types: './server.d.ts', default: './server.js' });
    expect(pkg.files).toEqual(expect.arrayContaining(['/server.js', '/server.d.ts']));
  });
});
