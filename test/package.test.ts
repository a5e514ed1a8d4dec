// The package as users get it. `npm pack`, then `npm install <tarball>` in a
// project of its own with no compiler to be found (PATH holds only node and sh, CC and
// CXX are /bin/false, npm_config_build_from_source=false): the install succeeds
// only by loading a prebuild. Then require(), import, tsc on a CommonJS and an
// ES module consumer, and the install hook on Windows.
//
// The prebuild is made the way a release makes it, `npm run prebuild`, in a copy
// of the packed files (never in the repo: node-gyp would rebuild build/ under
// the other tests). Under PREBUILDS_ONLY=1 (npm run test:prebuilds, the release
// workflow) the repo's own prebuilds/ are packed instead, so the artifacts
// about to be published are the ones installed and run.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PREBUILDS_ONLY = Boolean(process.env.PREBUILDS_ONLY);
/** test/fixtures/consumer-*: TypeScript applications that use the installed package. */
const CONSUMERS = ['consumer-cjs', 'consumer-esm'];

interface CheckPrebuilds {
  prebuildPath(target: { platform: string; arch: string; libc: string }): string;
}
const { prebuildPath } = createRequire(__filename)('../scripts/check-prebuilds.js') as CheckPrebuilds;

/** This machine's prebuild, as node-gyp-build looks for it. */
const CURRENT_PREBUILD = prebuildPath({
  platform: process.platform,
  arch: process.arch,
  libc: process.platform === 'linux' && existsSync('/etc/alpine-release') ? 'musl' : 'glibc',
});

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never rejects, so a test can look at a failure. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Output> {
  return new Promise((done) => {
    execFile(command, args, { ...options, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      done({ code, stdout, stderr: err !== null && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
  });
}

/** Like {@link run}, but a failure is an error that shows the output. */
async function must(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Output> {
  const out = await run(command, args, options);
  if (out.code !== 0) throw new Error(`${[command, ...args].join(' ')} exited with ${out.code}\n${out.stdout}\n${out.stderr}`);
  return out;
}

/** npm's own script, run with this test's node: the npm that runs `npm test`, else the one on PATH. */
function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm !== undefined && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (dir !== '' && existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error('npm not found');
}

/** The environment without what the outer `npm test` put in it about this repo. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_|^npm_config_(local_prefix|global_prefix|prefix)$|^npm_command$|^INIT_CWD$/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Every file under `dir`, relative to `base`, with forward slashes. */
function filesUnder(dir: string, base: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => path.slice(base.length + 1).split('\\').join('/'));
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

let tmp: string;
let npm: (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => Promise<Output>;
let tarball: PackResult;
let installLog: Output;
let project: string;
let installed: string;
/** PATH and compiler variables that hide every compiler from the install and from node-gyp. */
let noCompiler: NodeJS.ProcessEnv;

/**
 * Loaded with --require into every Node process of an install (NODE_OPTIONS):
 * appends each program started through child_process to $HANDOVER_SPAWN_LOG.
 */
const SPAWN_RECORDER = `
  const child = require('node:child_process');
  const { appendFileSync } = require('node:fs');
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    const original = child[name];
    child[name] = function (command, args) {
      appendFileSync(process.env.HANDOVER_SPAWN_LOG, [command, ...(Array.isArray(args) ? args : [])].join(' ') + '\\n');
      return original.apply(this, arguments);
    };
  }
`;

/** The environment of an install whose started programs go to `log`. */
function recording(env: NodeJS.ProcessEnv, log: string): NodeJS.ProcessEnv {
  return { ...env, HANDOVER_SPAWN_LOG: log, NODE_OPTIONS: `--require ${join(tmp, 'record-spawns.js')}` };
}

/** The programs logged in `log`, one per line. */
function started(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'handover-package-'));
  const cli = npmCli();
  npm = (args, cwd, env = cleanEnv()) => must(process.execPath, [cli, ...args], { cwd, env });

  // 1. What `files` selects from the repo, unpacked into a staging directory.
  // --ignore-scripts: prepack would empty dist/ under the other tests' feet.
  const [fromRepo] = JSON.parse((await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)).stdout) as PackResult[];
  const stage = join(tmp, 'stage');
  mkdirSync(stage);
  await must('tar', ['-xzf', join(tmp, fromRepo.filename), '-C', stage], { cwd: tmp });
  rmSync(join(tmp, fromRepo.filename));
  const staged = join(stage, 'package');

  // 2. dist/ as prepack + prepare leave it (compiled afresh from lib/, nothing
  // stale), and the prebuild, side by side.
  rmSync(join(staged, 'dist'), { recursive: true, force: true });
  const compile = must(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', join(staged, 'dist')], { cwd: ROOT }).then(() =>
    must(process.execPath, [join(ROOT, 'scripts', 'bundle.js'), '--dist', join(staged, 'dist')], { cwd: ROOT }),
  );
  const prebuild = (async () => {
    if (PREBUILDS_ONLY) {
      if (!existsSync(join(staged, CURRENT_PREBUILD))) throw new Error(`PREBUILDS_ONLY is set but ${CURRENT_PREBUILD} is not in prebuilds/: run npm run prebuild`);
      return;
    }
    rmSync(join(staged, 'prebuilds'), { recursive: true, force: true });
    symlinkSync(join(ROOT, 'node_modules'), join(staged, 'node_modules'), 'dir');
    try {
      await npm(['run', 'prebuild'], staged);
    } finally {
      unlinkSync(join(staged, 'node_modules'));
      rmSync(join(staged, 'build'), { recursive: true, force: true });
    }
  })();
  await Promise.all([compile, prebuild]);

  // 3. The tarball.
  [tarball] = JSON.parse((await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], staged)).stdout) as PackResult[];

  // 4. Installed where no compiler can be found.
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs scripts with `sh` from PATH
  noCompiler = cleanEnv({ PATH: bin, CC: '/bin/false', CXX: '/bin/false', npm_config_build_from_source: 'false' });
  // Every Node process of the install (npm, the hook, node-gyp-build) logs
  // each program it starts: a build would start node-gyp.
  writeFileSync(join(tmp, 'record-spawns.js'), SPAWN_RECORDER);
  project = join(tmp, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  installLog = await run(
    process.execPath,
    [cli, 'install', join(tmp, tarball.filename), '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--foreground-scripts'],
    { cwd: project, env: recording(noCompiler, join(tmp, 'install-spawns')) },
  );
  installed = join(project, 'node_modules', 'handover');
  // @types/node, which the package's declarations refer to, for the TypeScript consumers.
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'), 'dir');
}, 300_000);

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

/** A node script in the installed project, with no compiler around. */
async function inProject(args: string[]): Promise<Output> {
  return must(process.execPath, args, { cwd: project, env: noCompiler });
}

describe('npm pack', () => {
  it('holds the entry points, dist/, the native sources, binding.gyp, the prebuilds, README, LICENSE, the install hook and the CLI: nothing else', () => {
    const sources = filesUnder(join(ROOT, 'lib'), join(ROOT, 'lib'))
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
      .map((name) => name.slice(0, -'.ts'.length));
    const prebuilds = PREBUILDS_ONLY ? filesUnder(join(ROOT, 'prebuilds'), ROOT) : [CURRENT_PREBUILD];
    const expected = [
      'LICENSE',
      'README.md',
      'package.json',
      'index.js',
      // handover/server: the entry without the supervisor layer, and its types.
      'server.js',
      'server.d.ts',
      'binding.gyp',
      'scripts/install.js',
      // The declarations of every file; the code as one bundle per layer with
      // its source map (scripts/bundle.js), and tsc's dist/index.js above them.
      ...sources.map((name) => `dist/${name}.d.ts`),
      'dist/index.js',
      'dist/index.js.map',
      ...readdirSync(join(ROOT, 'lib'), { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => [`dist/${e.name}.js`, `dist/${e.name}.js.map`, `dist/${e.name}.d.ts`]),
      ...filesUnder(join(ROOT, 'native'), ROOT),
      ...prebuilds,
      ...filesUnder(join(ROOT, 'bin'), ROOT),
    ].sort();

    expect(tarball.files.map((f) => f.path).sort()).toEqual(expected);
    expect(prebuilds).toContain(CURRENT_PREBUILD);
    for (const path of prebuilds) expect(path).toMatch(/^prebuilds\/(linux|darwin)-(x64|arm64)\/handover\.(glibc|musl)\.node$/);
    // A stripped N-API build is 50-210 KB a platform, compressed (prebuild:all's
    // carry their own libc++: ~125 KB for Linux, ~205 KB for macOS); the rest is
    // text: ~390 KB compressed, most of it the bundles' source maps, which hold
    // the TypeScript (the package ships no lib/).
    expect(tarball.size).toBeLessThan(prebuilds.length * 220_000 + 450_000);
  });

  it('declares exports with types first, engines, os and the install hook', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string>>;
      engines: Record<string, string>;
      os: string[];
      scripts: Record<string, string | undefined>;
    };
    expect(Object.keys(manifest.exports['.'])[0]).toBe('types');
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './index.js' });
    expect(manifest.engines).toEqual({ node: '>=20' });
    expect(manifest.os).toEqual(['linux', 'darwin', 'win32']);
    expect(manifest.scripts.install).toBe('node scripts/install.js');
    expect(manifest.scripts.preinstall).toBeUndefined();
    expect(manifest.scripts.postinstall).toBeUndefined();
  });
});

