import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { readPdb } from '../../src/io/trajectory.js';
import {
  backboneAngles,
  dihedralAngle,
  dihedralAngles,
  PEPTIDE_DIHEDRALS,
  peptideDihedrals,
  phiPsiPairs,
} from '../../src/metrics/dihedrals.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const skipData = existsSync(join(DATA, 'aldp/train_300K.npy')) && existsSync(join(DATA, 'al3/al3.pdb')) ? false : 'reference data ../shared/data not present';

/** i = (1,0,0), j = origin, k = (0,0,1), l = (cos θ, sin θ, 1): the IUPAC dihedral is θ. */
function quadruple(theta: number): Float64Array {
  return Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1, Math.cos(theta), Math.sin(theta), 1]);
}

test('dihedral of hand-made quadruples: known angles and the IUPAC/mdtraj sign', () => {
  // Looking down j→k (+z), l rotated by +θ about +z appears clockwise from i: positive (IUPAC), as mdtraj.
  for (const theta of [Math.PI / 2, -Math.PI / 2, Math.PI / 3, -2.5, 0.1, 3.0]) {
    const got = dihedralAngle(quadruple(theta), 0, [0, 1, 2, 3]);
    assert.ok(Math.abs(got - theta) < 1e-14, `θ = ${theta}: got ${got}`);
  }
  // cis: l eclipses i → 0.
  assert.equal(dihedralAngle(Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1]), 0, [0, 1, 2, 3]), 0);
  // trans, exactly planar → +π.
  assert.equal(dihedralAngle(Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1, -1, 0, 1]), 0, [0, 1, 2, 3]), Math.PI);
  // −π + 1e-20 rounds to −π in float64 (atan2 returns −π); the result is kept in (−π, π] as +π.
  assert.equal(dihedralAngle(Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1, -1, -1e-20, 1]), 0, [0, 1, 2, 3]), Math.PI);
  // Bond lengths do not matter; reversing the quadruple keeps the angle; mirroring negates it.
  const x = Float64Array.from([2.5, 0, 0, 0, 0, 0, 0, 0, 0.3, 4 * Math.cos(1.2), 4 * Math.sin(1.2), 0.3 + 7]);
  assert.ok(Math.abs(dihedralAngle(x, 0, [0, 1, 2, 3]) - 1.2) < 1e-14);
  assert.ok(Math.abs(dihedralAngle(x, 0, [3, 2, 1, 0]) - 1.2) < 1e-14);
  assert.ok(Math.abs(dihedralAngle(x.map((v) => -v), 0, [0, 1, 2, 3]) + 1.2) < 1e-14);
});

test('dihedral is invariant under a rigid rotation and translation', () => {
  const x = quadruple(-0.7);
  const [c, s] = [Math.cos(0.9), Math.sin(0.9)];
  const y = new Float64Array(12);
  for (let a = 0; a < 4; a++) {
    const [px, py, pz] = [x[3 * a], x[3 * a + 1], x[3 * a + 2]];
    // rotation about the x axis by 0.9, then a shift
    y[3 * a] = px + 5;
    y[3 * a + 1] = c * py - s * pz - 2;
    y[3 * a + 2] = s * py + c * pz + 1;
  }
  assert.ok(Math.abs(dihedralAngle(y, 0, [0, 1, 2, 3]) + 0.7) < 1e-13);
});

test('batch dihedrals: layout [n, nQuads] and input validation', () => {
  const x = new Float64Array(24);
  x.set(quadruple(0.4), 0);
  x.set(quadruple(-1.1), 12);
  const out = dihedralAngles(x, 2, 4, [[0, 1, 2, 3], [3, 2, 1, 0]]);
  assert.equal(out.length, 4);
  [0.4, 0.4, -1.1, -1.1].forEach((v, i) => assert.ok(Math.abs(out[i] - v) < 1e-14));
  assert.throws(() => dihedralAngles(x, 3, 4, [[0, 1, 2, 3]]), /shape \[3, 12\] needs 36/);
  assert.throws(() => dihedralAngles(x, 2, 4, [[0, 1, 2, 4]]), /4 distinct integer indices in \[0, 4\)/);
  assert.throws(() => dihedralAngles(x, 2, 4, [[0, 1, 1, 3]]), /distinct/);
  const bad = x.slice();
  bad[13] = NaN;
  assert.throws(() => dihedralAngles(bad, 2, 4, [[0, 1, 2, 3]]), /rows 1/);
  assert.throws(() => peptideDihedrals('al4'), /known: aldp, al3/);
});

