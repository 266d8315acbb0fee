import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/core/errors.js';
import { loadPeptide } from '../../src/forcefield/peptides.js';
import { positionsFromPdb } from '../../src/forcefield/pdb-input.js';
import { formatPdb } from '../../src/io/trajectory.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-pdb-'));
const { topology } = loadPeptide('aldp');

/** The built ALDP structure as PDB text (Å), with optional per-atom overrides. */
function aldpPdb(edit: (names: string[], resNames: string[]) => void = () => {}): string {
  const names = [...topology.atomNames];
  const resNames = topology.atomResidueIndex.map((r) => topology.residues[r].name);
  edit(names, resNames);
  return formatPdb(topology.positions, topology.nAtoms, {
    names,
    resNames,
    resSeqs: topology.atomResidueIndex.map((r) => r + 1),
    elements: topology.elements,
    lengthScale: 10,
  });
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('a PDB in topology order round-trips the coordinates (Å → nm)', () => {
  const x = positionsFromPdb(write('ok.pdb', aldpPdb()), topology);
  assert.equal(x.length, 66);
  for (let i = 0; i < 66; i++) assert.ok(Math.abs(x[i] - topology.positions[i]) < 6e-4, `coordinate ${i}`); // PDB keeps 3 decimals in Å
});

test("OpenMM's renamed cap hydrogens (ACE H1/H2/H3) are accepted", () => {
  const x = positionsFromPdb(write('openmm.pdb', aldpPdb((n) => { n[0] = 'H1'; n[2] = 'H2'; n[3] = 'H3'; })), topology);
  assert.equal(x.length, 66);
});

test('an unknown residue name is rejected, naming the atom and the residues', () => {
  const p = write('gly.pdb', aldpPdb((_n, r) => { for (let i = 6; i < 16; i++) r[i] = 'GLY'; }));
  assert.throws(() => positionsFromPdb(p, topology), (e: Error) => e instanceof UserError && /atom 7 \('N'\): unknown residue 'GLY'; target aldp has residues ACE, ALA, NME/.test(e.message));
});

test('an unknown atom name is rejected with the residue atoms listed', () => {
  const p = write('hbx.pdb', aldpPdb((n) => { n[12] = 'HBX'; }));
  assert.throws(() => positionsFromPdb(p, topology), /atom 13: 'HBX' is an unknown atom name in residue ALA \(its atoms: N H CA HA CB HB1 HB2 HB3 C O\); expected 'HB2'/);
});

test('swapped atoms are reported as out of order', () => {
  const p = write('swap.pdb', aldpPdb((n) => { [n[11], n[12]] = [n[12], n[11]]; }));
  assert.throws(() => positionsFromPdb(p, topology), /atom 12: 'HB2' is out of order; expected 'HB1'/);
});

test('a mismatched atom count is rejected', () => {
  const lines = aldpPdb().split('\n').filter((l) => !/^ATOM.{8}HH33 ACE/.test(l));
  const p = write('short.pdb', lines.join('\n'));
  assert.throws(() => positionsFromPdb(p, topology), /has 21 atoms; target aldp has 22 \(ACE-ALA-NME\)/);
});