describe('npm install <tarball> without a compiler', () => {
  it('has no compiler, make or Python to find', async () => {
    const found = await run('/bin/sh', ['-c', 'command -v cc gcc c++ g++ clang make python3 python'], { cwd: project, env: noCompiler });
    expect(found.stdout).toBe('');
    expect(noCompiler).toMatchObject({ CC: '/bin/false', CXX: '/bin/false', npm_config_build_from_source: 'false' });
  });

  it('succeeds, builds nothing and loads the prebuild', async () => {
    expect(installLog.code, `${installLog.stdout}\n${installLog.stderr}`).toBe(0);
    // What node-gyp prints when it builds.
    expect(`${installLog.stdout}${installLog.stderr}`).not.toMatch(/gyp info|gyp ERR|CXX\(target\)|SOLINK_MODULE/);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(existsSync(join(installed, CURRENT_PREBUILD))).toBe(true);

    const script = `
      const path = require('node:path');
      const handover = require('handover');
      const root = path.dirname(require.resolve('handover/package.json'));
      const pid = handover.forkExecWithFds(process.execPath, [process.execPath, '-e', 'process.exit(3)']);
      handover.waitPid(pid).then((status) => {
        const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node')).map((k) => path.relative(root, k));
        console.log(JSON.stringify({ addons, status, resolved: path.relative(root, require('node-gyp-build').path(root)) }));
      });
    `;
    const report = JSON.parse((await inProject(['-e', script])).stdout);
    expect(report).toEqual({ addons: [CURRENT_PREBUILD], status: { code: 3, signal: null }, resolved: CURRENT_PREBUILD });

    // The same from an ES module: import() loads the prebuild too.
    const esm = `
      import { createRequire } from 'node:module';
      import path from 'node:path';
      const { forkExecWithFds, waitPid } = await import('handover');
      const require = createRequire(import.meta.url);
      const root = path.dirname(require.resolve('handover/package.json'));
      const status = await waitPid(forkExecWithFds(process.execPath, [process.execPath, '-e', 'process.exit(4)']));
      const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node')).map((k) => path.relative(root, k));
      console.log(JSON.stringify({ addons, status }));
    `;
    expect(JSON.parse((await inProject(['--input-type=module', '-e', esm])).stdout)).toEqual({ addons: [CURRENT_PREBUILD], status: { code: 4, signal: null } });

    // handover/server, installed: the same functions, without the supervisor's exports.
    const server = `
      import { GracefulServer, forkExecWithFds } from 'handover/server';
      import * as all from 'handover/server';
      import * as main from 'handover';
      console.log(JSON.stringify({ same: GracefulServer === main.GracefulServer && forkExecWithFds === main.forkExecWithFds, supervisor: 'Supervisor' in all }));
    `;
    expect(JSON.parse((await inProject(['--input-type=module', '-e', server])).stdout)).toEqual({ same: true, supervisor: false });
  });

  it('started no node-gyp: the install hook only tried the prebuild; a build from source would have started it', async () => {
    const programs = started(join(tmp, 'install-spawns'));
    expect(programs).toContain('node-gyp-build-test');
    expect(programs.filter((p) => /node-gyp(?!-build)/.test(p))).toEqual([]);

    // The control: forced to build from source, the same hook starts node-gyp
    // (which then fails: there is no compiler). Run as npm runs the install
    // hook, in the installed package: `npm rebuild handover` rebuilt the
    // repository itself (and removed its build/) when the clone's directory
    // was named handover too.
    const log = join(tmp, 'rebuild-spawns');
    const rebuild = await run(process.execPath, [join(installed, 'scripts', 'install.js')], { cwd: installed, env: recording({ ...noCompiler, npm_config_build_from_source: 'true' }, log) });
    expect(rebuild.code).not.toBe(0);
    expect(started(log).filter((p) => /node-gyp(?!-build)/.test(p))).toEqual([expect.stringMatching(/node-gyp(\.js)? rebuild$/)]);
    rmSync(join(installed, 'build'), { recursive: true, force: true });
  });
});

