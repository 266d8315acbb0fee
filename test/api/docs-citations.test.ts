import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

// Comments in src/ and in the presets (configs/*.yaml) cite the documents in docs/ as `docs/<name>.md §N`
// (or `§N.M`, lists `§A, §B and §C`, ranges `§A–§B`). Every cited section must be a numbered heading of
// that document, and the old citations of specification files outside the repository ("spec §…") must
// not come back.

const root = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

/** The presets: YAML files whose comments explain their choices. */
function presetFiles(): string[] {
  const dir = join(root, 'configs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));
}

/** Lines of a file that cite a specification outside the repository. */
function specCitations(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((l, i) => {
    if (/\bspec\s+§|\b(?:algorithm|targets-and-metrics|tensor-engine)\s+spec\b|spec [\w-]+\.md|\bspec's\b/.test(l)) found.push(`${file}:${i + 1}: ${l.trim()}`);
  });
  return found;
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

/** Every `docs/<name>.md §…` citation in a text; line breaks and comment marks (*, //, # in YAML) may separate the parts. */
function citations(text: string): Citation[] {
  const out: Citation[] = [];
  const sep = String.raw`(?:\s|\*|//|#)*`;
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
  // A YAML comment wrapped after a comma.
  assert.deepEqual(
    citations('# exact β ratios: docs/algorithm.md §6.3,\n# §6.4 and §6.8).\nkey: 1').map((c) => c.section),
    ['6.3', '6.4', '6.8'],
  );
  const docs = new Map([['algorithm.md', new Set(['2.1', '2.4', '5.8', '5.9'])]]);
  assert.deepEqual(problems('x.ts', text, docs), ['x.ts:2 cites docs/algorithm.md §99, which is not a section heading there']);
  assert.deepEqual(problems('x.ts', 'docs/nowhere.md §1', new Map([['nowhere.md', null]])), ['x.ts:1 cites docs/nowhere.md, which does not exist']);
  assert.deepEqual([...headings('# Title\n## 1. Loop\n### 1.2 Ladder\n## Notes\n')], ['1', '1.2']);
});

test('src/ and the presets cite no specification outside the repository ("spec §…")', () => {
  const files = [...sourceFiles(join(root, 'src')), ...presetFiles()];
  assert.ok(files.some((f) => f.endsWith('.yaml')) && files.some((f) => f.endsWith('.ts')));
  assert.deepEqual(
    files.flatMap((f) => specCitations(relative(root, f), readFileSync(f, 'utf8'))),
    [],
  );
  // The check flags the old preset wording.
  assert.deepEqual(specCitations('x.yaml', "target: dw4\n# the paper's hyper-parameters (algorithm spec §9), the spec's default column\n"), [
    "x.yaml:2: # the paper's hyper-parameters (algorithm spec §9), the spec's default column",
  ]);
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

test('every docs/….md §N citation in configs/*.yaml names a section heading, and every full preset cites its departures', () => {
  const files = presetFiles().map((f) => ({ file: relative(root, f), text: readFileSync(f, 'utf8') }));
  const docs = loadDocs(new Set(files.flatMap(({ text }) => citations(text)).map((c) => c.doc)));
  assert.deepEqual(
    files.flatMap(({ file, text }) => problems(file, text, docs)),
    [],
  );
  // The full presets explain how they resolve the reference code's defects (docs/algorithm.md §6).
  const full = files.filter(({ file }) => file.endsWith('.full.yaml'));
  assert.equal(full.length, 6);
  for (const { file, text } of full) {
    assert.ok(citations(text).some((c) => c.doc === 'algorithm.md' && c.section.startsWith('6')), `${file} cites no docs/algorithm.md §6 section`);
  }
});
