// What a server's start loads (issue 22): `require('handover')` and a
// GracefulServer load the layers a server uses — one bundle each
// (scripts/bundle.js) — and the addon, once; not the supervisor, not the
// CLI, and no builtin for a protocol the server does not speak (TLS, HTTP/2,
// DNS, UDP) nor node:crypto. The supervisor loads when one of its exports is
// first used. Timings are the benchmark's (npm run bench:startup), not a test's.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
/** The package entry to load: the repository's, or HANDOVER_TEST_ENTRY (another build, to compare). */
const ENTRY = process.env.HANDOVER_TEST_ENTRY ?? join(ROOT, 'index.js');

const REPORT = `
  const before = new Set(process.moduleLoadList);
  const http = require('node:http');
  const afterHttp = new Set(process.moduleLoadList);
  const handover = require(process.argv[1]);
  const server = new handover.GracefulServer(http.createServer(), { upgradeSignals: false, shutdownSignals: false });
  const root = require('node:path').dirname(process.argv[1]);
  const files = () => Object.keys(require.cache).filter((k) => k.startsWith(root + '/') && !k.includes('/node_modules/')).map((k) => k.slice(root.length + 1));
  const builtins = [...process.moduleLoadList].filter((m) => !afterHttp.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13));
  const atStart = files();
  const supervisorType = typeof handover.Supervisor;
  console.log(JSON.stringify({ atStart, builtins, supervisorType, afterSupervisor: files(), ready: typeof server.listen }));
`;

function report(): Promise<{ atStart: string[]; builtins: string[]; supervisorType: string; afterSupervisor: string[] }> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['-e', REPORT, ENTRY], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${err.message}\n${stderr}`));
      else done(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

describe('a GracefulServer start', () => {
  it('loads one bundle per layer it uses and the addon once: neither the supervisor nor the CLI', async () => {
    const { atStart } = await report();
    const addons = atStart.filter((f) => f.endsWith('.node'));
    expect(addons).toHaveLength(1);
    expect(atStart.filter((f) => !f.endsWith('.node')).sort()).toEqual(['dist/core.js', 'dist/drain.js', 'dist/http.js', 'dist/index.js', 'dist/native.js', 'dist/protocol.js', 'dist/upgrade.js', 'index.js']);
  });

  it('loads no builtin for TLS, HTTP/2, DNS, UDP, crypto or terminals', async () => {
    const { builtins } = await report();
    for (const name of ['tls', 'https', 'http2', 'crypto', 'dns', 'dns/promises', 'dgram', 'tty', 'perf_hooks']) expect(builtins, name).not.toContain(name);
  });

  it('loads the supervisor on first use of one of its exports, as the same function it always was', async () => {
    const { supervisorType, afterSupervisor } = await report();
    expect(supervisorType).toBe('function');
    expect(afterSupervisor).toContain('dist/supervisor.js');
    expect(afterSupervisor.some((f) => f.startsWith('dist/cli'))).toBe(false);
  });
});

describe('an ES module server start', () => {
  // `import` reads every named export of a CommonJS entry: through 'handover', that runs the supervisor's getters.
  const IMPORT = `
    const entry = process.argv[1];
    const { createRequire } = require('node:module');
    import(entry).then((handover) => {
      const server = new handover.GracefulServer(require('node:http').createServer(), { upgradeSignals: false, shutdownSignals: false });
      const root = ${JSON.stringify(ROOT)};
      const files = Object.keys(createRequire(entry).cache).filter((k) => k.startsWith(root + '/') && !k.includes('/node_modules/')).map((k) => k.slice(root.length + 1));
      console.log(JSON.stringify({ files, supervisor: 'Supervisor' in handover, ready: typeof server.listen }));
    });
  `;
  const imported = (entry: string): Promise<{ files: string[]; supervisor: boolean; ready: string }> =>
    new Promise((done, fail) => {
      execFile(process.execPath, ['-e', IMPORT, entry], { encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) fail(new Error(`${err.message}\n${stderr}`));
        else done(JSON.parse(stdout.trim().split('\n').pop()!));
      });
    });

  it("import('handover/server') loads the same layers as require('handover'), not the supervisor; import('handover') does load it", async () => {
    const server = await imported(join(ROOT, 'server.js'));
    expect(server.ready).toBe('function');
    expect(server.supervisor).toBe(false);
    expect(server.files.filter((f) => !f.endsWith('.node')).sort()).toEqual(['dist/core.js', 'dist/drain.js', 'dist/http.js', 'dist/index.js', 'dist/native.js', 'dist/protocol.js', 'dist/upgrade.js', 'server.js']);
    const main = await imported(join(ROOT, 'index.js'));
    expect(main.supervisor).toBe(true);
    expect(main.files).toContain('dist/supervisor.js');
  });
});
