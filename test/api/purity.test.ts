/**
 * Library modules neither print nor handle signals: they return values and
 * emit events, and only src/cli writes to the terminal or installs handlers
 * (developer guide). A plain scan of the sources, so a new offender fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const src = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p === join(src, 'cli') ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no library module outside src/cli installs signal handlers or writes to stdout/stderr', () => {
  const files = sources(src);
  assert.ok(files.length > 50, `scanned ${files.length} files`);
  const offenders: string[] = [];
  const pattern = /process\.(on|once|addListener)\(|process\.(stderr|stdout)\b|console\.(log|error|warn|info)\(/;
  for (const f of files) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (pattern.test(line) && !/^\s*(\*|\/\/)/.test(line)) offenders.push(`${relative(src, f)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});
