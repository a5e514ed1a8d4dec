// A minimal Mach-O dylib, written byte by byte, for check-prebuilds' tests: no
// Mach-O linker is on a fresh machine. It has what check-prebuilds reads in a
// real build (scripts/binary/macho.js): the minimum macOS version, the dylibs,
// undefined symbols with their library ordinals, bind and lazy-bind streams,
// an export trie and an ad-hoc code signature (SHA-256 page hashes). Each
// option makes one of them wrong. No code: nothing here is ever loaded.
import { createHash } from 'node:crypto';

export interface MachOOptions {
  arch: 'x64' | 'arm64';
  /** "11.0": the minimum macOS (LC_BUILD_VERSION minos). */
  minOs: string;
  dylibs?: string[];
  /** Looked up in the process (flat namespace, lazily), as -undefined dynamic_lookup links them. */
  fromNode?: string[];
  /** Bound to dylib 1, as every libSystem symbol. */
  fromSystem?: string[];
  /** Symbols listed as bound to dylib 1 that should not be (e.g. an N-API one). */
  boundToSystem?: string[];
  exported?: string[];
  /** Local symbols left in the symbol table (an unstripped build). */
  localSymbols?: string[];
  /** false: no LC_CODE_SIGNATURE at all. */
  signed?: boolean;
}

const CPU = { x64: 0x01000007, arm64: 0x0100000c };
const CPU_SUBTYPE = { x64: 3, arm64: 0 };

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function cstr(s: string): number[] {
  return [...Buffer.from(s, 'latin1'), 0];
}

