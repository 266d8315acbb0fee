#!/usr/bin/env python3
"""Builds the force-field data of the built-in peptide targets from scratch.

For each peptide (aldp: capped ACE-ALA-NME, 22 atoms; al3: zwitterionic NALA-ALA-CALA,
33 atoms; atom orders as in the Amber residue templates) this script
  1. places every atom with an internal-coordinate (z-matrix) builder: standard bond lengths
     and angles, trans peptide bonds, backbone (phi, psi) = (-70, 135) degrees, L-alanine,
     staggered methyl groups;
  2. builds the OpenMM System exactly as PITA does:
     ForceField('amber14-all.xml', 'implicit/obc1.xml').createSystem(topology,
         nonbondedMethod=CutoffNonPeriodic, nonbondedCutoff=2.0 nm, constraints=None);
  3. relaxes the built geometry with OpenMM's L-BFGS minimiser (Reference platform);
  4. writes src/forcefield/data/<name>/system.xml (XmlSerializer output) and
     src/forcefield/data/<name>/topology.json (atom names, elements, residues, bonds, minimised
     positions in nm and their OpenMM energy in kJ/mol).

Run with the Debian OpenMM 7.7 bindings (package python3-simtk):
    /usr/bin/python3 scripts/build-peptide-systems.py
"""
import json
import math
import os

import numpy as np
import openmm as mm
import openmm.app as app
import openmm.unit as unit

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'forcefield', 'data')

# Standard geometry (nm, degrees), Amber/Engh-Huber-like values.
B = {'C-N': 0.1335, 'N-CA': 0.1449, 'CA-C': 0.1522, 'C-O': 0.1229, 'CA-CB': 0.1526, 'C-H': 0.109,
     'N-H': 0.101, 'N-CH3': 0.1449, 'CH3-C': 0.1522, 'C-OXT': 0.125, 'C-O-': 0.125}
PHI, PSI, OMEGA = -70.0, 135.0, 180.0
TET = 109.47


def place(a, b, c, bond, angle, dihedral):
    """Point d with |cd| = bond, angle(b, c, d) = angle and IUPAC dihedral(a, b, c, d) = dihedral (NeRF)."""
    angle, dihedral = math.radians(angle), math.radians(dihedral)
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d2 = np.array([-bond * math.cos(angle), bond * math.sin(angle) * math.cos(dihedral), bond * math.sin(angle) * math.sin(dihedral)])
    return c + d2[0] * bc + d2[1] * m + d2[2] * n


class Builder:
    """Positions by key (residue index, atom name), each atom placed from three earlier ones."""

    def __init__(self, k1, k2, k3, b12, b23, angle123):
        """Seeds three atoms: k1 at the origin, k2 on +x, k3 in the xy-plane."""
        self.pos = {k1: np.zeros(3), k2: np.array([b12, 0.0, 0.0])}
        t = math.radians(angle123)
        self.pos[k3] = self.pos[k2] + b23 * np.array([-math.cos(t), math.sin(t), 0.0])

    def put(self, key, refs, bond, angle, dihedral):
        a, b, c = (self.pos[r] for r in refs)
        self.pos[key] = place(a, b, c, bond, angle, dihedral)


def next_residue_backbone(bld, r, prev_n, prev_ca, prev_c, psi_prev=PSI):
    """N, CA, C of residue r from the previous residue's N (or equivalent), CA (or CH3) and C."""
    bld.put((r, 'N'), [prev_n, prev_ca, prev_c], B['C-N'], 116.6, psi_prev)
    bld.put((r, 'CA'), [prev_ca, prev_c, (r, 'N')], B['N-CA'], 121.9, OMEGA)
    bld.put((r, 'C'), [prev_c, (r, 'N'), (r, 'CA')], B['CA-C'], 110.4, PHI)


def alanine_side(bld, r, amide_h_from=None):
    """CB, HA and methyl hydrogens of L-alanine r; the amide H (trans to CA) when the previous C is given."""
    bld.put((r, 'CB'), [(r, 'N'), (r, 'C'), (r, 'CA')], B['CA-CB'], 110.9, 122.7)
    bld.put((r, 'HA'), [(r, 'N'), (r, 'C'), (r, 'CA')], B['C-H'], 109.5, -118.0)
    for k, dih in enumerate((60.0, 180.0, -60.0)):
        bld.put((r, 'HB%d' % (k + 1)), [(r, 'N'), (r, 'CA'), (r, 'CB')], B['C-H'], 110.0, dih)
    if amide_h_from is not None:
        bld.put((r, 'H'), [(r, 'CA'), amide_h_from, (r, 'N')], B['N-H'], 119.8, 180.0)


