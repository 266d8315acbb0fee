/**
 * Dihedral (torsion) angles and the backbone dihedral index sets of the
 * peptide targets. Coordinates are row-major Float64Array [n, 3·nAtoms],
 * atom-major (x0, y0, z0, x1, …), in nm; angles are radians in (−π, π].
 */
import { UserError } from '../core/errors.js';
import { checkRows } from './linalg.js';

/** Four atom indices (i, j, k, l) defining the dihedral about the bond j–k. */
export type Quad = readonly [number, number, number, number];

/**
 * Dihedral angle of atoms (i, j, k, l) in one configuration, with the IUPAC
 * sign convention that mdtraj's `compute_dihedrals` uses:
 *
 *   b1 = x_j − x_i,  b2 = x_k − x_j,  b3 = x_l − x_k,
 *   angle = atan2( |b2|·b1·(b2 × b3),  (b1 × b2)·(b2 × b3) ).
 *
 * Looking along j → k, the angle is positive when the bond k→l is turned
 * clockwise from the bond j→i; cis (i and l eclipsed) is 0, trans is π.
 * atan2 can return −π for an exactly planar trans quadruple; that is mapped
 * to +π so the range is (−π, π]. A degenerate quadruple (collinear atoms)
 * yields atan2(0, 0) = 0.
 *
 * `x` holds the configuration's atom coordinates starting at `offset`.
 */
export function dihedralAngle(x: ArrayLike<number>, offset: number, quad: Quad): number {
  const [i, j, k, l] = quad;
  const oi = offset + 3 * i;
  const oj = offset + 3 * j;
  const ok = offset + 3 * k;
  const ol = offset + 3 * l;
  const b1x = x[oj] - x[oi];
  const b1y = x[oj + 1] - x[oi + 1];
  const b1z = x[oj + 2] - x[oi + 2];
  const b2x = x[ok] - x[oj];
  const b2y = x[ok + 1] - x[oj + 1];
  const b2z = x[ok + 2] - x[oj + 2];
  const b3x = x[ol] - x[ok];
  const b3y = x[ol + 1] - x[ok + 1];
  const b3z = x[ol + 2] - x[ok + 2];
  // c1 = b2 × b3, c2 = b1 × b2
  const c1x = b2y * b3z - b2z * b3y;
  const c1y = b2z * b3x - b2x * b3z;
  const c1z = b2x * b3y - b2y * b3x;
  const c2x = b1y * b2z - b1z * b2y;
  const c2y = b1z * b2x - b1x * b2z;
  const c2z = b1x * b2y - b1y * b2x;
  const p1 = (b1x * c1x + b1y * c1y + b1z * c1z) * Math.sqrt(b2x * b2x + b2y * b2y + b2z * b2z);
  const p2 = c1x * c2x + c1y * c2y + c1z * c2z;
  const angle = Math.atan2(p1, p2);
  return angle === -Math.PI ? Math.PI : angle;
}

/** Throws unless every quadruple has four distinct integer atom indices below nAtoms. */
export function checkQuads(what: string, quads: readonly Quad[], nAtoms: number): void {
  quads.forEach((q, qi) => {
    const ok = q.length === 4 && q.every((a) => Number.isInteger(a) && a >= 0 && a < nAtoms) && new Set(q).size === 4;
    if (!ok) throw new UserError(`${what}: dihedral ${qi} has atoms [${q.join(', ')}]; need 4 distinct integer indices in [0, ${nAtoms})`);
  });
}

/**
 * Dihedral angles of every quadruple in every configuration:
 * x [n, 3·nAtoms] → Float64Array [n, quads.length] (row r, column q = angle of quads[q] in configuration r).
 */
export function dihedralAngles(x: Float64Array, n: number, nAtoms: number, quads: readonly Quad[]): Float64Array {
  if (!Number.isInteger(nAtoms) || nAtoms < 4) throw new UserError(`dihedralAngles: nAtoms must be an integer ≥ 4, got ${nAtoms}`);
  checkRows('dihedralAngles coordinates', x, n, 3 * nAtoms);
  checkQuads('dihedralAngles', quads, nAtoms);
  const m = quads.length;
  const out = new Float64Array(n * m);
  const dim = 3 * nAtoms;
  for (let r = 0; r < n; r++) {
    for (let q = 0; q < m; q++) out[r * m + q] = dihedralAngle(x, r * dim, quads[q]);
  }
  return out;
}

/** A backbone dihedral belonging to one residue (residues numbered from 0 in atom order). */
export interface ResidueDihedral {
  residue: number;
  atoms: Quad;
}

/** φ and ψ of the same residue: one Ramachandran pair. */
export interface RamachandranPair {
  residue: number;
  phi: Quad;
  psi: Quad;
}

/** An ω (peptide-bond) dihedral CA(i)–C(i)–N(i+1)–CA(i+1) between residues i and i+1. */
export interface OmegaDihedral {
  /** Residue i: the bond joins residue i to residue i+1. */
  residue: number;
  atoms: Quad;
  /**
   * Whether mdtraj's `compute_omega` finds it. mdtraj matches atom names
   * CA, C, N, CA, so a bond to a cap (ACE's or NME's methyl carbon, named CH3,
   * not CA) is not found there; such ω use the methyl carbon in place of CA.
   */
  mdtraj: boolean;
}