function packVersion(v: string): number {
  const [x = 0, y = 0, z = 0] = v.split('.').map(Number);
  return ((x << 16) | (y << 8) | z) >>> 0;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** The export trie of `names`: a root with one edge per name (no shared prefixes needed). */
function exportTrie(names: string[]): Buffer {
  const edges = names.map((name) => cstr(name));
  // Root: terminal size 0, child count, then edges with child offsets; children after it.
  const terminal = [2, 0, 0x10]; // terminal size 2: flags 0, address 0x10; then 0 children
  let rootSize = 2 + edges.reduce((n, e) => n + e.length + 1, 0);
  // Offsets are ULEB: grow the root until every offset fits in its length.
  for (;;) {
    const offsets = names.map((_, i) => rootSize + i * (terminal.length + 1));
    const size = 2 + edges.reduce((n, e, i) => n + e.length + uleb(offsets[i]).length, 0);
    if (size === rootSize) break;
    rootSize = size;
  }
  const root = [0, names.length];
  names.forEach((_, i) => root.push(...edges[i], ...uleb(rootSize + i * (terminal.length + 1))));
  const children = names.flatMap(() => [...terminal, 0]);
  return Buffer.from([...root, ...children]);
}

/** A Mach-O dylib per `options`, ad-hoc signed unless `signed: false`. */
export function writeMachO(options: MachOOptions): Buffer {
  const dylibs = options.dylibs ?? ['/usr/lib/libSystem.B.dylib'];
  const fromNode = options.fromNode ?? ['_napi_create_object', '_napi_define_properties', '_uv_poll_start'];
  const fromSystem = options.fromSystem ?? ['_close', '_fcntl', '_posix_spawn'];
  const boundToSystem = options.boundToSystem ?? [];
  const exported = options.exported ?? ['_napi_register_module_v1'];
  const locals = options.localSymbols ?? [];
  const signed = options.signed ?? true;

  // Symbol table: locals first, then undefined ones (ordinal in n_desc's high byte).
  const symbols = [
    ...locals.map((name) => ({ name, type: 0x0e, sect: 1, ordinal: 0 })),
    ...fromNode.map((name) => ({ name, type: 0x01, sect: 0, ordinal: 0xfe })),
    ...[...fromSystem, ...boundToSystem].map((name) => ({ name, type: 0x01, sect: 0, ordinal: 1 })),
  ];
  const strtab: number[] = [0x20, 0];
  const strx = symbols.map((s) => {
    const at = strtab.length;
    strtab.push(...cstr(s.name));
    return at;
  });

  const bind: number[] = [];
  for (const name of [...fromSystem.slice(0, 1), ...boundToSystem]) bind.push(0x11, 0x40, ...cstr(name), 0x51, 0x72, 0, 0x90);
  bind.push(0x00);
  const lazy: number[] = [];
  fromNode.forEach((name, i) => lazy.push(0x72, ...uleb(i * 8), 0x3e, 0x40, ...cstr(name), 0x90, 0x00));
  fromSystem.slice(1).forEach((name, i) => lazy.push(0x72, ...uleb(0x100 + i * 8), 0x11, 0x40, ...cstr(name), 0x90, 0x00));
  const trie = exportTrie(exported);

  // Load commands.
  const commands: Buffer[] = [];
  const command = (cmd: number, body: Buffer): void => {
    const size = align(8 + body.length, 8);
    const b = Buffer.alloc(size);
    b.writeUInt32LE(cmd >>> 0, 0);
    b.writeUInt32LE(size, 4);
    body.copy(b, 8);
    commands.push(b);
  };
  command(0x32, Buffer.concat([u32(1), u32(packVersion(options.minOs)), u32(packVersion('14.0')), u32(0)]));
  for (const dylib of dylibs) command(0xc, Buffer.concat([u32(24), u32(2), u32(0x10000), u32(0x10000), Buffer.from(cstr(dylib))]));
  const headerAndCommandsWithout = (): number => 32 + commands.reduce((n, c) => n + c.length, 0) + 24 + 80 + 48 + (signed ? 16 : 0);
  const dataStart = align(headerAndCommandsWithout(), 16);
  const layout: Record<string, [number, number]> = {};
  const blobs: [string, Buffer][] = [
    ['bind', Buffer.from(bind)],
    ['lazy', Buffer.from(lazy)],
    ['trie', trie],
    ['symtab', Buffer.alloc(symbols.length * 16)],
    ['strtab', Buffer.from(strtab)],
  ];
  let at = dataStart;
  for (const [name, blob] of blobs) {
    layout[name] = [at, blob.length];
    at = align(at + blob.length, 8);
  }
  const symtab = blobs[3][1];
  symbols.forEach((s, i) => {
    symtab.writeUInt32LE(strx[i], i * 16);
    symtab[i * 16 + 4] = s.type;
    symtab[i * 16 + 5] = s.sect;
    symtab.writeUInt16LE(s.ordinal << 8, i * 16 + 6);
  });
  command(0x2, Buffer.concat([u32(layout.symtab[0]), u32(symbols.length), u32(layout.strtab[0]), u32(strtab.length)]));
  const dysymtab = Buffer.alloc(72);
  dysymtab.writeUInt32LE(0, 0);
  dysymtab.writeUInt32LE(locals.length, 4);
  dysymtab.writeUInt32LE(locals.length, 16);
  dysymtab.writeUInt32LE(symbols.length - locals.length, 20);
  command(0xb, dysymtab);
  command(0x80000022, Buffer.concat([u32(0), u32(0), u32(layout.bind[0]), u32(layout.bind[1]), u32(0), u32(0), u32(layout.lazy[0]), u32(layout.lazy[1]), u32(layout.trie[0]), u32(layout.trie[1])]));
  const codeLimit = align(at, 16);
  if (signed) command(0x1d, Buffer.concat([u32(codeLimit), u32(0)])); // size patched below

  const sizeofcmds = commands.reduce((n, c) => n + c.length, 0);
  if (32 + sizeofcmds > dataStart) throw new Error('load commands overlap the data');
  const file = Buffer.alloc(codeLimit);
  file.writeUInt32LE(0xfeedfacf, 0);
  file.writeUInt32LE(CPU[options.arch], 4);
  file.writeUInt32LE(CPU_SUBTYPE[options.arch], 8);
  file.writeUInt32LE(6, 12); // MH_DYLIB
  file.writeUInt32LE(commands.length, 16);
  file.writeUInt32LE(sizeofcmds, 20);
  file.writeUInt32LE(0x00100085, 24); // NOUNDEFS | DYLDLINK | TWOLEVEL | NO_REEXPORTED_DYLIBS
  Buffer.concat(commands).copy(file, 32);
  for (const [name, blob] of blobs) blob.copy(file, layout[name][0]);
  if (!signed) return file;

  // The ad-hoc signature: a SuperBlob holding one CodeDirectory (version
  // 0x20400, 88-byte header), SHA-256 of each 4 KiB page up to codeLimit.
  const pageSize = 4096;
  const slots = Math.ceil(codeLimit / pageSize);
  const ident = Buffer.from(cstr('handover.node'));
  const cdHeader = 88;
  const cdLength = cdHeader + ident.length + slots * 32;
  const superLength = 20 + cdLength;
  // datasize is part of a load command, so it is fixed before hashing.
  const sigCmd = 32 + sizeofcmds - 16;
  file.writeUInt32LE(superLength, sigCmd + 12);
  const cd = Buffer.alloc(cdLength);
  cd.writeUInt32BE(0xfade0c02, 0);
  cd.writeUInt32BE(cdLength, 4);
  cd.writeUInt32BE(0x20400, 8);
  cd.writeUInt32BE(0x2, 12); // adhoc
  cd.writeUInt32BE(cdHeader + ident.length, 16); // hashOffset
  cd.writeUInt32BE(cdHeader, 20); // identOffset
  cd.writeUInt32BE(0, 24);
  cd.writeUInt32BE(slots, 28);
  cd.writeUInt32BE(codeLimit, 32);
  cd[36] = 32;
  cd[37] = 2; // SHA-256
  cd[39] = 12; // log2(4096)
  ident.copy(cd, cdHeader);
  for (let page = 0; page < slots; page++) {
    createHash('sha256').update(file.subarray(page * pageSize, Math.min((page + 1) * pageSize, codeLimit))).digest().copy(cd, cdHeader + ident.length + page * 32);
  }
  const superBlob = Buffer.alloc(20);
  superBlob.writeUInt32BE(0xfade0cc0, 0);
  superBlob.writeUInt32BE(superLength, 4);
  superBlob.writeUInt32BE(1, 8);
  superBlob.writeUInt32BE(0, 12); // CSSLOT_CODEDIRECTORY
  superBlob.writeUInt32BE(20, 16);
  return Buffer.concat([file, superBlob, cd]);
}
