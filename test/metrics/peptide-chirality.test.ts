import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpyFloat64 } from '../../src/io/npy.js';
import {
  checkChirality,
  chiralityReference,
  chiralitySigns,
  findChiralityCentres,
  fixChirality,
  PEPTIDE_CHIRALITY_CENTRES,
  peptideChiralityCentres,
} from '../../src/metrics/chirality.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const skipData =
  existsSync(join(DATA, 'aldp/train_300K.npy')) && existsSync(join(DATA, 'al3/openmm_reference.json')) ? false : 'reference data ../shared/data not present';

test('sign of the triple product: hand tetrahedra', () => {
  // Centre 0 at the origin; neighbours 1..4 at +x, +y, +z and (−1, −1, −1): (x × y)·... → x·(y × z) = +1.
  const right = Float64Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, -1, -1, -1]);
  const centres = [{ centre: 0, neighbours: [1, 2, 3, 4] as const }];
  assert.deepEqual(Array.from(chiralitySigns(right, 1, 5, centres)), [1]);
  // Swapping two substituents or mirroring flips it; a planar centre gives 0.
  const swapped = Float64Array.from([0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, -1, -1, -1]);
  const planar = Float64Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, -1, -1, -1]);
  assert.deepEqual(Array.from(chiralitySigns(swapped, 1, 5, centres)), [-1]);
  assert.deepEqual(Array.from(chiralitySigns(right.map((v) => -v), 1, 5, centres)), [-1]);
  assert.deepEqual(Array.from(chiralitySigns(planar, 1, 5, centres)), [0]);
  assert.throws(() => chiralityReference(planar, 1, 5, centres), /degenerate/);
  assert.throws(() => chiralitySigns(right, 1, 5, [{ centre: 0, neighbours: [1, 2, 3, 5] }]), /5 distinct indices in \[0, 5\)/);
  assert.throws(() => chiralitySigns(right, 2, 5, centres), /shape \[2, 15\] needs 30/);
  assert.throws(() => peptideChiralityCentres('lj13'), /known: aldp, al3/);
});

test('findChiralityCentres: 4 bonds, more than 2 to heavy atoms', () => {
  // Atom 0: bonded to C, N, O, H → centre (neighbours listed ascending although bond [3, 0] is reversed).
  // Atom 1 (C): 0 and three H → 1 heavy neighbour. Atom 5 (C): N 2, H 9, H 10, C 11 → 2 heavy, not > 2.
  const elements = ['C', 'C', 'N', 'O', 'H', 'C', 'H', 'H', 'H', 'H', 'H', 'C'];
  const bonds: [number, number][] = [[0, 1], [0, 2], [3, 0], [0, 4], [1, 6], [1, 7], [1, 8], [2, 5], [5, 9], [5, 10], [5, 11]];
  assert.deepEqual(findChiralityCentres(bonds, elements), [{ centre: 0, neighbours: [1, 2, 3, 4] }]);
  assert.throws(() => findChiralityCentres([[0, 12]], elements), /bond 0 is \[0, 12\]/);
});

test('peptide centre tables equal the centres found from the OpenMM bond lists', { skip: skipData }, () => {
  for (const name of ['aldp', 'al3'] as const) {
    const ref = JSON.parse(readFileSync(join(DATA, name, 'openmm_reference.json'), 'utf8')) as { bonds: [number, number][]; elements: string[]; atom_names: string[] };
    const found = findChiralityCentres(ref.bonds, ref.elements);
    assert.deepEqual(found, PEPTIDE_CHIRALITY_CENTRES[name].map((c) => ({ centre: c.centre, neighbours: [...c.neighbours] })));
    for (const c of found) assert.equal(ref.atom_names[c.centre], 'CA');
  }
});

function load(name: 'aldp' | 'al3', file: string): { x: Float64Array; n: number; nAtoms: number } {
  const nAtoms = name === 'aldp' ? 22 : 33;
  const { data, shape } = readNpyFloat64(join(DATA, name, file), { cols: 3 * nAtoms });
  return { x: data, n: shape[0], nAtoms };
}

