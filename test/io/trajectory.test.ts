import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPdb, formatXyz, inferElement, parsePdb, readPdb, writePdb, writeXyz } from '../../src/io/trajectory.js';

const ALDP_PDB = fileURLToPath(new URL('../../../shared/data/aldp/aldp.pdb', import.meta.url));
const skipData = existsSync(ALDP_PDB) ? false : 'reference data ../shared/data/aldp not present';

const dir = mkdtempSync(join(tmpdir(), 'pita-traj-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('XYZ: atom count, comment and "El x y z" lines per frame, with a length scale', () => {
  const coords = [0, 0.1, -0.2, 1, 2, 3, /* frame 2 */ 0.5, 0.5, 0.5, -1, -2, -3];
  assert.equal(
    formatXyz(coords, 2, { elements: ['C', 'H'], lengthScale: 10, comments: ['first', 'second'] }),
    ['2', 'first', 'C 0.000000 1.000000 -2.000000', 'H 10.000000 20.000000 30.000000', '2', 'second', 'C 5.000000 5.000000 5.000000', 'H -10.000000 -20.000000 -30.000000', ''].join('\n'),
  );
  assert.equal(formatXyz([1, 2, 3], 1), '1\nframe 0\nAr 1.000000 2.000000 3.000000\n');
  const path = join(dir, 'a.xyz');
  writeXyz(path, coords, 2);
  assert.equal(readFileSync(path, 'utf8').split('\n').length, 9);
});

test('PDB ATOM records use the fixed PDB columns; MODEL/ENDMDL per frame; Å after scaling', () => {
  const text = formatPdb([0.1, -0.2, 0.3, 1.234567, 2, -10.5, /* frame 2 */ 0, 0, 0, 1, 1, 1], 2, {
    names: ['CA', 'HH31'],
    elements: ['C', 'H'],
    resNames: ['ALA', 'ACE'],
    resSeqs: [2, 1],
    lengthScale: 10,
  });
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    'MODEL        1',
    'ATOM      1  CA  ALA A   2       1.000  -2.000   3.000  1.00  0.00           C',
    'ATOM      2 HH31 ACE A   1      12.346  20.000-105.000  1.00  0.00           H',
    'ENDMDL',
  ]);
  assert.equal(lines[4], 'MODEL        2');
  assert.deepEqual(lines.slice(-3), ['ENDMDL', 'END', '']);
  const atom = lines[1];
  assert.equal(atom.length, 78);
  // Column positions (1-based, inclusive) per the PDB format.
  assert.equal(atom.slice(6, 11), '    1');
  assert.equal(atom.slice(12, 16), ' CA ');
  assert.equal(atom.slice(17, 20), 'ALA');
  assert.equal(atom.slice(21, 22), 'A');
  assert.equal(atom.slice(22, 26), '   2');
  assert.equal(atom.slice(30, 38), '   1.000');
  assert.equal(atom.slice(76, 78), ' C');
});

test('PDB defaults for LJ particles: argon atoms in one UNK residue', () => {
  const line = formatPdb([1, 2, 3], 1).split('\n')[1];
  assert.equal(line, 'ATOM      1 AR   UNK A   1       1.000   2.000   3.000  1.00  0.00          AR');
  const back = parsePdb(formatPdb([1, 2, 3, 4, 5, 6], 2));
  assert.deepEqual(
    back.atoms.map((a) => [a.name, a.element, a.resName, a.resSeq]),
    [
      ['AR', 'Ar', 'UNK', 1],
      ['AR', 'Ar', 'UNK', 1],
    ],
  );
});

test('PDB round trip: first model by default, all models on request, scale to nm', () => {
  const frames = [0.1, 0.2, 0.3, -0.4, 0.5, 0.6, /* 2 */ 1, 1, 1, 2, 2, 2, /* 3 */ -1, 0, 1, 0.123, 0.456, 0.789];
  const path = join(dir, 'traj.pdb');
  writePdb(path, frames, 2, { elements: ['N', 'O'], lengthScale: 10 });
  const first = readPdb(path, { lengthScale: 0.1 });
  assert.equal(first.models.length, 1);
  assert.deepEqual(first.atoms.map((a) => a.element), ['N', 'O']);
  const all = readPdb(path, { allModels: true, lengthScale: 0.1 });
  assert.equal(all.models.length, 3);
  for (let f = 0; f < 3; f++) {
    for (let k = 0; k < 6; k++) assert.ok(Math.abs(all.models[f][k] - frames[f * 6 + k]) < 1e-12, `frame ${f} value ${k}`);
  }
});