/** Backbone dihedral index sets of one peptide, as mdtraj finds them on the PDB topology. */
export interface PeptideDihedralSet {
  nAtoms: number;
  /** φ = C(i−1)–N(i)–CA(i)–C(i), in residue order. */
  phi: readonly ResidueDihedral[];
  /** ψ = N(i)–CA(i)–C(i)–N(i+1), in residue order. */
  psi: readonly ResidueDihedral[];
  omega: readonly OmegaDihedral[];
  /** Residues that have both φ and ψ, each pairing φ and ψ of that same residue. */
  ramachandran: readonly RamachandranPair[];
}

/**
 * Atom orders (docs/targets-and-metrics.md §2.5, confirmed against the PDB files):
 *
 * ALDP (22 atoms; residues ACE 0, ALA 1, NME 2):
 *   ACE 0–5 HH31 CH3 HH32 HH33 C O; ALA 6–15 N H CA HA CB HB1 HB2 HB3 C O;
 *   NME 16–21 N H CH3 HH31 HH32 HH33.
 *   φ₁ = (4, 6, 8, 14), ψ₁ = (6, 8, 14, 16); ω across ACE–ALA (1, 4, 6, 8) and
 *   ALA–NME (8, 14, 16, 18), both through cap methyls, so mdtraj finds no ω.
 *
 * AL3 (33 atoms; zwitterion NALA 0, ALA 1, CALA 2):
 *   NALA 0–11 N H1 H2 H3 CA HA CB HB1–3 C O; ALA 12–21 N H CA HA CB HB1–3 C O;
 *   CALA 22–32 N H CA HA CB HB1–3 C O OXT.
 *   φ₁ = (10, 12, 14, 20), φ₂ = (20, 22, 24, 30); ψ₀ = (0, 4, 10, 12),
 *   ψ₁ = (12, 14, 20, 22); ω₀ = (4, 10, 12, 14), ω₁ = (14, 20, 22, 24).
 *   Only residue 1 has both φ and ψ (residue 0 has no preceding C, residue 2
 *   no following N), so AL3 has one Ramachandran pair (φ₁, ψ₁). The reference
 *   code plots phis[:, i] against psis[:, i], i.e. φ of residue i+1 against ψ
 *   of residue i (φ₁ with ψ₀, φ₂ with ψ₁): a residue mismatch that we do not
 *   reproduce.
 */
export const PEPTIDE_DIHEDRALS = {
  aldp: {
    nAtoms: 22,
    phi: [{ residue: 1, atoms: [4, 6, 8, 14] }],
    psi: [{ residue: 1, atoms: [6, 8, 14, 16] }],
    omega: [
      { residue: 0, atoms: [1, 4, 6, 8], mdtraj: false },
      { residue: 1, atoms: [8, 14, 16, 18], mdtraj: false },
    ],
    ramachandran: [{ residue: 1, phi: [4, 6, 8, 14], psi: [6, 8, 14, 16] }],
  },
  al3: {
    nAtoms: 33,
    phi: [
      { residue: 1, atoms: [10, 12, 14, 20] },
      { residue: 2, atoms: [20, 22, 24, 30] },
    ],
    psi: [
      { residue: 0, atoms: [0, 4, 10, 12] },
      { residue: 1, atoms: [12, 14, 20, 22] },
    ],
    omega: [
      { residue: 0, atoms: [4, 10, 12, 14], mdtraj: true },
      { residue: 1, atoms: [14, 20, 22, 24], mdtraj: true },
    ],
    ramachandran: [{ residue: 1, phi: [10, 12, 14, 20], psi: [12, 14, 20, 22] }],
  },
} as const satisfies Record<string, PeptideDihedralSet>;

/** Names of the peptides with known dihedral sets. */
export type PeptideName = keyof typeof PEPTIDE_DIHEDRALS;

/** The dihedral set of a peptide target; throws a UserError naming the known ones otherwise. */
export function peptideDihedrals(name: string): PeptideDihedralSet {
  if (!Object.hasOwn(PEPTIDE_DIHEDRALS, name)) {
    throw new UserError(`no peptide dihedral definitions for target '${name}'; known: ${Object.keys(PEPTIDE_DIHEDRALS).join(', ')}`);
  }
  return PEPTIDE_DIHEDRALS[name as PeptideName];
}

/**
 * The reference's backbone vector per configuration: all φ then all ψ, in the
 * order of the tables above. x [n, 3·nAtoms] → [n, nφ + nψ]:
 * ALDP (φ₁, ψ₁), AL3 (φ₁, φ₂, ψ₀, ψ₁). This is the input of the dihedral
 * W1/W2/MMD and torus-W2 metrics (docs/targets-and-metrics.md §3.5).
 */
export function backboneAngles(name: string, x: Float64Array, n: number): Float64Array {
  const set = peptideDihedrals(name);
  const quads = [...set.phi, ...set.psi].map((d) => d.atoms);
  return dihedralAngles(x, n, set.nAtoms, quads);
}

/** Per-sample (φ, ψ) of one residue: angles [n, 2], columns φ then ψ. */
export interface ResiduePhiPsi {
  residue: number;
  angles: Float64Array;
}

/** (φ, ψ) of every residue that has both, each pair taken from the same residue. */
export function phiPsiPairs(name: string, x: Float64Array, n: number): ResiduePhiPsi[] {
  const set = peptideDihedrals(name);
  return set.ramachandran.map((pair) => ({
    residue: pair.residue,
    angles: dihedralAngles(x, n, set.nAtoms, [pair.phi, pair.psi]),
  }));
}