test('every reference frame (ALDP 300 K and 1200 K, AL3 349.96 K) is L: same signs as frame 0', { skip: skipData }, () => {
  for (const [name, file] of [['aldp', 'train_300K.npy'], ['aldp', 'train_1200K.npy'], ['al3', 'train_349.96K.npy']] as const) {
    const { x, n, nAtoms } = load(name, file);
    const ref = chiralityReference(x, n, nAtoms, PEPTIDE_CHIRALITY_CENTRES[name]);
    const ok = checkChirality(ref, x, n);
    assert.equal(ok.reduce((s, v) => s + v, 0), n, `${name} ${file}`);
    const fixed = fixChirality(ref, x, n);
    assert.equal(fixed.correctRate, 1);
    assert.equal(fixed.uncorrectableRate, 0);
    assert.equal(fixed.kept.length, n);
  }
});

test('a mirrored ALDP frame is detected and fixed by mirroring', { skip: skipData }, () => {
  const { x, nAtoms } = load('aldp', 'train_300K.npy');
  const ref = chiralityReference(x.subarray(0, 10 * 66), 10, nAtoms, peptideChiralityCentres('aldp'), 1);
  const dim = 3 * nAtoms;
  const batch = x.slice(0, 4 * dim);
  for (let i = 2 * dim; i < 3 * dim; i++) batch[i] = -batch[i]; // frame 2 → its D mirror image
  assert.deepEqual(Array.from(checkChirality(ref, batch, 4)), [1, 1, 0, 1]);
  const fixed = fixChirality(ref, batch, 4);
  assert.deepEqual(Array.from(fixed.mirrored), [0, 0, 1, 0]);
  assert.deepEqual(Array.from(fixed.kept), [0, 1, 2, 3]);
  assert.deepEqual(fixed.samples, x.slice(0, 4 * dim)); // −(−x) = x exactly
  assert.equal(fixed.correctRate, 0.75);
  assert.equal(fixed.uncorrectableRate, 0);
  assert.equal(batch[2 * dim], -x[2 * dim], 'input untouched');
});

test('rates on a constructed AL3 mix: correct, mirrored (fixable) and partly inverted (uncorrectable)', { skip: skipData }, () => {
  const { x, nAtoms } = load('al3', 'train_349.96K.npy');
  const ref = chiralityReference(x.subarray(0, 99), 1, nAtoms, PEPTIDE_CHIRALITY_CENTRES.al3);
  const dim = 3 * nAtoms;
  const n = 10;
  const batch = x.slice(0, n * dim);
  const mirror = [1, 4, 7]; // whole frame negated: all three Cα flipped → fixable
  const partial = [2, 8]; // HA 15 and CB 16 of the middle Cα swapped: only that centre flips → not fixable
  for (const r of mirror) for (let i = r * dim; i < (r + 1) * dim; i++) batch[i] = -batch[i];
  for (const r of partial) {
    for (let k = 0; k < 3; k++) {
      const [p, q] = [r * dim + 3 * 15 + k, r * dim + 3 * 16 + k];
      [batch[p], batch[q]] = [batch[q], batch[p]];
    }
  }
  const signs = chiralitySigns(batch, n, nAtoms, ref.centres);
  assert.deepEqual(Array.from(signs.subarray(2 * 3, 3 * 3)), [ref.signs[0], -ref.signs[1], ref.signs[2]]);

  const mirrored = fixChirality(ref, batch, n, 'mirror');
  assert.equal(mirrored.correctRate, 5 / 10);
  assert.equal(mirrored.uncorrectableRate, 2 / 10);
  assert.deepEqual(Array.from(mirrored.kept), [0, 1, 3, 4, 5, 6, 7, 9]);
  assert.deepEqual(Array.from(mirrored.mirrored), [0, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
  assert.equal(checkChirality(ref, mirrored.samples, mirrored.kept.length).reduce((s, v) => s + v, 0), 8);

  const discarded = fixChirality(ref, batch, n, 'discard');
  assert.equal(discarded.correctRate, 0.5);
  assert.equal(discarded.uncorrectableRate, 0.2);
  assert.deepEqual(Array.from(discarded.kept), [0, 3, 5, 6, 9]);
  assert.equal(discarded.mirrored.reduce((s, v) => s + v, 0), 0);
  assert.deepEqual(discarded.samples.subarray(0, dim), x.subarray(0, dim));
  // @ts-expect-error: runtime check of an invalid mode
  assert.throws(() => fixChirality(ref, batch, n, 'flip'), /mode/);
});