test('index sets name the right atoms in the PDB files', { skip: skipData }, () => {
  const expectNames = (pdbNames: string[], quad: readonly number[], pattern: RegExp[]): void => {
    quad.forEach((a, i) => assert.match(pdbNames[a], pattern[i], `atom ${a} (${pdbNames[a]}) of [${quad}]`));
  };
  const phi = [/^C$/, /^N$/, /^CA$/, /^C$/];
  const psi = [/^N$/, /^CA$/, /^C$/, /^N$/];
  const omega = [/^(CA|CH3)$/, /^C$/, /^N$/, /^(CA|CH3)$/];
  for (const name of ['aldp', 'al3'] as const) {
    const pdb = readPdb(join(DATA, name, `${name}.pdb`), { lengthScale: 0.1 });
    const names = pdb.atoms.map((a) => a.name);
    const set = PEPTIDE_DIHEDRALS[name];
    assert.equal(names.length, set.nAtoms);
    // Residue numbers in the PDB start at 1.
    for (const d of set.phi) {
      expectNames(names, d.atoms, phi);
      assert.equal(pdb.atoms[d.atoms[2]].resSeq, d.residue + 1);
    }
    for (const d of set.psi) {
      expectNames(names, d.atoms, psi);
      assert.equal(pdb.atoms[d.atoms[1]].resSeq, d.residue + 1);
    }
    for (const d of set.omega) {
      expectNames(names, d.atoms, omega);
      assert.equal(d.mdtraj, names[d.atoms[0]] === 'CA' && names[d.atoms[3]] === 'CA');
    }
    for (const p of set.ramachandran) {
      assert.equal(pdb.atoms[p.phi[2]].resSeq, p.residue + 1, 'φ of the pair belongs to the residue');
      assert.equal(pdb.atoms[p.psi[1]].resSeq, p.residue + 1, 'ψ of the pair belongs to the residue');
    }
    // tleap builds the extended chain: every backbone φ, ψ is trans (±π; we return +π or just below).
    for (const a of backboneAngles(name, pdb.models[0], 1)) assert.ok(Math.abs(Math.abs(a) - Math.PI) < 1e-3, `PDB angle ${a}`);
  }
});

test('ALDP 300 K: > 90 % of frames have φ < 0 (L-alanine), and the pairs match the backbone vector', { skip: skipData }, () => {
  const { data, shape } = readNpyFloat64(join(DATA, 'aldp/train_300K.npy'), { cols: 66 });
  const n = shape[0];
  const angles = backboneAngles('aldp', data, n);
  let negPhi = 0;
  for (let r = 0; r < n; r++) if (angles[2 * r] < 0) negPhi++;
  // Observed 97.6 %; a sign error in the convention would give ≈ 2.4 %.
  assert.ok(negPhi / n > 0.9, `φ < 0 in ${negPhi} of ${n} frames`);
  const [pair] = phiPsiPairs('aldp', data, n);
  assert.equal(pair.residue, 1);
  assert.deepEqual(pair.angles, angles);
});

test('AL3 349.96 K: per-residue pair is (φ₁, ψ₁), not the reference\'s (φ₁, ψ₀)', { skip: skipData }, () => {
  const { data, shape } = readNpyFloat64(join(DATA, 'al3/train_349.96K.npy'), { cols: 99 });
  const n = 500;
  const all = backboneAngles('al3', data.subarray(0, n * 99), n); // (φ₁, φ₂, ψ₀, ψ₁)
  const pairs = phiPsiPairs('al3', data.subarray(0, n * 99), n);
  assert.equal(shape[0], 10000);
  assert.deepEqual(pairs.map((p) => p.residue), [1]);
  for (let r = 0; r < n; r++) {
    assert.equal(pairs[0].angles[2 * r], all[4 * r]);
    assert.equal(pairs[0].angles[2 * r + 1], all[4 * r + 3]);
  }
  let negPhi = 0;
  for (let r = 0; r < n; r++) if (all[4 * r] < 0 && all[4 * r + 1] < 0) negPhi++;
  assert.ok(negPhi / n > 0.9, `both φ < 0 in ${negPhi} of ${n}`);
});
