// scripts/check-prebuilds.js on deliberately wrong files. The ELF ones are
// real shared objects, built here by the system's gcc from a few lines of C
// (a stand-in addon that exports napi_register_module_v1 and calls N-API and
// libc); the Mach-O ones are written byte by byte (test/helpers/macho.ts): no
// Mach-O linker is on a fresh machine. Each case breaks one rule, and the
// check must name it; the good files pass, so the rules can also be met.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './helpers/children';
import { writeMachO } from './helpers/macho';

interface Target {
  platform: string;
  arch: string;
  libc: string;
  glibc?: string;
  macos?: string;
}
interface CheckPrebuilds {
  TARGETS: Target[];
  prebuildPath(target: Target): string;
  inspect(path: string, target: Target, options?: { strict?: boolean }): { problems: string[]; summary?: string };
}
const ROOT = resolve(__dirname, '..');
const CHECK = join(ROOT, 'scripts', 'check-prebuilds.js');
const { TARGETS, prebuildPath, inspect } = createRequire(__filename)(CHECK) as CheckPrebuilds;
const target = (platform: string, arch: string, libc: string): Target => TARGETS.find((t) => t.platform === platform && t.arch === arch && t.libc === libc)!;
const LINUX_X64 = target('linux', 'x64', 'glibc');
const LINUX_ARM64 = target('linux', 'arm64', 'glibc');
const MUSL_X64 = target('linux', 'x64', 'musl');
const DARWIN_X64 = target('darwin', 'x64', 'glibc');
const DARWIN_ARM64 = target('darwin', 'arm64', 'glibc');

let dir: string;
/** The stand-in addon's C, with `body` in its registration function. */
const addon = (body: string, extra = '', name = 'napi_register_module_v1'): string => `
  typedef struct napi_env__ *napi_env;
  typedef struct napi_value__ *napi_value;
  extern int napi_create_object(napi_env, napi_value *);
  extern int uv_poll_start(void *, int, void *);
  extern int getpid(void);
  ${extra}
  __attribute__((visibility("default"))) napi_value ${name}(napi_env env, napi_value exports) {
    napi_value object;
    napi_create_object(env, &object);
    uv_poll_start(0, 0, 0);
    ${body}
    return getpid() > 0 ? exports : object;
  }
`;

