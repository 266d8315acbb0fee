import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

// Comments in src/ cite the documents in docs/ as `docs/<name>.md §N` (or `§N.M`, lists `§A, §B and §C`,
// ranges `§A–§B`). Every cited section must be a numbered heading of that document, and the old citations
// of specification files outside the repository ("spec §…") must not come back.

const root = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

/** Section numbers of a markdown document: "## 4. Training" gives "4", "### 4.2 The pin" gives "4.2". */
function headings(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]);
  return out;
}

interface Citation {
  doc: string;
  section: string;
  line: number;
}

/** Every `docs/<name>.md §…` citation in a text; line breaks and comment stars may separate the parts. */
function citations(text: string): Citation[] {
  const out: Citation[] = [];
  const sep = String.raw`(?:\s|\*|//)*`;
  const ref = String.raw`§\d+(?:\.\d+)*`;
  const re = new RegExp(String.raw`docs/([\w-]+\.md)${sep}(${ref}(?:${sep}(?:,|and|–|-)${sep}${ref})*)`, 'g');
  for (const m of text.matchAll(re)) {
    const line = text.slice(0, m.index).split('\n').length;
    for (const s of m[2].matchAll(/§(\d+(?:\.\d+)*)/g)) out.push({ doc: m[1], section: s[1], line });
  }
  return out;
}

/** Problems with the citations of one file: unknown documents and sections that are not headings. */
function problems(file: string, text: string, docs: Map<string, Set<string> | null>): string[] {
  return citations(text).flatMap(({ doc, section, line }) => {
    const sections = docs.get(doc);
    if (sections === undefined || sections === null) return [`${file}:${line} cites docs/${doc}, which does not exist`];
    return sections.has(section) ? [] : [`${file}:${line} cites docs/${doc} §${section}, which is not a section heading there`];
  });
}

function loadDocs(names: Iterable<string>): Map<string, Set<string> | null> {
  const out = new Map<string, Set<string> | null>();
  for (const name of names) {
    const p = join(root, 'docs', name);
    out.set(name, existsSync(p) ? headings(readFileSync(p, 'utf8')) : null);
  }
  return out;
}

test('the citation parser reads lists, ranges and wrapped comments, and reports missing sections', () => {
  const text = '/**\n * see docs/algorithm.md §5.8–§5.9 and docs/algorithm.md\n * §2.1, §2.4 and §99\n */';
  assert.deepEqual(
    citations(text).map((c) => `${c.section}@${c.line}`),
    ['5.8@2', '5.9@2', '2.1@2', '2.4@2', '99@2'],
  );
  const docs = new Map([['algorithm.md', new Set(['2.1', '2.4', '5.8', '5.9'])]]);
  assert.deepEqual(problems('x.ts', text, docs), ['x.ts:2 cites docs/algorithm.md §99, which is not a section heading there']);
  assert.deepEqual(problems('x.ts', 'docs/nowhere.md §1', new Map([['nowhere.md', null]])), ['x.ts:1 cites docs/nowhere.md, which does not exist']);
  assert.deepEqual([...headings('# Title\n## 1. Loop\n### 1.2 Ladder\n## Notes\n')], ['1', '1.2']);
});

test('src/ cites no specification outside the repository ("spec §…")', () => {
  const found: string[] = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((l, i) => {
        if (/\bspec\s+§|\b(?:algorithm|targets-and-metrics|tensor-engine)\s+spec\b|spec [\w-]+\.md/.test(l)) found.push(`${relative(root, file)}:${i + 1}: ${l.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});

test("every docs/….md §N citation in src/ names a section heading of that document", () => {
  const files = sourceFiles(join(root, 'src')).map((f) => ({ file: relative(root, f), text: readFileSync(f, 'utf8') }));
  const all = files.flatMap(({ text }) => citations(text));
  // The three documents are cited, many times; a parser that finds nothing would pass vacuously.
  assert.deepEqual([...new Set(all.map((c) => c.doc))].sort(), ['algorithm.md', 'targets-and-metrics.md', 'tensor-engine.md']);
  assert.ok(all.length >= 50, `only ${all.length} citations found`);
  const docs = loadDocs(new Set(all.map((c) => c.doc)));
  assert.deepEqual(
    files.flatMap(({ file, text }) => problems(file, text, docs)),
    [],
  );
});
