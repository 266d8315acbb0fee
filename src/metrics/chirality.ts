/**
 * Chirality bookkeeping for peptide samples (docs/targets-and-metrics.md §2.5, §3.8; reference
 * `energy_utils.py`: find_chirality_centers, compute_chirality_sign,
 * check_symmetry_change).
 *
 * A generative model trained on mean-free coordinates can produce mirror
 * images (D-amino acids) with the same energy. Each chirality centre gets a
 * sign, the sign of the triple product of its first three bond vectors
 *
 *   s = sign( (x_a − x_c) · ((x_b − x_c) × (x_d − x_c)) ),
 *
 * for centre c and neighbours (a, b, d) = the first three of its neighbour
 * list, neighbours in ascending atom index (the order of the topology's bond
 * list for these PDBs). A sample "has wrong chirality" when any centre's sign
 * differs from the reference sample's (a zero triple product, a degenerate
 * centre, always differs).
 */
import { UserError } from '../core/errors.js';
import { checkRows, checkShape } from './linalg.js';

/** A chirality centre and its four bonded neighbours (ascending index). */
export interface ChiralityCentre {
  centre: number;
  neighbours: readonly [number, number, number, number];
}

/**
 * Chirality centres of the peptide targets: the Cα atoms.
 * ALDP: CA 8 bonded to N 6, HA 9, CB 10, C 14.
 * AL3: CA 4 (N 0, HA 5, CB 6, C 10), CA 14 (N 12, HA 15, CB 16, C 20),
 * CA 24 (N 22, HA 25, CB 26, C 30).
 * These equal `findChiralityCentres` on the PDB bond lists.
 */
export const PEPTIDE_CHIRALITY_CENTRES = {
  aldp: [{ centre: 8, neighbours: [6, 9, 10, 14] }],
  al3: [
    { centre: 4, neighbours: [0, 5, 6, 10] },
    { centre: 14, neighbours: [12, 15, 16, 20] },
    { centre: 24, neighbours: [22, 25, 26, 30] },
  ],
} as const satisfies Record<string, readonly ChiralityCentre[]>;

/** Chirality centres of a peptide target; throws a UserError naming the known ones otherwise. */
export function peptideChiralityCentres(name: string): readonly ChiralityCentre[] {
  if (!Object.hasOwn(PEPTIDE_CHIRALITY_CENTRES, name)) {
    throw new UserError(`no chirality centres defined for target '${name}'; known: ${Object.keys(PEPTIDE_CHIRALITY_CENTRES).join(', ')}`);
  }
  return PEPTIDE_CHIRALITY_CENTRES[name as keyof typeof PEPTIDE_CHIRALITY_CENTRES];
}

/**
 * Chirality centres from a topology: atoms with exactly 4 bonds, more than 2
 * of them to non-hydrogen atoms (the reference's rule; an atom with two or
 * more hydrogens is skipped because mirroring it is just a permutation of
 * identical atoms). `elements` are element symbols per atom ('H' = hydrogen).
 */
export function findChiralityCentres(bonds: readonly (readonly [number, number])[], elements: readonly string[]): ChiralityCentre[] {
  const nAtoms = elements.length;
  const neighbours: number[][] = Array.from({ length: nAtoms }, () => []);
  bonds.forEach(([i, j], b) => {
    const ok = Number.isInteger(i) && Number.isInteger(j) && i >= 0 && j >= 0 && i < nAtoms && j < nAtoms && i !== j;
    if (!ok) throw new UserError(`findChiralityCentres: bond ${b} is [${i}, ${j}]; need two distinct atom indices in [0, ${nAtoms})`);
    neighbours[i].push(j);
    neighbours[j].push(i);
  });
  const centres: ChiralityCentre[] = [];
  neighbours.forEach((list, c) => {
    if (list.length !== 4) return;
    const heavy = list.filter((a) => elements[a].toUpperCase() !== 'H').length;
    if (heavy > 2) {
      const [a, b, d, e] = [...list].sort((p, q) => p - q);
      centres.push({ centre: c, neighbours: [a, b, d, e] });
    }
  });
  return centres;
}

function checkCentres(centres: readonly ChiralityCentre[], nAtoms: number): void {
  if (centres.length === 0) throw new UserError('chirality: no chirality centres given');
  centres.forEach(({ centre, neighbours }, k) => {
    const atoms = [centre, ...neighbours];
    const ok = atoms.length === 5 && atoms.every((a) => Number.isInteger(a) && a >= 0 && a < nAtoms) && new Set(atoms).size === 5;
    if (!ok) throw new UserError(`chirality: centre ${k} has atoms [${atoms.join(', ')}]; need 5 distinct indices in [0, ${nAtoms})`);
  });
}

