// The shape of lib/ (issue 15): one folder per layer, each with an index
// whose header says what the folder is for and which folders it may import
// ("May import: core, native."). Imports across folders go through the
// other folder's index and only to folders its header allows; the allowed
// lists never form a cycle, so nothing imports upward. No file is over 400
// lines and no class over 300.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LIB = resolve(__dirname, '..', 'lib');
const FOLDERS = readdirSync(LIB).filter((name) => statSync(join(LIB, name)).isDirectory());

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .filter((path) => path.endsWith('.ts') && statSync(path).isFile());
}

/** The folders a folder's index header allows it to import. */
function allowed(folder: string): string[] {
  const header = /May import: ([^.\n]+)\./.exec(readFileSync(join(LIB, folder, 'index.ts'), 'utf8'))?.[1];
  if (header === undefined) throw new Error(`lib/${folder}/index.ts has no "May import: ..." line`);
  return header === 'node builtins only' ? [] : header.split(/,\s*/);
}

/** Every relative module specifier of a file (import, export ... from, import(), require()). */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith('.'));
}

describe('lib/ layers', () => {
  it('has a folder per layer, each with an index that states its job and what it may import', () => {
    expect(FOLDERS.sort()).toEqual(['cli', 'core', 'drain', 'http', 'native', 'protocol', 'supervisor', 'upgrade']);
    for (const folder of FOLDERS) {
      const header = readFileSync(join(LIB, folder, 'index.ts'), 'utf8');
      expect(header, folder).toMatch(new RegExp(`^/\\*\\*\\n \\* ${folder}: `));
      for (const other of allowed(folder)) expect(FOLDERS, `${folder} may import ${other}`).toContain(other);
    }
    expect(readdirSync(LIB).filter((name) => name.endsWith('.ts'))).toEqual(['index.ts']);
  });

  it('imports across folders only through an index, and only what the header allows', () => {
    const wrong: string[] = [];
    for (const file of filesUnder(LIB)) {
      const from = relative(LIB, dirname(file)).split('/')[0];
      for (const specifier of specifiers(file)) {
        const target = relative(LIB, resolve(dirname(file), specifier));
        const to = target.split('/')[0];
        if (from === '' || to === from) continue; // lib/index.ts, or within the folder
        const where = `${relative(LIB, file)} imports ${specifier}`;
        if (target !== to) wrong.push(`${where}: past ${to}'s index`);
        else if (!allowed(from).includes(to)) wrong.push(`${where}: ${from} may not import ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no cycle among the folders: each can be given a floor below everything it imports', () => {
    const floors = new Map<string, number>();
    const floor = (folder: string, seen: string[] = []): number => {
      if (seen.includes(folder)) throw new Error(`import cycle: ${[...seen, folder].join(' -> ')}`);
      if (!floors.has(folder)) floors.set(folder, Math.max(0, ...allowed(folder).map((other) => floor(other, [...seen, folder]) + 1)));
      return floors.get(folder)!;
    };
    expect(Object.fromEntries(FOLDERS.map((folder) => [folder, floor(folder)]))).toEqual({ core: 0, native: 1, protocol: 2, drain: 1, upgrade: 3, http: 4, supervisor: 3, cli: 4 });
  });

  it('has no file over 400 lines and no class over 300', () => {
    const big: string[] = [];
    for (const file of filesUnder(LIB)) {
      const name = relative(LIB, file);
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n').length - 1;
      if (lines > 400) big.push(`${name}: ${lines} lines`);
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
      for (const statement of source.statements) {
        if (!ts.isClassDeclaration(statement)) continue;
        const start = source.getLineAndCharacterOfPosition(statement.getStart()).line;
        const end = source.getLineAndCharacterOfPosition(statement.getEnd()).line;
        if (end - start + 1 > 300) big.push(`${name}: class ${statement.name?.text} is ${end - start + 1} lines`);
      }
    }
    expect(big).toEqual([]);
  });
});
