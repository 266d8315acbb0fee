import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputDirectory, checkOutputFiles, writeFileAtomic } from '../../src/core/atomic.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-atomic-'));
const path = (name: string) => join(dir, name);

test('a symbolic link is written through: the link stays, its target gets the content', () => {
  writeFileSync(path('real.txt'), 'old');
  symlinkSync('real.txt', path('link.txt'));
  writeFileAtomic(path('link.txt'), 'new');
  assert.ok(lstatSync(path('link.txt')).isSymbolicLink());
  assert.equal(readFileSync(path('real.txt'), 'utf8'), 'new');
  // A dangling link is followed too: its target is created.
  symlinkSync('made.txt', path('dangling.txt'));
  writeFileAtomic(path('dangling.txt'), 'fresh');
  assert.ok(lstatSync(path('dangling.txt')).isSymbolicLink());
  assert.equal(readFileSync(path('made.txt'), 'utf8'), 'fresh');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('an existing FIFO, directory or link to a directory is refused, never replaced', () => {
  assert.equal(spawnSync('mkfifo', [path('fifo')]).status, 0);
  mkdirSync(path('sub'));
  symlinkSync('sub', path('to-sub'));
  for (const [name, kind] of [['fifo', 'a FIFO'], ['sub', 'a directory'], ['to-sub', 'a directory']] as const) {
    assert.throws(() => writeFileAtomic(path(name), 'x'), new RegExp(`refusing to write .*${name}: it exists and is ${kind}, not a regular file`));
    assert.throws(() => checkOutputFiles([path('ok.npy'), path(name)]), /refusing to write/);
  }
  assert.ok(lstatSync(path('fifo')).isFIFO());
  assert.ok(lstatSync(path('sub')).isDirectory());
  assert.ok(lstatSync(path('to-sub')).isSymbolicLink());
});

test('errors name the path given, never the temp file', () => {
  writeFileSync(path('file'), 'x');
  for (const [p, why] of [
    [path('missing/out.npy'), /directory .*missing does not exist/],
    [path('file/out.npy'), /a part of the path is a file, not a directory|is not a directory/],
  ] as const) {
    assert.throws(
      () => writeFileAtomic(p, 'x'),
      (e: Error) => e.message.startsWith(`cannot write ${p}: `) && why.test(e.message) && !e.message.includes('.tmp'),
    );
  }
});

test('an output directory must be a directory or creatable as one', () => {
  writeFileSync(path('plain'), 'x');
  checkOutputDirectory(path('new/deeper'));
  checkOutputDirectory(dir);
  assert.throws(() => checkOutputDirectory(path('plain')), /cannot use .*plain as a directory: it exists and is not a directory/);
  assert.throws(() => checkOutputDirectory(path('plain/run')), /plain\/run: a part of the path is a file, not a directory/);
  assert.equal(existsSync(path('new')), false);
});