describe('module formats', () => {
  it('require(), import { GracefulServer } and import handover all give the same module', async () => {
    const cjs = JSON.parse((await inProject(['-e', 'console.log(JSON.stringify(Object.keys(require("handover"))))'])).stdout) as string[];
    const esm = `
      import { createRequire } from 'node:module';
      import handover, { GracefulServer } from 'handover';
      import * as namespace from 'handover';
      const required = createRequire(import.meta.url)('handover');
      console.log(JSON.stringify({
        names: Object.keys(namespace),
        defaultIsExports: handover === required,
        named: GracefulServer === required.GracefulServer && typeof GracefulServer === 'function',
      }));
    `;
    const report = JSON.parse((await inProject(['--input-type=module', '-e', esm])).stdout);
    expect(cjs).toEqual(expect.arrayContaining(['GracefulServer', 'Upgrader', 'forkExecWithFds', 'waitPid', 'listenAndServe', 'HandoverError']));
    // cjs-module-lexer finds every export of tsc's CommonJS: no ESM wrapper needed.
    expect(report.names).toEqual(expect.arrayContaining(cjs));
    expect(report.defaultIsExports).toBe(true);
    expect(report.named).toBe(true);
  });

  it('exports package.json and nothing below dist/', async () => {
    const script = `
      console.log(require('handover/package.json').name);
      try { require('handover/dist/index.js'); } catch (err) { console.log(err.code); }
    `;
    expect((await inProject(['-e', script])).stdout.trim().split('\n')).toEqual(['handover', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
  });

  // Both consumers are compiled by tsc against the tarball's declarations, with
  // skipLibCheck off so that those are checked too, then run. One program per
  // resolution mode: each file's format comes from its extension (.cts, .mts).
  it.concurrent.for(['node16', 'nodenext'] as const)('a CommonJS and an ES module consumer type-check with moduleResolution %s and run', async (resolution, { expect }) => {
    const dir = join(project, `typescript-${resolution}`);
    for (const consumer of CONSUMERS) cpSync(join(__dirname, 'fixtures', consumer), join(dir, consumer), { recursive: true });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: './consumer-esm/tsconfig.json',
        compilerOptions: { module: resolution, moduleResolution: resolution, rootDir: '.', outDir: 'out' },
        files: ['consumer-cjs/index.cts', 'consumer-esm/index.mts'],
      }),
    );

    const tsc = await run(process.execPath, [TSC, '-p', dir], { cwd: dir, env: noCompiler });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    for (const [format, output] of [['cjs', 'consumer-cjs/index.cjs'], ['esm', 'consumer-esm/index.mjs']]) {
      const report = JSON.parse((await inProject([join(dir, 'out', output)])).stdout);
      expect(report).toEqual({
        format,
        sameClass: true,
        drainTimeout: 1000,
        misspelt: ['drainTimeot'],
        status: { code: 7, signal: null },
        code: 'ERR_NOT_SUPPORTED',
        isError: true,
      });
    }
  });

  it('the two consumers are configured alike, so one program checks both', () => {
    const options = (consumer: string): unknown => (JSON.parse(readFileSync(join(__dirname, 'fixtures', consumer, 'tsconfig.json'), 'utf8')) as { compilerOptions: unknown }).compilerOptions;
    expect(options('consumer-cjs')).toEqual(options('consumer-esm'));
  });
});

