// Reads what dyld and the kernel will act on in a thin 64-bit Mach-O file: its
// CPU, file type, the dylibs it loads, the minimum macOS version it was built
// for, how each undefined symbol is bound (to a dylib, or looked up in the flat
// namespace of the process), what it exports, and whether its ad-hoc code
// signature matches its bytes (arm64 macOS refuses to map code whose page
// hashes do not). Plain Node, so that check-prebuilds needs no Xcode or LLVM.
'use strict';
const { createHash } = require('node:crypto');

const MH_MAGIC_64 = 0xfeedfacf;
const LC_REQ_DYLD = 0x80000000;
const LC_SYMTAB = 0x2;
const LC_DYSYMTAB = 0xb;
const LC_LOAD_DYLIB = 0xc;
const LC_ID_DYLIB = 0xd;
const LC_LOAD_WEAK_DYLIB = (0x18 | LC_REQ_DYLD) >>> 0;
const LC_REEXPORT_DYLIB = (0x1f | LC_REQ_DYLD) >>> 0;
const LC_LAZY_LOAD_DYLIB = 0x20;
const LC_LOAD_UPWARD_DYLIB = (0x23 | LC_REQ_DYLD) >>> 0;
const LC_CODE_SIGNATURE = 0x1d;
const LC_DYLD_INFO = 0x22;
const LC_DYLD_INFO_ONLY = (0x22 | LC_REQ_DYLD) >>> 0;
const LC_VERSION_MIN_MACOSX = 0x24;
const LC_BUILD_VERSION = 0x32;
const LC_DYLD_EXPORTS_TRIE = (0x33 | LC_REQ_DYLD) >>> 0;
const LC_DYLD_CHAINED_FIXUPS = (0x34 | LC_REQ_DYLD) >>> 0;
const PLATFORM_MACOS = 1;
const DYLIB_COMMANDS = new Set([LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB]);

/** Library ordinals with a meaning of their own (symbol n_desc, bind opcodes). */
const SELF_LIBRARY_ORDINAL = 0;
const DYNAMIC_LOOKUP_ORDINAL = 0xfe;
const EXECUTABLE_ORDINAL = 0xff;
const BIND_SPECIAL_DYLIB_FLAT_LOOKUP = -2;

const N_STAB = 0xe0;
const N_TYPE = 0x0e;
const N_EXT = 0x01;
const N_UNDF = 0x0;

function cString(bytes, offset) {
  const end = bytes.indexOf(0, offset);
  return bytes.toString('latin1', offset, end < 0 ? bytes.length : end);
}