/** A shared object built by gcc (or g++) from `source`. */
function build(name: string, source: string, { flags = [] as string[], cxx = false, strip = true, exportsOnly = true, musl = false } = {}): string {
  const src = join(dir, `${name}.${cxx ? 'cc' : 'c'}`);
  const out = join(dir, `${name}.node`);
  writeFileSync(src, source);
  const args = ['-shared', '-fPIC', '-O1', '-o', out, src, ...flags];
  if (strip) args.push('-s');
  if (exportsOnly) args.push(`-Wl,--version-script=${join(dir, 'exports.map')}`);
  // A musl-like build: no glibc, one library with musl's soname.
  if (musl) args.push('-nostdlib', join(dir, 'stub', 'libc.so'));
  execFileSync(cxx ? 'g++' : 'cc', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** A copy of `file` whose ELF header names `machine`: the loader would refuse it, the checker reads it as that CPU. */
function withMachine(file: string, machine: number): string {
  const bytes = readFileSync(file);
  bytes.writeUInt16LE(machine, 18);
  const out = `${file}.machine${machine}`;
  writeFileSync(out, bytes);
  return out;
}

function macho(name: string, options: Parameters<typeof writeMachO>[0]): string {
  const out = join(dir, `${name}.dylib`);
  writeFileSync(out, writeMachO(options));
  return out;
}

function problems(file: string, t: Target, strict = true): string[] {
  return inspect(file, t, { strict }).problems;
}

let glibcGood: string;
let muslGood: string;

beforeAll(() => {
  dir = tempDir('handover-check-prebuilds-');
  writeFileSync(join(dir, 'exports.map'), '{ global: napi_register_module_v1; local: *; };\n');
  mkdirSync(join(dir, 'stub'));
  writeFileSync(join(dir, 'stub', 'libc.c'), 'int getpid(void) { return 1; }\nint __isoc99_sscanf(const char *s, const char *f, ...) { return 0; }\n');
  execFileSync('cc', ['-shared', '-fPIC', '-nostdlib', '-Wl,-soname,libc.so', '-o', join(dir, 'stub', 'libc.so'), join(dir, 'stub', 'libc.c')]);
  glibcGood = build('glibc-good', addon(''));
  muslGood = build('musl-good', addon(''), { musl: true });
});

afterAll(() => removeTempDirs());

describe('ELF: a Linux prebuild', () => {
  it('a glibc addon that needs only glibc, N-API and libuv passes, with its glibc floor', () => {
    const result = inspect(glibcGood, LINUX_X64);
    expect(result.problems).toEqual([]);
    expect(result.summary).toMatch(/^GLIBC_2\.\d+(\.\d+)? at most; NEEDED libc\.so\.6; \d+ glibc symbols, 2 N-API\/libuv$/);
  });

  it('a musl addon passes', () => {
    expect(problems(muslGood, MUSL_X64)).toEqual([]);
  });

  it('built for the wrong CPU: the x64 file where the arm64 one belongs', () => {
    expect(problems(glibcGood, LINUX_ARM64)).toEqual(['built for ELF machine 62, not arm64 (183)']);
    expect(problems(withMachine(glibcGood, 183), LINUX_X64)).toEqual(['built for ELF machine 183, not x64 (62)']);
  });

  it('the wrong C library: glibc filed as musl, musl filed as glibc', () => {
    expect(problems(glibcGood, MUSL_X64)).toEqual(expect.arrayContaining(['refers to GLIBC_ symbol versions: linked against glibc, not musl', 'needs libc.so.6, which is not part of musl']));
    expect(problems(muslGood, LINUX_X64)).toEqual(expect.arrayContaining(['no GLIBC_ symbol versions: not linked against glibc', 'needs libc.so, which is not part of glibc']));
  });

  it('a symbol of glibc newer than the floor (close_range, GLIBC_2.34)', () => {
    const file = build('new-glibc', addon('close_range(3, ~0U, 0);', 'extern int close_range(unsigned, unsigned, int);'));
    expect(problems(file, LINUX_X64)).toEqual(['needs GLIBC_2.34 (libc.so.6), newer than the floor GLIBC_2.17']);
  });

  it('a symbol that is neither N-API nor libc', () => {
    const file = build('foreign', addon('sqlite3_initialize();', 'extern int sqlite3_initialize(void);'));
    expect(problems(file, LINUX_X64)).toEqual(['undefined symbol sqlite3_initialize is neither N-API nor glibc\'s']);
  });

  it('a musl build that calls a glibc-only function', () => {
    const file = build('musl-isoc99', addon('__isoc99_sscanf("1", "%d", 0);', 'extern int __isoc99_sscanf(const char *, const char *, ...);'), { musl: true });
    expect(problems(file, MUSL_X64)).toEqual(['undefined symbol __isoc99_sscanf exists in glibc only, not in musl']);
  });

  it("a C++ build that needs the system's libstdc++", () => {
    const file = build('libstdcxx', `#include <string>\nextern "C" ${addon('static std::string s; s += "x";').replace(/extern int/g, 'extern "C" int')}`, { cxx: true });
    const found = problems(file, LINUX_X64);
    expect(found).toContain('needs libstdc++.so.6, which is not part of glibc');
    expect(found.some((p) => /^undefined symbol _Z\S+ is neither N-API nor glibc's$/.test(p))).toBe(true);
  });

  it('no registration function: nothing for Node to call', () => {
    const file = build('unregistered', addon('', '', 'napi_register_module_v2'), { exportsOnly: false });
    expect(problems(file, LINUX_X64)).toEqual(expect.arrayContaining(['does not export napi_register_module_v1: Node cannot register it']));
  });

  it('more exports than the registration function', () => {
    const file = build('exports', addon('helper();', 'void helper(void) {}'), { exportsOnly: false });
    expect(problems(file, LINUX_X64)).toEqual(['exports helper: only the registration functions may be visible']);
  });

  it('thread-local storage', () => {
    // gcc's global-dynamic TLS needs __tls_get_addr from glibc's loader: glibc too, so only the TLS is wrong.
    const file = build('tls', addon('counter++;', '__thread int counter;'));
    expect(problems(file, LINUX_X64)).toEqual([expect.stringMatching(/^has thread-local storage: /)]);
  });

  it('not stripped', () => {
    expect(problems(build('unstripped', addon(''), { strip: false }), LINUX_X64)).toEqual(['not stripped (.symtab)']);
  });

  it('an executable stack', () => {
    expect(problems(build('execstack', addon(''), { flags: ['-Wl,-z,execstack'] }), LINUX_X64)).toEqual(['asks for an executable stack']);
  });

  it("node-gyp's build of the real addon: loadable here (--current), but not a release build (libstdc++, glibc newer than 2.17)", () => {
    // Stripped as prebuildify strips it (strip --strip-all).
    const real = join(dir, 'node-gyp-build.node');
    copyFileSync(join(ROOT, 'build', 'Release', 'handover.node'), real);
    execFileSync('strip', ['--strip-all', real]);
    expect(problems(real, LINUX_X64, false)).toEqual([]);
    const strict = problems(real, LINUX_X64);
    expect(strict).toEqual(expect.arrayContaining(['needs libstdc++.so.6, which is not part of glibc', 'needs libgcc_s.so.1, which is not part of glibc']));
    expect(strict.some((p) => /^needs GLIBC_2\.(1[89]|[2-9]\d)(\.\d+)? \(libc\.so\.6\), newer than the floor GLIBC_2\.17$/.test(p))).toBe(true);
  });

  it('not an ELF file at all', () => {
    expect(problems(macho('macho-as-elf', { arch: 'x64', minOs: '11.0' }), LINUX_X64)).toEqual(['not an ELF file']);
  });
});

describe('Mach-O: a macOS prebuild', () => {
  it('libSystem only, N-API looked up in the process lazily, the right minimum macOS, a matching signature: passes', () => {
    const arm64 = inspect(macho('arm64-good', { arch: 'arm64', minOs: '11.0' }), DARWIN_ARM64);
    expect(arm64.problems).toEqual([]);
    expect(arm64.summary).toBe('macOS 11.0.0+; links libSystem.B.dylib; 3 libSystem symbols, 3 N-API/libuv looked up in the process; code signature matches');
    expect(problems(macho('x64-good', { arch: 'x64', minOs: '11.0' }), DARWIN_X64)).toEqual([]);
    // x64 macOS runs unsigned code.
    expect(problems(macho('x64-unsigned', { arch: 'x64', minOs: '11.0', signed: false }), DARWIN_X64)).toEqual([]);
  });

  it('built for the wrong CPU', () => {
    expect(problems(macho('x64-as-arm64', { arch: 'x64', minOs: '11.0' }), DARWIN_ARM64)).toEqual(['built for Mach-O CPU 0x1000007, not arm64']);
  });

  it('a minimum macOS other than the target’s', () => {
    expect(problems(macho('arm64-macos12', { arch: 'arm64', minOs: '12.0' }), DARWIN_ARM64)).toEqual(['built for macOS 12.0.0 and later, not 11.0']);
    expect(problems(macho('x64-macos1015', { arch: 'x64', minOs: '10.15' }), DARWIN_X64)).toEqual(['built for macOS 10.15.0 and later, not 11.0']);
  });

  it('a dylib besides libSystem', () => {
    const file = macho('libcxx', { arch: 'arm64', minOs: '11.0', dylibs: ['/usr/lib/libSystem.B.dylib', '/usr/lib/libc++.1.dylib'] });
    expect(problems(file, DARWIN_ARM64)).toEqual(['links /usr/lib/libc++.1.dylib, not only libSystem']);
    // A native Xcode build links libc++ too: loadable, for --current.
    expect(problems(file, DARWIN_ARM64, false)).toEqual([]);
  });

  it('an N-API symbol bound to a dylib instead of looked up in the process', () => {
    const file = macho('napi-in-libsystem', { arch: 'arm64', minOs: '11.0', boundToSystem: ['_napi_get_undefined'] });
    expect(problems(file, DARWIN_ARM64)).toEqual(['_napi_get_undefined is bound to /usr/lib/libSystem.B.dylib, not looked up in the process']);
  });

  it('no registration function exported', () => {
    expect(problems(macho('unregistered', { arch: 'arm64', minOs: '11.0', exported: ['_napi_register_module_v2'] }), DARWIN_ARM64)).toEqual([
      'does not export _napi_register_module_v1: Node cannot register it',
    ]);
  });

  it('arm64 without a code signature, or with one that no longer matches the bytes', () => {
    expect(problems(macho('arm64-unsigned', { arch: 'arm64', minOs: '11.0', signed: false }), DARWIN_ARM64)).toEqual([
      'has no code signature: arm64 macOS refuses to load unsigned code',
    ]);
    const tampered = readFileSync(macho('arm64-tampered', { arch: 'arm64', minOs: '11.0' }));
    tampered[28] ^= 0xff; // the header's reserved word: read by nobody, hashed with page 0
    writeFileSync(join(dir, 'tampered.dylib'), tampered);
    expect(problems(join(dir, 'tampered.dylib'), DARWIN_ARM64)).toEqual(['code signature: page 0 (offset 0) does not match its hash']);
  });

  it('not stripped', () => {
    expect(problems(macho('unstripped', { arch: 'arm64', minOs: '11.0', localSymbols: ['__ZN8handover4InitEv'] }), DARWIN_ARM64)).toEqual(['not stripped (1 local symbols, 0 debug entries)']);
  });

  it('an ELF file where a Mach-O one belongs', () => {
    expect(problems(glibcGood, DARWIN_X64)).toEqual(['not a 64-bit Mach-O file']);
  });
});

describe('npm run check:prebuilds (the command line)', () => {
  let root: string;

  /** A package root with a passing file for every target. */
  function goodRoot(): string {
    const r = join(dir, `root-${Math.random().toString(36).slice(2)}`);
    const files: [Target, string][] = [
      [LINUX_X64, glibcGood],
      [LINUX_ARM64, withMachine(glibcGood, 183)],
      [MUSL_X64, muslGood],
      [target('linux', 'arm64', 'musl'), withMachine(muslGood, 183)],
      [DARWIN_X64, macho('cli-x64', { arch: 'x64', minOs: '11.0' })],
      [DARWIN_ARM64, macho('cli-arm64', { arch: 'arm64', minOs: '11.0' })],
    ];
    for (const [t, file] of files) {
      mkdirSync(dirname(join(r, prebuildPath(t))), { recursive: true });
      copyFileSync(file, join(r, prebuildPath(t)));
    }
    return r;
  }

  function check(r: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(process.execPath, [CHECK, '--root', r], { encoding: 'utf8' }, (err, stdout, stderr) => done({ code: err ? (err.code as number) : 0, stdout, stderr }));
    });
  }

  beforeAll(() => {
    root = goodRoot();
  });

  it('passes when all six are there and right, one line each', async () => {
    const out = await check(root);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n').map((l) => l.split(' (')[0])).toEqual(TARGETS.map((t) => `ok ${prebuildPath(t)}`));
  });

  it('fails when one is missing', async () => {
    const r = goodRoot();
    rmSync(join(r, prebuildPath(target('linux', 'arm64', 'musl'))));
    const out = await check(r);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('check-prebuilds: prebuilds/linux-arm64/handover.musl.node: missing\n');
  });

  it('fails when one is built for the wrong CPU', async () => {
    const r = goodRoot();
    copyFileSync(join(r, prebuildPath(LINUX_X64)), join(r, prebuildPath(LINUX_ARM64)));
    copyFileSync(join(r, prebuildPath(DARWIN_X64)), join(r, prebuildPath(DARWIN_ARM64)));
    const out = await check(r);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toEqual([
      'check-prebuilds: prebuilds/linux-arm64/handover.glibc.node: built for ELF machine 62, not arm64 (183)',
      'check-prebuilds: prebuilds/darwin-arm64/handover.glibc.node: built for Mach-O CPU 0x1000007, not arm64',
    ]);
  });

  it('fails on a file that is no release target', async () => {
    const r = goodRoot();
    copyFileSync(glibcGood, join(r, 'prebuilds', 'linux-x64', 'handover.node'));
    const out = await check(r);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('check-prebuilds: prebuilds/linux-x64/handover.node: not a release target\n');
  });
});