describe('Windows', () => {
  // Loaded with --require before the install hook: reports what the hook did,
  // and refuses to start any process (a build would start node-gyp).
  const observer = `
    const path = require('node:path');
    if (process.env.FAKE_PLATFORM) Object.defineProperty(process, 'platform', { value: process.env.FAKE_PLATFORM });
    const child = require('node:child_process');
    const started = [];
    for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
      child[name] = (command) => { started.push(name + ' ' + command); throw new Error('no process may start'); };
    }
    process.on('exit', (code) => {
      const loaded = Object.keys(require.cache).map((k) => path.relative(process.cwd(), k)).filter((k) => !k.startsWith('..'));
      require('node:fs').writeSync(1, JSON.stringify({ platform: process.platform, code, started, loaded }));
    });
  `;

  async function installHook(platform: string): Promise<{ out: Output; report: Record<string, unknown> }> {
    const preload = join(tmp, 'observe-install.js');
    writeFileSync(preload, observer);
    const out = await run(process.execPath, ['--require', preload, 'scripts/install.js'], { cwd: installed, env: { ...noCompiler, FAKE_PLATFORM: platform } });
    return { out, report: JSON.parse(out.stdout) };
  }

  it("the tarball's install hook does nothing on win32: no compiler needed", async () => {
    rmSync(join(installed, 'build'), { recursive: true, force: true });
    const { out, report } = await installHook('win32');
    expect(report).toEqual({ platform: 'win32', code: 0, started: [], loaded: ['scripts/install.js'] });
    expect(out.code).toBe(0);
    expect(out.stderr).toBe('');
    expect(existsSync(join(installed, 'build'))).toBe(false);

    // The same observer sees the hook at work on this platform.
    const control = await installHook(process.platform);
    expect(control.report.started).toEqual(['exec node-gyp-build-test']);
  });

  it('the installed package loads on win32 without the addon, and calls throw ERR_NOT_SUPPORTED', async () => {
    const script = `
      Object.defineProperty(process, 'platform', { value: 'win32' });
      const handover = require('handover');
      let code;
      try { handover.inspectFd(0); } catch (err) { code = err.code; }
      const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node') || k.includes('node-gyp-build'));
      console.log(JSON.stringify({ code, addons, GracefulServer: typeof handover.GracefulServer }));
    `;
    expect(JSON.parse((await inProject(['-e', script])).stdout)).toEqual({ code: 'ERR_NOT_SUPPORTED', addons: [], GracefulServer: 'function' });
  });
});