def carbonyl_o(bld, r, next_n):
    """Carbonyl O of residue r, in the peptide plane, trans to the next N."""
    bld.put((r, 'O'), [next_n, (r, 'CA'), (r, 'C')], B['C-O'], 120.5, 180.0)


def alanine_bonds(r, amide_h=True):
    hs = [((r, 'N'), (r, 'H'))] if amide_h else []
    return hs + [((r, 'N'), (r, 'CA')), ((r, 'CA'), (r, 'HA')), ((r, 'CA'), (r, 'CB')), ((r, 'CA'), (r, 'C')),
                 ((r, 'CB'), (r, 'HB1')), ((r, 'CB'), (r, 'HB2')), ((r, 'CB'), (r, 'HB3')), ((r, 'C'), (r, 'O'))]


def build_aldp():
    # ACE's CH3 and C take the roles of CA and C; its O seeds the first dihedral.
    bld = Builder((0, 'CH3'), (0, 'C'), (0, 'O'), B['CH3-C'], B['C-O'], 120.5)
    bld.put((1, 'N'), [(0, 'O'), (0, 'CH3'), (0, 'C')], B['C-N'], 116.6, 180.0)
    bld.put((1, 'CA'), [(0, 'CH3'), (0, 'C'), (1, 'N')], B['N-CA'], 121.9, OMEGA)
    bld.put((1, 'C'), [(0, 'C'), (1, 'N'), (1, 'CA')], B['CA-C'], 110.4, PHI)
    alanine_side(bld, 1, amide_h_from=(0, 'C'))
    bld.put((2, 'N'), [(1, 'N'), (1, 'CA'), (1, 'C')], B['C-N'], 116.6, PSI)
    bld.put((2, 'CH3'), [(1, 'CA'), (1, 'C'), (2, 'N')], B['N-CH3'], 121.9, OMEGA)
    bld.put((2, 'H'), [(2, 'CH3'), (1, 'C'), (2, 'N')], B['N-H'], 119.8, 180.0)
    carbonyl_o(bld, 1, (2, 'N'))
    for k, dih in enumerate((60.0, 180.0, -60.0)):
        bld.put((0, 'HH3%d' % (k + 1)), [(0, 'O'), (0, 'C'), (0, 'CH3')], B['C-H'], 109.5, dih)
        bld.put((2, 'HH3%d' % (k + 1)), [(1, 'C'), (2, 'N'), (2, 'CH3')], B['C-H'], 109.5, dih)
    residues = [
        ('ACE', ['HH31', 'CH3', 'HH32', 'HH33', 'C', 'O']),
        ('ALA', ['N', 'H', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O']),
        ('NME', ['N', 'H', 'CH3', 'HH31', 'HH32', 'HH33']),
    ]
    bonds = [
        ((0, 'HH31'), (0, 'CH3')), ((0, 'CH3'), (0, 'HH32')), ((0, 'CH3'), (0, 'HH33')), ((0, 'CH3'), (0, 'C')), ((0, 'C'), (0, 'O')),
        ((0, 'C'), (1, 'N')),
    ] + alanine_bonds(1) + [
        ((1, 'C'), (2, 'N')),
        ((2, 'N'), (2, 'H')), ((2, 'N'), (2, 'CH3')), ((2, 'CH3'), (2, 'HH31')), ((2, 'CH3'), (2, 'HH32')), ((2, 'CH3'), (2, 'HH33')),
    ]
    return residues, bonds, bld.pos


def build_al3():
    bld = Builder((0, 'N'), (0, 'CA'), (0, 'C'), B['N-CA'], B['CA-C'], 110.4)
    next_residue_backbone(bld, 1, (0, 'N'), (0, 'CA'), (0, 'C'))
    next_residue_backbone(bld, 2, (1, 'N'), (1, 'CA'), (1, 'C'))
    alanine_side(bld, 0)
    alanine_side(bld, 1, amide_h_from=(0, 'C'))
    alanine_side(bld, 2, amide_h_from=(1, 'C'))
    for k, dih in enumerate((60.0, 180.0, -60.0)):
        bld.put((0, 'H%d' % (k + 1)), [(0, 'C'), (0, 'CA'), (0, 'N')], B['N-H'], 109.5, dih)
    carbonyl_o(bld, 0, (1, 'N'))
    carbonyl_o(bld, 1, (2, 'N'))
    # C-terminal carboxylate: both oxygens in the N-CA-C plane continuation, 180 degrees apart.
    bld.put((2, 'O'), [(2, 'N'), (2, 'CA'), (2, 'C')], B['C-O-'], 117.0, PSI - 180.0)
    bld.put((2, 'OXT'), [(2, 'N'), (2, 'CA'), (2, 'C')], B['C-OXT'], 117.0, PSI)
    residues = [
        ('ALA', ['N', 'H1', 'H2', 'H3', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O']),
        ('ALA', ['N', 'H', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O']),
        ('ALA', ['N', 'H', 'CA', 'HA', 'CB', 'HB1', 'HB2', 'HB3', 'C', 'O', 'OXT']),
    ]
    nterm = [((0, 'N'), (0, 'H%d' % k)) for k in (1, 2, 3)]
    bonds = nterm + alanine_bonds(0, amide_h=False) + [((0, 'C'), (1, 'N'))] + alanine_bonds(1) + [((1, 'C'), (2, 'N'))] + alanine_bonds(2) + [((2, 'C'), (2, 'OXT'))]
    return residues, bonds, bld.pos


ELEMENTS = {'H': app.element.hydrogen, 'C': app.element.carbon, 'N': app.element.nitrogen, 'O': app.element.oxygen}


def make(name, description, builder):
    residues, bonds, pos = builder()
    top = app.Topology()
    chain = top.addChain()
    atoms, keys = {}, []
    for r, (rname, names) in enumerate(residues):
        res = top.addResidue(rname, chain)
        for a in names:
            atoms[(r, a)] = top.addAtom(a, ELEMENTS[a[0]], res)
            keys.append((r, a))
    for a, b in bonds:
        top.addBond(atoms[a], atoms[b])
    positions = np.array([pos[k] for k in keys])

    ff = app.ForceField('amber14-all.xml', 'implicit/obc1.xml')
    system = ff.createSystem(top, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=2.0 * unit.nanometer, constraints=None)
    context = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName('Reference'))
    context.setPositions(positions)
    built_energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    mm.LocalEnergyMinimizer.minimize(context, 1.0, 0)
    minimised = context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    # Store 1e-6 nm precision and record the energy of exactly the stored coordinates.
    stored = [[round(float(v), 6) for v in p] for p in minimised]
    context.setPositions(stored)
    energy = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)

    index = {k: i for i, k in enumerate(keys)}
    topology = {
        'name': name,
        'description': description,
        'generator': 'scripts/build-peptide-systems.py',
        'openmm_version': mm.__version__,
        'forcefield': ['amber14-all.xml', 'implicit/obc1.xml'],
        'create_system': {'nonbondedMethod': 'CutoffNonPeriodic', 'nonbondedCutoff_nm': 2.0, 'constraints': None},
        'units': {'positions': 'nm', 'energy': 'kJ/mol'},
        'n_atoms': len(keys),
        'atom_names': [a for _, a in keys],
        'elements': [a[0] for _, a in keys],
        'atom_residue_index': [r for r, _ in keys],
        'residues': [{'index': r, 'name': rname, 'atoms': [index[(r, a)] for a in names]} for r, (rname, names) in enumerate(residues)],
        'bonds': sorted(sorted((index[a], index[b])) for a, b in bonds),
        'positions': stored,
        'energy_built': built_energy,
        'energy': energy,
    }
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'system.xml'), 'w') as fh:
        fh.write(mm.XmlSerializer.serialize(system))
    with open(os.path.join(folder, 'topology.json'), 'w') as fh:
        fh.write('{\n' + ',\n'.join(' %s: %s' % (json.dumps(k), json.dumps(v)) for k, v in topology.items()) + '\n}\n')
    print('%s: %d atoms, built %.2f kJ/mol, minimised %.2f kJ/mol -> %s' % (name, len(keys), built_energy, energy, os.path.normpath(folder)))


if __name__ == '__main__':
    make('aldp', 'alanine dipeptide ACE-ALA-NME (capped), amber14 + GB-OBC1', build_aldp)
    make('al3', 'alanine tripeptide NH3+-ALA-ALA-ALA-COO- (zwitterion, amber14 NALA/ALA/CALA), amber14 + GB-OBC1', build_al3)