/** Signs (−1, 0 or +1) of every centre in every sample: x [n, 3·nAtoms] → Int8Array [n, centres.length]. */
export function chiralitySigns(x: Float64Array, n: number, nAtoms: number, centres: readonly ChiralityCentre[]): Int8Array {
  checkRows('chirality coordinates', x, n, 3 * nAtoms);
  checkCentres(centres, nAtoms);
  const m = centres.length;
  const signs = new Int8Array(n * m);
  const dim = 3 * nAtoms;
  for (let r = 0; r < n; r++) {
    centres.forEach(({ centre, neighbours: [a, b, d] }, k) => {
      const o = r * dim;
      const c = o + 3 * centre;
      const ux = x[o + 3 * a] - x[c];
      const uy = x[o + 3 * a + 1] - x[c + 1];
      const uz = x[o + 3 * a + 2] - x[c + 2];
      const vx = x[o + 3 * b] - x[c];
      const vy = x[o + 3 * b + 1] - x[c + 1];
      const vz = x[o + 3 * b + 2] - x[c + 2];
      const wx = x[o + 3 * d] - x[c];
      const wy = x[o + 3 * d + 1] - x[c + 1];
      const wz = x[o + 3 * d + 2] - x[c + 2];
      const triple = ux * (vy * wz - vz * wy) + uy * (vz * wx - vx * wz) + uz * (vx * wy - vy * wx);
      signs[r * m + k] = Math.sign(triple);
    });
  }
  return signs;
}

/** Reference chirality: the signs of one reference sample. */
export interface ChiralityReference {
  nAtoms: number;
  centres: readonly ChiralityCentre[];
  /** One sign per centre, each ±1. */
  signs: Int8Array;
}

/**
 * Reference signs from row `row` (default 0) of reference samples
 * [n, 3·nAtoms]. The reference code uses row 1 of a random draw; any
 * well-formed reference sample gives the same signs. Throws if a centre of
 * that sample is degenerate (zero triple product).
 */
export function chiralityReference(
  refX: Float64Array,
  n: number,
  nAtoms: number,
  centres: readonly ChiralityCentre[],
  row = 0,
): ChiralityReference {
  checkShape('chirality reference samples', refX, n, 3 * nAtoms);
  if (!Number.isInteger(row) || row < 0 || row >= n) throw new UserError(`chirality reference: row ${row} is outside the ${n} reference samples`);
  const dim = 3 * nAtoms;
  const signs = chiralitySigns(refX.subarray(row * dim, (row + 1) * dim), 1, nAtoms, centres);
  const flat = signs.indexOf(0);
  if (flat >= 0) throw new UserError(`chirality reference: centre atom ${centres[flat].centre} of reference row ${row} is degenerate (zero triple product)`);
  return { nAtoms, centres, signs };
}

/** Per sample: true when every centre's sign equals the reference sign. x [n, 3·nAtoms] → Uint8Array [n] of 0/1. */
export function checkChirality(ref: ChiralityReference, x: Float64Array, n: number): Uint8Array {
  const signs = chiralitySigns(x, n, ref.nAtoms, ref.centres);
  const m = ref.centres.length;
  const ok = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    let same = 1;
    for (let k = 0; k < m; k++) if (signs[r * m + k] !== ref.signs[k]) same = 0;
    ok[r] = same;
  }
  return ok;
}

export interface ChiralityFixResult {
  /** The kept samples [kept.length, 3·nAtoms], mirrored where needed. */
  samples: Float64Array;
  /** Indices into the input of the kept samples, ascending. */
  kept: Int32Array;
  /** Per input sample, 1 if it was mirrored (x → −x). */
  mirrored: Uint8Array;
  /** Fraction of input samples whose chirality was right as given (no change needed). */
  correctRate: number;
  /**
   * Fraction of input samples still wrong after mirroring (mode 'mirror'):
   * some centres right and some wrong, which no global mirror fixes. In mode
   * 'discard' it is the same quantity (computed, not applied), so the two
   * modes report the same rates and differ only in what they keep.
   */
  uncorrectableRate: number;
}

/**
 * Fixes the chirality of samples x [n, 3·nAtoms] (reference
 * `check_symmetry_change` plus mirroring):
 * - mode 'mirror' (default, the reference's behaviour): samples with wrong
 *   chirality are mirrored (every coordinate negated); those still wrong
 *   after mirroring are discarded;
 * - mode 'discard': samples with wrong chirality are discarded unchanged.
 * The rates are fractions of n (0 for n = 0). The input is not modified.
 */
export function fixChirality(ref: ChiralityReference, x: Float64Array, n: number, mode: 'mirror' | 'discard' = 'mirror'): ChiralityFixResult {
  if (mode !== 'mirror' && mode !== 'discard') throw new UserError(`fixChirality: mode must be 'mirror' or 'discard', got '${String(mode)}'`);
  const dim = 3 * ref.nAtoms;
  const okAsGiven = checkChirality(ref, x, n);
  const flipped = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) flipped[i] = -x[i];
  const okMirrored = checkChirality(ref, flipped, n);
  const kept: number[] = [];
  const mirrored = new Uint8Array(n);
  let nCorrect = 0;
  let nUncorrectable = 0;
  for (let r = 0; r < n; r++) {
    if (okAsGiven[r]) {
      nCorrect++;
      kept.push(r);
      continue;
    }
    if (!okMirrored[r]) nUncorrectable++;
    else if (mode === 'mirror') {
      mirrored[r] = 1;
      kept.push(r);
    }
  }
  const samples = new Float64Array(kept.length * dim);
  kept.forEach((r, i) => samples.set((mirrored[r] ? flipped : x).subarray(r * dim, (r + 1) * dim), i * dim));
  return {
    samples,
    kept: Int32Array.from(kept),
    mirrored,
    correctRate: n === 0 ? 0 : nCorrect / n,
    uncorrectableRate: n === 0 ? 0 : nUncorrectable / n,
  };
}
