// Every code block of README.md and docs/*.md does what it says (issue 14):
// each JavaScript/TypeScript block runs in a project of its own that depends
// on this package — servers for a short while, with real requests and a real
// upgrade — fragments type-check, excerpts of shipped files are verbatim,
// and every `handover` command line and `npm run` script in a shell block
// exists; a `json config` block is a --config file handover accepts. The
// error-code table is the library's own list.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../lib/cli';
import { fromConfigObject } from '../lib/cli/config';
import { ERROR_CODES } from '../lib/core/errors';
import { codeBlocks, describeBlock, SCRIPT_LANGS, type CodeBlock } from './helpers/markdown';
import { runBlock, typeCheck } from './helpers/snippets';

const ROOT = resolve(__dirname, '..');
const DOCUMENTS = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** What an uncaught error, a rejection or a process warning prints. */
const ERRORISH = /\b[A-Za-z]*(Error|Warning)\b|\bERR_[A-Z_]+\b|\bE[A-Z]{3,}:/;

/** The blocks of one document that are project files for its other blocks. */
const projectFiles = (blocks: CodeBlock[]) => blocks.filter((b) => SCRIPT_LANGS.has(b.lang) && b.attrs.has('file'));

function expectRan(run: Awaited<ReturnType<typeof runBlock>>, server: boolean): void {
  const transcript = `exit ${run.code ?? run.signal}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n--- answers ${JSON.stringify(run.answers)}`;
  expect({ code: run.code, signal: run.signal, leftovers: run.leftovers }, transcript).toEqual({ code: 0, signal: null, leftovers: [] });
  // Logs on stderr are fine (the supervisor's are its job); an error or a warning is not.
  expect(run.stderr, transcript).not.toMatch(ERRORISH);
  if (server) {
    expect(run.answers, transcript).toEqual([
      expect.objectContaining({ status: expect.any(Number) }),
      expect.objectContaining({ status: expect.any(Number) }),
    ]);
    for (const answer of run.answers) expect('status' in answer && answer.status >= 200 && answer.status < 300, transcript).toBe(true);
  }
}

/** `cmd a "b c" # comment` → [cmd, a, b c]; one entry per command of a `&&` or `||` chain. */
function commandLines(code: string): string[][] {
  const out: string[][] = [];
  for (const raw of code.split('\n')) {
    const line = raw.replace(/\s#.*$/, '').replace(/^#.*$/, '').trim();
    if (line === '') continue;
    for (const part of line.split(/&&|\|\|/)) {
      const words = [...part.trim().matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
      if (words.length > 0) out.push(words);
    }
  }
  return out;
}

for (const document of DOCUMENTS) {
  const blocks = codeBlocks(document);
  if (!blocks.some((b) => SCRIPT_LANGS.has(b.lang) || b.attrs.has('from') || b.lang === 'sh' || b.attrs.has('config'))) continue;
  const files = projectFiles(blocks);
  describe(document.slice(ROOT.length + 1), () => {
    for (const block of blocks) {
      const name = describeBlock(block, ROOT);
      if (SCRIPT_LANGS.has(block.lang) && block.attrs.has('fragment')) {
        it(`${name} type-checks`, async () => {
          expect(await typeCheck(block, files)).toBe('');
        });
      } else if (SCRIPT_LANGS.has(block.lang) && !block.attrs.has('file')) {
        it(`${name} runs`, async () => {
          expectRan(await runBlock(block, files), block.attrs.has('server'));
        });
      } else if (block.attrs.has('from')) {
        it(`${name} is an excerpt of ${block.attrs.get('from')}`, () => {
          expect(readFileSync(join(ROOT, block.attrs.get('from')!), 'utf8')).toContain(block.code);
        });
      } else if (block.lang === 'json' && block.attrs.has('config')) {
        it(`${name} is a --config file handover accepts`, () => {
          expect(fromConfigObject('handover.json', JSON.parse(block.code) as Parameters<typeof fromConfigObject>[1]).command, block.code).toBeDefined();
        });
      } else if (block.lang === 'sh') {
        it(`${name}: its handover commands and npm scripts exist`, () => {
          for (const words of commandLines(block.code)) {
            if (words[0] === 'handover') expect(() => parseCommandLine(words.slice(1)), words.join(' ')).not.toThrow();
            if (words[0] === 'npm' && words[1] === 'run') expect(Object.keys(SCRIPTS), words.join(' ')).toContain(words[2]);
          }
        });
      }
    }
  });
}

describe('README.md', () => {
  it('lists every HandoverError code, in the order of ERROR_CODES', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('<!-- error-codes -->'), readme.indexOf('<!-- /error-codes -->'));
    expect([...table.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1])).toEqual(Object.keys(ERROR_CODES));
  });
});

describe('the snippet runner', () => {
  const block = (lang: string, code: string, attrs: Record<string, string> = {}): CodeBlock => ({ file: 'test.md', line: 1, lang, attrs: new Map(Object.entries(attrs)), code });

  it('fails a block that throws, and one that leaves a process running', async () => {
    const broken = await runBlock(block('mjs', "import { listenAndServe } from 'handover';\nawait listenAndServe('nowhere', () => {});\n"), []);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/ERR_INVALID_ARG_VALUE/);
    const lingering = await runBlock(block('js', "require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { detached: true, stdio: 'ignore' }).unref();\n"), []);
    expect(lingering.code).toBe(0);
    expect(lingering.leftovers).toHaveLength(1);
  });

  it('fails a server that does not upgrade, and a fragment that does not type-check', async () => {
    const plain = await runBlock(block('js', "require('node:http').createServer((q, s) => s.end('x')).listen(8080);\n", { server: '8080' }), []);
    expect(plain.answers[0]).toMatchObject({ status: 200 });
    expect(plain.signal).toBe('SIGHUP'); // a plain server dies of SIGHUP: not an upgrade
    expect(await typeCheck(block('ts', "import { listenAndServe } from 'handover';\nlistenAndServe(8080, 42);\n", { fragment: '' }), [])).toMatch(/error TS2345/);
  });
});
