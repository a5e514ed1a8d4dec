// The fenced code blocks of a Markdown file, with what their info string
// says about them. The info string is the language, then words:
//
//   ```mjs server=8080        run it; it is a server on 127.0.0.1:8080
//   ```js file=server.js      not run alone: written as server.js for the others
//   ```ts fragment            not run: type-checked against the package
//   ```ini from=PATH          an excerpt: must appear verbatim in PATH
//   ```json config            a handover --config file
//
// A js/mjs/cjs/ts block with none of these is a script that must run to its
// end without an error.
import { readFileSync } from 'node:fs';

/** One fenced block. */
export interface CodeBlock {
  /** The file it is in, and the line of its opening fence (1-based). */
  file: string;
  line: number;
  lang: string;
  attrs: Map<string, string>;
  code: string;
}

/** Every fenced block (``` or ~~~) of `file`, in order. */
export function codeBlocks(file: string, text = readFileSync(file, 'utf8')): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(```+|~~~+)\s*([^\s`]*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const attrs = new Map<string, string>();
    for (const word of open[3].split(/\s+/).filter(Boolean)) {
      const eq = word.indexOf('=');
      attrs.set(eq < 0 ? word : word.slice(0, eq), eq < 0 ? '' : word.slice(eq + 1));
    }
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith(fence)) body.push(lines[j++]);
    if (j === lines.length) throw new Error(`${file}:${i + 1}: the code block never ends`);
    blocks.push({ file, line: i + 1, lang: open[2], attrs, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

/** Languages whose blocks are run (or type-checked). */
export const SCRIPT_LANGS = new Set(['js', 'mjs', 'cjs', 'ts']);

/** "README.md:58 (mjs server=8080)", for test names and messages. */
export function describeBlock(block: CodeBlock, root: string): string {
  const attrs = [...block.attrs].map(([k, v]) => (v === '' ? k : `${k}=${v}`));
  return `${block.file.startsWith(root) ? block.file.slice(root.length + 1) : block.file}:${block.line} (${[block.lang, ...attrs].join(' ')})`;
}
