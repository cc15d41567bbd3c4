/**
 * The TypeScript snippets of README.md, docs/guides/*.md and docs/elixir.md must compile against
 * the real API, so they cannot drift from it. Every ```ts block is a module of its own, checked
 * with the project's compiler options; `'distribute'` resolves to src/index.ts. A snippet may use
 * the globals declared in {@link PRELUDE} (`node`, a started node) without defining them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const guides = join(root, 'docs', 'guides');
const documents = [
  join(root, 'README.md'),
  join(root, 'docs', 'elixir.md'),
  ...readdirSync(guides)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(guides, f)),
];

/** Globals a snippet may use: a started node. */
const PRELUDE = `import type { Node } from 'distribute';
declare global {
  /** A started node. */
  const node: Node;
}
export {};
`;

interface Snippet {
  /** Virtual file name of the module. */
  readonly file: string;
  /** The markdown file and the line of the block's first code line. */
  readonly doc: string;
  readonly line: number;
  readonly code: string;
}

function snippetsOf(path: string): Snippet[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Snippet[] = [];
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (start < 0 && /^```ts\s*$/.test(l)) {
      start = i + 1;
    } else if (start >= 0 && /^```\s*$/.test(l)) {
      const doc = relative(root, path);
      out.push({
        file: join(root, '.snippets', `${doc.replace(/[/.]/g, '_')}_${start + 1}.ts`),
        doc,
        line: start + 1,
        code: lines.slice(start, i).join('\n'),
      });
      start = -1;
    }
  }
  return out;
}

/** Points `'distribute'` and `'distribute/term'` at the sources (snippets live in `<root>/.snippets/`). */
function resolveImports(code: string): string {
  return code
    .replace(/from 'distribute'/g, `from '../src/index.ts'`)
    .replace(/from 'distribute\/term'/g, `from '../src/term/index.ts'`);
}

describe('documentation snippets', () => {
  const snippets = documents.flatMap(snippetsOf);

  it('are found in every document', () => {
    for (const doc of documents) {
      expect(
        snippets.some((s) => s.doc === relative(root, doc)),
        `${relative(root, doc)} has no ts block`,
      ).toBe(true);
    }
  });

  it('compile against the real API', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (config === undefined) throw new Error('cannot read tsconfig.json');
    const options: ts.CompilerOptions = { ...config.options, noEmit: true };
    const prelude = join(root, '.snippets', 'prelude.ts');
    const virtual = new Map<string, string>([[prelude, resolveImports(PRELUDE)]]);
    for (const s of snippets) virtual.set(s.file, resolveImports(s.code));

    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
    host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
    host.getSourceFile = (f, lang, onError, create) => {
      const text = virtual.get(f);
      return text === undefined
        ? getSourceFile.call(host, f, lang, onError, create)
        : ts.createSourceFile(f, text, lang, true);
    };
    const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
    const problems: string[] = [];
    // Only the snippets' own diagnostics: checking them checks what they use of src/, and no more.
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...[...virtual.keys()].flatMap((f) => {
        const file = program.getSourceFile(f);
        return file === undefined
          ? []
          : [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
      }),
    ];
    for (const d of diagnostics) {
      const where = d.file?.fileName;
      const snippet = snippets.find((s) => s.file === where);
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (snippet === undefined) {
        problems.push(`${where ?? 'options'}: ${text}`);
        continue;
      }
      const line =
        d.file !== undefined && d.start !== undefined
          ? d.file.getLineAndCharacterOfPosition(d.start).line
          : 0;
      problems.push(`${snippet.doc}:${snippet.line + line}: ${text}`);
    }
    expect(problems).toEqual([]);
    expect(snippets.length).toBeGreaterThan(10);
  }, 180_000);
});