test('reads the ALDP PDB: 22 atoms in ACE-ALA-NME order with inferred elements', { skip: skipData }, () => {
  const s = readPdb(ALDP_PDB);
  assert.equal(s.atoms.length, 22);
  assert.equal(s.models.length, 1);
  assert.deepEqual(
    s.atoms.map((a) => `${a.resName} ${a.name}`),
    [
      ...['HH31', 'CH3', 'HH32', 'HH33', 'C', 'O'].map((n) => `ACE ${n}`),
      ...['N', 'H', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O'].map((n) => `ALA ${n}`),
      ...['N', 'H', 'CH3', 'HH31', 'HH32', 'HH33'].map((n) => `NME ${n}`),
    ],
  );
  assert.deepEqual(s.atoms.map((a) => a.resSeq), [...Array(6).fill(1), ...Array(10).fill(2), ...Array(6).fill(3)]);
  assert.equal(s.atoms.map((a) => a.element).join(''), 'HCHHCONHCHCHHHCONHCHHH');
  assert.deepEqual(Array.from(s.models[0].subarray(0, 3)), [2, 1, -0]);
  assert.deepEqual(Array.from(s.models[0].subarray(63, 66)), [6.36, 8.648, -0.89]);
  const nm = readPdb(ALDP_PDB, { lengthScale: 0.1 });
  assert.ok(Math.abs(nm.models[0][64] - 0.8648) < 1e-15);
});

test('element inference from the name field', () => {
  assert.equal(inferElement(' CA '), 'C');
  assert.equal(inferElement('CA  '), 'Ca');
  assert.equal(inferElement('HH31'), 'H');
  assert.equal(inferElement('HG11'), 'H');
  assert.equal(inferElement('1HB '), 'H');
  assert.equal(inferElement('CL1 '), 'Cl');
  assert.equal(inferElement(' OXT'), 'O');
});

test('writers and reader reject bad input with clear messages', () => {
  assert.throws(() => formatXyz([1, 2, 3, 4], 1), /4 coordinates; expected \[nFrames, 3\] for 1 atoms/);
  assert.throws(() => formatPdb([1, 2, 3], 1, { elements: ['C', 'H'] }), /elements has 2 entries; expected 1/);
  assert.throws(() => formatPdb([1, 2, 3], 1, { names: ['TOOLONG'] }), /1–4 characters/);
  assert.throws(() => formatPdb([1e4, 0, 0], 1), /frame 0 atom 0 coordinate 10000 does not fit/);
  assert.throws(() => formatPdb([NaN, 0, 0], 1), /frame 0, atom 0 is NaN/);
  assert.throws(() => formatXyz([1, 2, 3], 1, { comments: ['a\nb'] }), /line break/);
  assert.throws(() => formatPdb([1, 2, 3], 1, { lengthScale: 0 }), /lengthScale must be a positive/);
  const twoModels = 'MODEL 1\nATOM      1  C   UNK A   1       1.000   2.000   3.000\nENDMDL\nMODEL 2\nENDMDL\n';
  assert.equal(parsePdb(twoModels).models.length, 1);
  const mismatch = twoModels.replace('MODEL 2\n', 'MODEL 2\n' + 'ATOM      1  C   UNK A   1       1.000   2.000   3.000\n'.repeat(2));
  assert.throws(() => parsePdb(mismatch, 'x.pdb', { allModels: true }), /x\.pdb: model 2 has 2 atoms; model 1 has 1/);
  assert.throws(() => parsePdb('ATOM      1  C   UNK A   1       1.000   abc     3.000\n', 'y.pdb'), /y\.pdb line 1: y "abc"/);
  assert.throws(() => parsePdb('REMARK nothing\n', 'z.pdb'), /z\.pdb contains no ATOM/);
  assert.throws(() => readPdb(join(dir, 'missing.pdb')), /cannot read .*missing\.pdb/);
});
