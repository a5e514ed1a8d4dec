// Reads what the dynamic loader will act on in a 64-bit little-endian ELF shared
// object: its machine, the libraries it names (DT_NEEDED), its dynamic symbols
// with their symbol versions, thread-local storage, text relocations and the
// stack flag. Plain Node, so that check-prebuilds needs no binutils.
'use strict';

const ET_DYN = 3;
const PT_TLS = 7;
const PT_GNU_STACK = 0x6474e551;
const PF_X = 1;
const SHT_SYMTAB = 2;
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const DT_NEEDED = 1;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_TEXTREL = 22;
const DT_FLAGS = 30;
const DT_RUNPATH = 29;
const DF_TEXTREL = 0x4;
const DF_STATIC_TLS = 0x10;

const BIND = ['local', 'global', 'weak'];

/** A NUL-terminated string at `offset` of `bytes`. */
function cString(bytes, offset) {
  const end = bytes.indexOf(0, offset);
  return bytes.toString('latin1', offset, end < 0 ? bytes.length : end);
}

/**
 * The parts of `bytes` (a whole ELF file) that decide whether it loads, or a
 * string saying why it is not an ELF file this reader understands.
 *
 * @returns {{ machine: number, type: number, needed: string[], soname: string | null,
 *   runpath: string[], symbols: { name: string, bind: string, type: number, defined: boolean,
 *   version: string | null, versionFile: string | null }[], versionsNeeded: { file: string, version: string }[],
 *   tls: boolean, staticTls: boolean, textrel: boolean, execStack: boolean | null,
 *   symtab: boolean, debugSections: string[] } | string}
 */
function readElf(bytes) {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  if (bytes[4] !== 2 || bytes[5] !== 1) return 'not a 64-bit little-endian ELF file';
  const type = bytes.readUInt16LE(16);
  const machine = bytes.readUInt16LE(18);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const shoff = Number(bytes.readBigUInt64LE(40));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  const shentsize = bytes.readUInt16LE(58);
  const shnum = bytes.readUInt16LE(60);
  const shstrndx = bytes.readUInt16LE(62);
  if (shoff === 0 || shnum === 0) return 'no section headers';
  if (shoff + shnum * shentsize > bytes.length || phoff + phnum * phentsize > bytes.length) return 'truncated ELF file';

  let tls = false;
  let execStack = null;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const pType = bytes.readUInt32LE(at);
    if (pType === PT_TLS) tls = true;
    if (pType === PT_GNU_STACK) execStack = (bytes.readUInt32LE(at + 4) & PF_X) !== 0;
  }

  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      nameOffset: bytes.readUInt32LE(at),
      type: bytes.readUInt32LE(at + 4),
      offset: Number(bytes.readBigUInt64LE(at + 24)),
      size: Number(bytes.readBigUInt64LE(at + 32)),
      link: bytes.readUInt32LE(at + 40),
      entsize: Number(bytes.readBigUInt64LE(at + 56)),
    });
  }
  const shstr = sections[shstrndx];
  for (const section of sections) section.name = shstr ? cString(bytes, shstr.offset + section.nameOffset) : '';
  const byType = (t) => sections.find((s) => s.type === t);

  const dynsym = byType(SHT_DYNSYM);
  const dynamic = byType(SHT_DYNAMIC);
  if (type !== ET_DYN) return { machine, type };
  if (!dynsym || !dynamic) return 'no dynamic symbol table: not a shared object';
  const dynstr = sections[dynsym.link];
  const str = (offset) => cString(bytes, dynstr.offset + offset);

  const needed = [];
  const runpath = [];
  let soname = null;
  let flags = 0;
  let textrel = false;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = Number(bytes.readBigInt64LE(at));
    const value = Number(bytes.readBigUInt64LE(at + 8));
    if (tag === 0) break;
    if (tag === DT_NEEDED) needed.push(str(value));
    else if (tag === DT_SONAME) soname = str(value);
    else if (tag === DT_RPATH || tag === DT_RUNPATH) runpath.push(str(value));
    else if (tag === DT_TEXTREL) textrel = true;
    else if (tag === DT_FLAGS) flags = value;
  }

  // Version index -> the (library, version) a symbol was linked against.
  const versionOf = new Map();
  const versionsNeeded = [];
  const verneed = byType(SHT_GNU_VERNEED);
  if (verneed) {
    let at = verneed.offset;
    for (;;) {
      const count = bytes.readUInt16LE(at + 2);
      const file = str(bytes.readUInt32LE(at + 4));
      let aux = at + bytes.readUInt32LE(at + 8);
      for (let i = 0; i < count; i++) {
        const index = bytes.readUInt16LE(aux + 6) & 0x7fff;
        const version = str(bytes.readUInt32LE(aux + 8));
        versionOf.set(index, { file, version });
        versionsNeeded.push({ file, version });
        const next = bytes.readUInt32LE(aux + 12);
        if (next === 0) break;
        aux += next;
      }
      const next = bytes.readUInt32LE(at + 12);
      if (next === 0) break;
      at += next;
    }
  }
  const versym = byType(SHT_GNU_VERSYM);

  const symbols = [];
  const count = dynsym.size / (dynsym.entsize || 24);
  for (let i = 1; i < count; i++) {
    const at = dynsym.offset + i * 24;
    const info = bytes[at + 4];
    const shndx = bytes.readUInt16LE(at + 6);
    const index = versym ? bytes.readUInt16LE(versym.offset + i * 2) & 0x7fff : 1;
    const linked = shndx === 0 ? versionOf.get(index) : undefined;
    symbols.push({
      name: str(bytes.readUInt32LE(at)),
      bind: BIND[info >> 4] ?? `bind ${info >> 4}`,
      type: info & 0xf,
      defined: shndx !== 0,
      version: linked?.version ?? null,
      versionFile: linked?.file ?? null,
    });
  }

  return {
    machine,
    type,
    needed,
    soname,
    runpath,
    symbols,
    versionsNeeded,
    tls,
    staticTls: (flags & DF_STATIC_TLS) !== 0,
    textrel: textrel || (flags & DF_TEXTREL) !== 0,
    execStack,
    symtab: byType(SHT_SYMTAB) !== undefined,
    debugSections: sections.map((s) => s.name).filter((n) => n.startsWith('.debug')),
  };
}

module.exports = { readElf, ET_DYN };
