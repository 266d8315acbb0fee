/**
 * Starting coordinates for a built-in peptide from a PDB file. Atoms must
 * come in the topology's order with its residue and atom names (tleap/PDB
 * spelling, or OpenMM's renamed spelling, see ALIASES); anything else is a
 * clear error naming the atom, instead of silently scrambled coordinates.
 */
import { UserError } from '../core/errors.js';
import { readPdb } from '../io/trajectory.js';
import type { PeptideTopology } from './peptides.js';

/** OpenMM's renamings on reading (terminal residue names, cap hydrogens) mapped back to the PDB spelling. */
const RESIDUE_ALIASES: Record<string, string> = { NALA: 'ALA', CALA: 'ALA' };
const ATOM_ALIASES: Record<string, Record<string, string>> = {
  ACE: { H1: 'HH31', H2: 'HH32', H3: 'HH33', C1: 'CH3' },
  NME: { H1: 'HH31', H2: 'HH32', H3: 'HH33', C: 'CH3' },
};

/** Positions (nm, [3N] atom-major) of the first model of `path`, checked against `topology`. */
export function positionsFromPdb(path: string, topology: PeptideTopology): Float64Array {
  const pdb = readPdb(path, { lengthScale: 0.1 }); // Å → nm
  const n = topology.nAtoms;
  if (pdb.atoms.length !== n) {
    throw new UserError(`${path} has ${pdb.atoms.length} atoms; target ${topology.name} has ${n} (${topology.residues.map((r) => r.name).join('-')})`);
  }
  const knownResidues = new Set(topology.residues.map((r) => r.name));
  for (let i = 0; i < n; i++) {
    const atom = pdb.atoms[i];
    const residue = topology.residues[topology.atomResidueIndex[i]];
    const resName = RESIDUE_ALIASES[atom.resName] ?? atom.resName;
    if (!knownResidues.has(resName)) {
      throw new UserError(`${path}, atom ${i + 1} ('${atom.name}'): unknown residue '${atom.resName}'; target ${topology.name} has residues ${[...knownResidues].join(', ')}`);
    }
    if (resName !== residue.name) {
      throw new UserError(`${path}, atom ${i + 1} ('${atom.name}'): residue '${atom.resName}' where target ${topology.name} has '${residue.name}' (atoms must be in the topology's order)`);
    }
    const name = ATOM_ALIASES[resName]?.[atom.name] ?? atom.name;
    if (name !== topology.atomNames[i]) {
      const inResidue = residue.atoms.map((a) => topology.atomNames[a]);
      const what = inResidue.includes(name) ? 'out of order' : `an unknown atom name in residue ${residue.name} (its atoms: ${inResidue.join(' ')})`;
      throw new UserError(`${path}, atom ${i + 1}: '${atom.name}' is ${what}; expected '${topology.atomNames[i]}' at this position`);
    }
  }
  return pdb.models[0];
}