function uleb(bytes, at) {
  let value = 0n;
  let shift = 0n;
  let byte;
  do {
    byte = bytes[at++];
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  return [Number(value), at];
}

function sleb(bytes, at) {
  let value = 0n;
  let shift = 0n;
  let byte;
  do {
    byte = bytes[at++];
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  if (byte & 0x40) value -= 1n << shift;
  return [Number(value), at];
}

/** "X.Y.Z" from a packed xxxx.yy.zz version. */
function version(packed) {
  return `${packed >>> 16}.${(packed >>> 8) & 0xff}.${packed & 0xff}`;
}

/**
 * The symbols a bind stream (LC_DYLD_INFO) binds, each with its library
 * ordinal: 1..n a dylib, 0 the image itself, -1 the main executable, -2 a
 * lookup in the flat namespace, -3 a weak-definition lookup.
 */
function bindings(bytes, offset, size, lazy) {
  const out = [];
  let at = offset;
  const end = offset + size;
  let ordinal = 0;
  let symbol = null;
  while (at < end) {
    const byte = bytes[at++];
    const opcode = byte & 0xf0;
    const imm = byte & 0x0f;
    switch (opcode) {
      case 0x00: // DONE: ends the stream, or (lazy) one symbol's entry
        if (!lazy) return out;
        break;
      case 0x10: // SET_DYLIB_ORDINAL_IMM
        ordinal = imm;
        break;
      case 0x20: // SET_DYLIB_ORDINAL_ULEB
        [ordinal, at] = uleb(bytes, at);
        break;
      case 0x30: // SET_DYLIB_SPECIAL_IMM: 0, -1, -2, -3 sign-extended from 4 bits
        ordinal = imm === 0 ? 0 : imm | ~0x0f;
        break;
      case 0x40: // SET_SYMBOL_TRAILING_FLAGS_IMM
        symbol = cString(bytes, at);
        at += Buffer.byteLength(symbol, 'latin1') + 1;
        break;
      case 0x50: // SET_TYPE_IMM
        break;
      case 0x60: // SET_ADDEND_SLEB
        [, at] = sleb(bytes, at);
        break;
      case 0x70: // SET_SEGMENT_AND_OFFSET_ULEB
      case 0x80: // ADD_ADDR_ULEB
        [, at] = uleb(bytes, at);
        break;
      case 0x90: // DO_BIND
      case 0xb0: // DO_BIND_ADD_ADDR_IMM_SCALED
        out.push({ symbol, ordinal, lazy });
        break;
      case 0xa0: // DO_BIND_ADD_ADDR_ULEB
        [, at] = uleb(bytes, at);
        out.push({ symbol, ordinal, lazy });
        break;
      case 0xc0: // DO_BIND_ULEB_TIMES_SKIPPING_ULEB
        [, at] = uleb(bytes, at);
        [, at] = uleb(bytes, at);
        out.push({ symbol, ordinal, lazy });
        break;
      default:
        throw new Error(`bind opcode 0x${opcode.toString(16)} not understood`);
    }
  }
  return out;
}

/** Every name the export trie at `offset` exports. */
function exportedNames(bytes, offset, size) {
  const names = [];
  const walk = (node, prefix, depth) => {
    if (node >= size || depth > 4096) throw new Error('export trie out of bounds');
    let at = offset + node;
    let terminal;
    [terminal, at] = uleb(bytes, at);
    if (terminal > 0) names.push(prefix);
    at += terminal;
    const children = bytes[at++];
    for (let i = 0; i < children; i++) {
      const edge = cString(bytes, at);
      at += Buffer.byteLength(edge, 'latin1') + 1;
      let child;
      [child, at] = uleb(bytes, at);
      walk(child, prefix + edge, depth + 1);
    }
  };
  if (size > 0) walk(0, '', 0);
  return names;
}

/**
 * Whether the embedded code signature's page hashes match the file: null when
 * there is no signature, else { ok, why }.
 */
function codeSignature(bytes, dataoff, datasize) {
  const blob = bytes.subarray(dataoff, dataoff + datasize);
  if (blob.length < 12 || blob.readUInt32BE(0) !== 0xfade0cc0) return { ok: false, why: 'LC_CODE_SIGNATURE holds no signature SuperBlob' };
  const count = blob.readUInt32BE(8);
  for (let i = 0; i < count; i++) {
    const type = blob.readUInt32BE(12 + i * 8);
    const at = blob.readUInt32BE(16 + i * 8);
    if (type !== 0 || blob.readUInt32BE(at) !== 0xfade0c02) continue; // the CodeDirectory
    const cd = blob.subarray(at);
    const hashOffset = cd.readUInt32BE(16);
    const nCodeSlots = cd.readUInt32BE(28);
    const codeLimit = cd.readUInt32BE(32);
    const hashSize = cd[36];
    const hashType = cd[37];
    const pageSize = 2 ** cd[39];
    const algorithm = { 1: 'sha1', 2: 'sha256' }[hashType];
    if (!algorithm) return { ok: false, why: `code signature hash type ${hashType} not understood` };
    if (codeLimit !== dataoff) return { ok: false, why: `code signature covers ${codeLimit} bytes, the signed part is ${dataoff}` };
    if (nCodeSlots !== Math.ceil(codeLimit / pageSize)) return { ok: false, why: `code signature has ${nCodeSlots} page hashes for ${codeLimit} bytes` };
    for (let page = 0; page < nCodeSlots; page++) {
      const start = page * pageSize;
      const digest = createHash(algorithm).update(bytes.subarray(start, Math.min(start + pageSize, codeLimit))).digest();
      const expected = cd.subarray(hashOffset + page * hashSize, hashOffset + (page + 1) * hashSize);
      if (!digest.subarray(0, hashSize).equals(expected)) return { ok: false, why: `code signature: page ${page} (offset ${start}) does not match its hash` };
    }
    return { ok: true, why: null };
  }
  return { ok: false, why: 'code signature has no CodeDirectory' };
}

/**
 * The parts of `bytes` (a whole Mach-O file) that decide whether it loads, or a
 * string saying why it is not a Mach-O file this reader understands.
 */
function readMachO(bytes) {
  if (bytes.length >= 4 && (bytes.readUInt32BE(0) === 0xcafebabe || bytes.readUInt32BE(0) === 0xcafebabf)) return 'a universal (fat) Mach-O file, not one architecture';
  if (bytes.length < 32 || bytes.readUInt32LE(0) !== MH_MAGIC_64) return 'not a 64-bit Mach-O file';
  const cpu = bytes.readUInt32LE(4);
  const filetype = bytes.readUInt32LE(12);
  const ncmds = bytes.readUInt32LE(16);
  const flags = bytes.readUInt32LE(24);

  const dylibs = [];
  let minOs = null;
  let platform = null;
  let symtab = null;
  let dysymtab = null;
  let dyldInfo = null;
  let exportsTrie = null;
  let chainedFixups = false;
  let signature = null;
  let at = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = bytes.readUInt32LE(at);
    const size = bytes.readUInt32LE(at + 4);
    if (size < 8 || at + size > bytes.length) return 'truncated load commands';
    if (DYLIB_COMMANDS.has(cmd)) dylibs.push(cString(bytes, at + bytes.readUInt32LE(at + 8)));
    else if (cmd === LC_BUILD_VERSION) {
      platform = bytes.readUInt32LE(at + 8);
      minOs = version(bytes.readUInt32LE(at + 12));
    } else if (cmd === LC_VERSION_MIN_MACOSX) {
      platform = PLATFORM_MACOS;
      minOs = version(bytes.readUInt32LE(at + 8));
    } else if (cmd === LC_SYMTAB) {
      symtab = { symoff: bytes.readUInt32LE(at + 8), nsyms: bytes.readUInt32LE(at + 12), stroff: bytes.readUInt32LE(at + 16) };
    } else if (cmd === LC_DYSYMTAB) {
      dysymtab = { nlocalsym: bytes.readUInt32LE(at + 12) };
    } else if (cmd === LC_DYLD_INFO || cmd === LC_DYLD_INFO_ONLY) {
      const field = (n) => bytes.readUInt32LE(at + 8 + n * 4);
      dyldInfo = { bind: [field(2), field(3)], weakBind: [field(4), field(5)], lazyBind: [field(6), field(7)], exports: [field(8), field(9)] };
    } else if (cmd === LC_DYLD_EXPORTS_TRIE) {
      exportsTrie = [bytes.readUInt32LE(at + 8), bytes.readUInt32LE(at + 12)];
    } else if (cmd === LC_DYLD_CHAINED_FIXUPS) {
      chainedFixups = true;
    } else if (cmd === LC_CODE_SIGNATURE) {
      signature = codeSignature(bytes, bytes.readUInt32LE(at + 8), bytes.readUInt32LE(at + 12));
    }
    at += size;
  }
  if (chainedFixups) return 'uses chained fixups (LC_DYLD_CHAINED_FIXUPS), which this reader does not follow';
  if (symtab === null) return 'no LC_SYMTAB';

  // Undefined external symbols, each with the library ordinal it is bound to.
  const undefinedSymbols = [];
  let stabs = 0;
  for (let i = 0; i < symtab.nsyms; i++) {
    const entry = symtab.symoff + i * 16;
    const nType = bytes[entry + 4];
    if (nType & N_STAB) {
      stabs++;
      continue;
    }
    if ((nType & N_TYPE) !== N_UNDF || !(nType & N_EXT)) continue;
    const ordinal = bytes.readUInt16LE(entry + 6) >> 8;
    undefinedSymbols.push({ name: cString(bytes, symtab.stroff + bytes.readUInt32LE(entry)), ordinal });
  }

  const binds = [];
  if (dyldInfo) {
    binds.push(...bindings(bytes, dyldInfo.bind[0], dyldInfo.bind[1], false));
    binds.push(...bindings(bytes, dyldInfo.lazyBind[0], dyldInfo.lazyBind[1], true));
  }
  const trie = exportsTrie ?? dyldInfo?.exports ?? [0, 0];
  const exported = exportedNames(bytes, trie[0], trie[1]);

  return {
    cpu,
    filetype,
    flags,
    dylibs,
    platform,
    minOs,
    undefinedSymbols,
    binds,
    exported,
    localSymbols: dysymtab?.nlocalsym ?? null,
    stabs,
    signature,
  };
}

module.exports = {
  readMachO,
  PLATFORM_MACOS,
  SELF_LIBRARY_ORDINAL,
  DYNAMIC_LOOKUP_ORDINAL,
  EXECUTABLE_ORDINAL,
  BIND_SPECIAL_DYLIB_FLAT_LOOKUP,
};
