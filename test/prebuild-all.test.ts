// scripts/prebuild-all.js compiles what binding.gyp lists, so the six
// cross-builds and node-gyp's build cannot drift apart: the sources, defines
// and flags of each target's command lines come from binding.gyp (read with
// python3, as gyp reads it), and a flag added there reaches them. No zig is
// run here: these are the command lines it would be given.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './helpers/children';

interface Target {
  platform: string;
  arch: string;
  libc: string;
}
interface Commands {
  triple: string;
  sources: string[];
  extraSources: string[];
  compileCc: string[];
  link: string[];
  strip: boolean;
}
const ROOT = resolve(__dirname, '..');
const load = createRequire(__filename);
const { commands } = load('../scripts/prebuild-all.js') as { commands(target: Target, headers: string, gypPath?: string): Commands };
const { TARGETS } = load('../scripts/check-prebuilds.js') as { TARGETS: Target[] };
const byName = (name: string): Target => TARGETS.find((t) => `${t.platform}-${t.arch}-${t.libc}` === name)!;

/** binding.gyp's own text: what one OS condition lists. */
function listed(os: 'linux' | 'mac'): { sources: string[]; ldflags: string[] } {
  const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8')) as { targets: { conditions: [string, { sources: string[]; ldflags?: string[] }][] }[] };
  const [, settings] = gyp.targets[0].conditions.find(([condition]) => condition === `OS=='${os}'`)!;
  return { sources: settings.sources.map((s) => join(ROOT, s)), ldflags: settings.ldflags ?? [] };
}

afterAll(() => removeTempDirs());

describe('prebuild-all: the command lines come from binding.gyp', () => {
  it('Linux targets: the Linux sources, binding.gyp defines and C++ flags, node-addon-api with exceptions, the glibc floor in the triple', () => {
    const cmd = commands(byName('linux-arm64-glibc'), '/headers');
    expect(cmd.triple).toBe('aarch64-linux-gnu.2.17');
    expect(cmd.sources).toEqual(listed('linux').sources);
    // binding.gyp's Linux linker flags (-Wl,-z,nodelete) are on the link line.
    for (const flag of listed('linux').ldflags) expect(cmd.link).toContain(flag);
    expect(cmd.compileCc).toEqual(expect.arrayContaining(['-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_GYP_MODULE_NAME=handover', '-Wno-missing-field-initializers', '-I/headers', `-I${join(ROOT, 'node_modules', 'node-addon-api')}`]));
    // node-addon-api's except.gypi removes common.gypi's -fno-exceptions; binding.gyp's -std wins.
    expect(cmd.compileCc).not.toContain('-fno-exceptions');
    expect(cmd.compileCc.lastIndexOf('-std=c++17')).toBeGreaterThan(cmd.compileCc.indexOf('-std=gnu++17'));
    expect(cmd.link).toEqual(expect.arrayContaining(['-shared', '-s', expect.stringMatching(/^-Wl,--version-script=/)]));
    expect(cmd.strip).toBe(false);
  });

  it('glibc builds older than 2.33 link the fstat fix, musl builds do not', () => {
    expect(commands(byName('linux-x64-glibc'), '/h').extraSources).toEqual([join(ROOT, 'scripts', 'prebuild', 'glibc-fstat.c')]);
    expect(commands(byName('linux-x64-musl'), '/h').extraSources).toEqual([]);
    expect(commands(byName('linux-x64-musl'), '/h').triple).toBe('x86_64-linux-musl');
  });

  it('macOS targets: the macOS sources, xcode_settings, the minimum macOS in the triple, N-API looked up at load, stripped afterwards', () => {
    const cmd = commands(byName('darwin-x64-glibc'), '/headers');
    expect(cmd.triple).toBe('x86_64-macos.11.0');
    expect(commands(byName('darwin-arm64-glibc'), '/headers').triple).toBe('aarch64-macos.11.0');
    expect(cmd.sources).toEqual(listed('mac').sources);
    for (const flag of listed('linux').ldflags) expect(cmd.link).not.toContain(flag);
    expect(cmd.compileCc).toEqual(expect.arrayContaining(['-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-std=c++17']));
    expect(cmd.compileCc).not.toContain('-fno-exceptions');
    expect(cmd.link).toEqual(expect.arrayContaining(['-shared', '-Wl,-undefined,dynamic_lookup']));
    expect(cmd.strip).toBe(true);
  });

  describe('a binding.gyp that changed', () => {
    const dir = tempDir('handover-gyp-');
    // node-addon-api is found from the gyp file's directory, as gyp runs <!(…) there.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    mkdirSync(join(dir, 'native'));

    function withGyp(edit: (gyp: Record<string, any>) => void): string {
      const gyp = JSON.parse(readFileSync(join(ROOT, 'binding.gyp'), 'utf8'));
      edit(gyp);
      const path = join(dir, `binding-${Math.random().toString(36).slice(2)}.gyp`);
      writeFileSync(path, JSON.stringify(gyp));
      return path;
    }

    it('a Linux linker flag and a define reach the Linux builds; gyp ignores ldflags on macOS, and so does prebuild-all', () => {
      const path = withGyp((gyp) => {
        const linux = gyp.targets[0].conditions.find(([c]: [string]) => c === "OS=='linux'")[1];
        linux.ldflags = [...(linux.ldflags ?? []), '-Wl,-z,relro'];
        gyp.targets[0].defines.push('HANDOVER_EXTRA=1');
      });
      const linux = commands(byName('linux-x64-glibc'), '/h', path);
      expect(linux.link).toContain('-Wl,-z,relro');
      expect(linux.compileCc).toContain('-DHANDOVER_EXTRA=1');
      const mac = commands(byName('darwin-arm64-glibc'), '/h', path);
      expect(mac.link).not.toContain('-Wl,-z,relro');
      expect(mac.compileCc).toContain('-DHANDOVER_EXTRA=1');
    });

    it('a source added to one OS is compiled for that OS only', () => {
      const path = withGyp((gyp) => {
        gyp.targets[0].conditions.find(([c]: [string]) => c === "OS=='mac'")[1].sources.push('native/extra_darwin.cc');
      });
      expect(commands(byName('darwin-x64-glibc'), '/h', path).sources).toContain(join(dir, 'native', 'extra_darwin.cc'));
      expect(commands(byName('linux-x64-glibc'), '/h', path).sources).not.toContain(join(dir, 'native', 'extra_darwin.cc'));
    });

    it('a key prebuild-all does not understand is an error that names it, not a silent difference', () => {
      const path = withGyp((gyp) => {
        gyp.targets[0].cflags_c = ['-DONLY_C'];
      });
      expect(() => commands(byName('linux-x64-glibc'), '/h', path)).toThrow('gyp key "cflags_c" is not understood by scripts/prebuild/gyp.js');
      const condition = withGyp((gyp) => {
        gyp.targets[0].conditions.push(["OS=='linux' and target_arch=='arm64'", { defines: ['X'] }]);
      });
      expect(() => commands(byName('linux-arm64-glibc'), '/h', condition)).toThrow(`gyp condition "OS=='linux' and target_arch=='arm64'" is not understood by scripts/prebuild/gyp.js`);
    });
  });
});
