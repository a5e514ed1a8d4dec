// Running a document's code blocks as a reader would: each in a project of
// its own that depends on this package (node_modules/handover is this
// checkout, built), inside a private network namespace so that `8080`
// means 8080. See test/helpers/markdown.ts for what a block's info string
// says. Every process a block starts carries a token in its environment and
// is killed at the end, whatever happened.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { expect } from 'vitest';
import { type CodeBlock } from './markdown';
import { Netns, type Answer } from './netns';
import { killWithEnv, pidsWithEnv } from './proc';

const ROOT = resolve(__dirname, '../..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TOKEN = 'HANDOVER_SNIPPET_TEST';
const SCRIPT_TIMEOUT_MS = 30_000;

/** What running one block showed. */
export interface SnippetRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Server blocks: the answers before and after SIGHUP, and whether generation 1 exited after it. */
  answers: Answer[];
  /** Processes of the block still running when it should have been done (killed since). */
  leftovers: number[];
}

const EXTENSION: Record<string, string> = { js: '.js', cjs: '.cjs', mjs: '.mjs', ts: '.ts' };

/** A fresh project with `files` written into it and the package installed by symlink. */
function project(files: CodeBlock[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'handover-snippet-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'snippet', version: '1.0.0', private: true }));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'handover'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  for (const file of files) {
    const path = join(dir, file.attrs.get('file')!);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.code);
  }
  return dir;
}

function tsconfig(dir: string, files: string[], emit: boolean): void {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'Node16', moduleResolution: 'Node16', types: ['node'], allowJs: true, checkJs: true, noEmit: !emit, skipLibCheck: true },
      files,
    }),
  );
}

function tsc(dir: string): Promise<string> {
  return new Promise((done) => {
    execFile(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' }, (err, stdout, stderr) => done(err ? `${stdout}${stderr}` || err.message : ''));
  });
}

/** Type-checks a `fragment` block against the package's types; resolves with tsc's complaints ('' when none). */
export async function typeCheck(block: CodeBlock, files: CodeBlock[]): Promise<string> {
  const dir = project(files);
  try {
    const name = `fragment${EXTENSION[block.lang]}`;
    writeFileSync(join(dir, name), block.code);
    tsconfig(dir, [name], false);
    return await tsc(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a script or server block in a new project holding `files`. A script
 * must end by itself; a server (`server=PORT`) is asked for `/`, upgraded
 * with SIGHUP (generation 1 must drain and exit), asked again, then sent
 * SIGTERM with everything it started.
 */
export async function runBlock(block: CodeBlock, files: CodeBlock[]): Promise<SnippetRun> {
  const dir = project(files);
  const netns = new Netns();
  const token = randomBytes(8).toString('hex');
  try {
    let main = `snippet${EXTENSION[block.lang]}`;
    writeFileSync(join(dir, main), block.code);
    if (block.lang === 'ts') {
      tsconfig(dir, [main], true);
      const complaints = await tsc(dir);
      if (complaints !== '') return { code: null, signal: null, stdout: '', stderr: `tsc:\n${complaints}`, answers: [], leftovers: [] };
      main = 'snippet.js';
    }
    const { command, args } = netns.wrap([process.execPath, main]);
    const child = spawn(command, args, { cwd: dir, env: { ...process.env, [TOKEN]: token }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T | 'timeout'> =>
      Promise.race([promise, new Promise<'timeout'>((wake) => setTimeout(() => wake('timeout'), ms).unref())]).then((value) => {
        if (value === 'timeout') stderr += `\n[snippet runner] ${what}: no result within ${ms} ms`;
        return value;
      });
    const answers: Answer[] = [];
    let status: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };

    const port = block.attrs.get('server');
    if (port === undefined) {
      const ended = await within(exit, SCRIPT_TIMEOUT_MS, 'the script did not end');
      if (ended !== 'timeout') status = ended;
    } else {
      // A server that dies before it answers has failed: no need to wait out the poll.
      const died = exit.then((ended): Answer => ({ error: `exited (${ended.code ?? ended.signal}) before it answered` }));
      answers.push(await Promise.race([netns.firstAnswer(Number(port)), died]));
      child.kill('SIGHUP');
      const drained = await within(exit, SCRIPT_TIMEOUT_MS, 'generation 1 did not exit after SIGHUP');
      if (drained !== 'timeout') status = drained;
      answers.push(await netns.get(Number(port)));
    }
    const leftovers = pidsWithEnv(TOKEN, token);
    if (port !== undefined) {
      // The server's later generations: SIGTERM, as a shutdown; they must drain and go.
      for (const pid of leftovers) process.kill(pid, 'SIGTERM');
      await expect.poll(() => pidsWithEnv(TOKEN, token), { timeout: 20_000 }).toEqual([]);
    }
    return { ...status, stdout, stderr, answers, leftovers: port === undefined ? leftovers : [] };
  } finally {
    killWithEnv(pidsWithEnv(TOKEN, token), TOKEN, token);
    await expect.poll(() => pidsWithEnv(TOKEN, token), { timeout: 10_000 }).toEqual([]);
    netns.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}
