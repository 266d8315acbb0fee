/**
 * Ramachandran histograms and the Ramachandran KL divergence ("Rama-KL").
 *
 * PITA's code has no Rama-KL (spec §3.5, §6 item 3); the default here is FAB's
 * definition (`fab/utils/aldp.py::evaluate_aldp`): a density-normalised 64×64
 * histogram of (φ, ψ) on [−π, π)², and
 *
 *   KL(ref‖gen) = Σ_bins p_ref · ln((p_ref + ε)/(p_gen + ε)) · (2π/bins)²,  ε = 1e-10,
 *
 * where p are densities (per rad²) and bins with p_ref = 0 contribute 0.
 * TA-BG's variant (100 bins on [0, 2π)²) is `bins: 100`: for an even bin count
 * the [0, 2π) grid is a cyclic shift of the [−π, π) grid (both have edges at 0
 * and ±π), so the value is the same.
 *
 * With ε = 1e-10 the value has a large finite-sample floor: a bin holding
 * reference mass but no generated sample costs (1/n_ref)·ln(p_ref/ε) ≈ 18/n_ref,
 * so two independent 10⁴-sample sets of the same ALDP distribution already
 * give ≈ 0.5. Compare values only at equal sample sizes.
 */
import { UserError } from '../core/errors.js';
import { checkRows } from './linalg.js';
import { phiPsiPairs } from './dihedrals.js';

const TWO_PI = 2 * Math.PI;

export interface RamachandranHistogramOptions {
  /** Bins per axis (default 64). */
  bins?: number;
}

export interface RamachandranKLOptions extends RamachandranHistogramOptions {
  /** Added to both densities inside the logarithm (default 1e-10, as FAB and TA-BG). */
  epsilon?: number;
  /**
   * 'reference-generated' (default): KL(ref‖gen), the forward KL of FAB and
   * TA-BG, weighting bins by the reference density, so missed modes cost
   * most. 'generated-reference': KL(gen‖ref).
   */
  direction?: 'reference-generated' | 'generated-reference';
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) throw new UserError(`Ramachandran histogram: bins must be a positive integer, got ${bins}`);
}

/**
 * Density-normalised 2-D histogram of angle pairs (φ, ψ) [n, 2] on [−π, π)².
 * Angles are wrapped into [−π, π) first (so π counts in the first bin, where
 * numpy's histogram2d on [−π, π] would use the last; a measure-zero
 * difference). Returns [bins, bins], entry (a, b) for φ-bin a and ψ-bin b,
 * equal to count/(n·binArea) so that Σ density·binArea = 1.
 */
export function ramachandranHistogram(angles: Float64Array, n: number, opts: RamachandranHistogramOptions = {}): Float64Array {
  const { bins = 64 } = opts;
  checkBins(bins);
  checkRows('Ramachandran angles', angles, n, 2);
  if (n === 0) throw new UserError('Ramachandran histogram: needs at least one (φ, ψ) pair, got 0');
  const width = TWO_PI / bins;
  const density = new Float64Array(bins * bins);
  const weight = 1 / (n * width * width);
  for (let r = 0; r < n; r++) {
    density[binOf(angles[2 * r], width, bins) * bins + binOf(angles[2 * r + 1], width, bins)] += weight;
  }
  return density;
}

function binOf(angle: number, width: number, bins: number): number {
  const shifted = angle + Math.PI;
  const wrapped = shifted - TWO_PI * Math.floor(shifted / TWO_PI); // [0, 2π]
  return Math.min(Math.floor(wrapped / width), bins - 1);
}

/**
 * Rama-KL between two sets of (φ, ψ) pairs, [nRef, 2] and [nGen, 2]; see the
 * module comment for the definition and options.
 */
export function ramachandranKL(
  refAngles: Float64Array,
  nRef: number,
  genAngles: Float64Array,
  nGen: number,
  opts: RamachandranKLOptions = {},
): number {
  const { bins = 64, epsilon = 1e-10, direction = 'reference-generated' } = opts;
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new UserError(`Rama-KL: epsilon must be finite and ≥ 0, got ${epsilon}`);
  if (direction !== 'reference-generated' && direction !== 'generated-reference') {
    throw new UserError(`Rama-KL: direction must be 'reference-generated' or 'generated-reference', got '${String(direction)}'`);
  }
  const ref = ramachandranHistogram(refAngles, nRef, { bins });
  const gen = ramachandranHistogram(genAngles, nGen, { bins });
  const [p, q] = direction === 'reference-generated' ? [ref, gen] : [gen, ref];
  const area = (TWO_PI / bins) ** 2;
  let kl = 0;
  for (let b = 0; b < p.length; b++) {
    if (p[b] > 0) kl += p[b] * Math.log((p[b] + epsilon) / (q[b] + epsilon));
  }
  return kl * area;
}

export interface PeptideRamachandranKL {
  /** One KL per residue that has both φ and ψ (see PEPTIDE_DIHEDRALS). */
  perResidue: { residue: number; kl: number }[];
  /** Mean over residues (ALDP and AL3 have one such residue each, so it equals that residue's KL). */
  mean: number;
}

/**
 * Rama-KL of a peptide from coordinates [nRef, 3·nAtoms] and [nGen, 3·nAtoms]:
 * per residue, φ and ψ of the same residue, then their mean.
 */
export function peptideRamachandranKL(
  name: string,
  refX: Float64Array,
  nRef: number,
  genX: Float64Array,
  nGen: number,
  opts: RamachandranKLOptions = {},
): PeptideRamachandranKL {
  const ref = phiPsiPairs(name, refX, nRef);
  const gen = phiPsiPairs(name, genX, nGen);
  const perResidue = ref.map((r, i) => ({ residue: r.residue, kl: ramachandranKL(r.angles, nRef, gen[i].angles, nGen, opts) }));
  const mean = perResidue.reduce((s, r) => s + r.kl, 0) / perResidue.length;
  return { perResidue, mean };
}
